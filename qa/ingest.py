"""Read a folder of articles: decode, find title and date, split into sentences with offsets.

Offsets always point into the decoded original text (`Article.text`), so a citation can be checked
against the file and highlighted in place; white space is only normalised in the copies we embed.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

from qa.errors import UsageError
from qa.sentences import Sentence, split_sentences

ARTICLE_SUFFIXES = (".txt", ".md")
MAX_ARTICLE_BYTES = 20 * 1024 * 1024
_FALLBACK_ENCODINGS = ("cp1252", "latin-1")

_MONTHS = {
    m: i
    for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)
}
_MONTH_RE = r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
# Each pattern yields (year, month, day) groups by name; tried in order on the article's first lines.
_DATE_PATTERNS = (
    re.compile(r"\b(?P<y>(?:19|20)\d\d)-(?P<m>[01]\d)-(?P<d>[0-3]\d)\b"),
    re.compile(rf"\b(?P<d>[0-3]?\d)[- ](?P<mon>{_MONTH_RE})[- ,]\s*(?P<y>(?:19|20)\d\d)\b", re.I),
    re.compile(rf"\b(?P<mon>{_MONTH_RE})\s+(?P<d>[0-3]?\d),?\s+(?P<y>(?:19|20)\d\d)\b", re.I),
)
# A leading "date 2020-08-18 " label that precedes the first sentence (not part of it).
_DATE_LABEL = re.compile(r"^\s*date[:\s]+(?:19|20)\d\d-[01]\d-[0-3]\d\s+", re.I)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
TITLE_MAX_CHARS = 90


class SkippedFile(UserWarning):
    """Raised as a warning for every file that is not an article we can read; the message names it."""


@dataclass
class Article:
    """One article: the decoded text, what we know about it, and its sentences."""

    id: str
    title: str
    date: str | None
    path: str
    sha256: str
    text: str
    sentences: list[Sentence] = field(default_factory=list)


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM); other legacy encodings fall back instead of losing the article."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    for encoding in _FALLBACK_ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")  # pragma: no cover - latin-1 decodes any bytes


def looks_binary(data: bytes) -> bool:
    """NUL bytes or many control characters: an image, archive or office file renamed .txt."""
    head = data[:8192]
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return bool(head) and controls / len(head) > 0.05


def parse_date(text: str) -> str | None:
    """The date an article states near its top, as ISO `YYYY-MM-DD`, or None."""
    head = "\n".join(text.lstrip().splitlines()[:4])[:600]
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(head):
            parts = match.groupdict()
            month = int(parts["m"]) if parts.get("m") else _MONTHS[parts["mon"][:3].lower()]
            try:
                return date(int(parts["y"]), month, int(parts["d"])).isoformat()
            except ValueError:
                continue
    return None


def _dateline_spans(text: str) -> list[tuple[int, int]]:
    """Spans of header text that only carry the date (a `date …` label, a short dateline) and are not prose."""
    spans = []
    label = _DATE_LABEL.match(text)
    if label:
        spans.append((0, label.end()))
    offset = 0
    for line_no, line in enumerate(text.splitlines(keepends=True)):
        if line_no >= 4:
            break
        stripped = line.strip()
        is_dateline = (
            0 < len(stripped) < 100
            and not stripped.endswith((".", "?", "!"))
            and not _DATE_LABEL.match(line)
            and any(p.search(stripped) for p in _DATE_PATTERNS)
        )
        if is_dateline:
            spans.append((offset, offset + len(line)))
        offset += len(line)
    return spans


def make_title(text: str, sentences: list[Sentence]) -> str:
    """A markdown heading, else a short first line, else the start of the first sentence."""
    lines = [line for line in text.splitlines() if line.strip()]
    for line in lines[:5]:
        heading = _HEADING.match(line)
        if heading:
            return heading.group(1)
    if lines:
        first = lines[0].strip()
        if len(first) <= TITLE_MAX_CHARS and not first.endswith((".", ",", ";")):
            return first
    source = " ".join(sentences[0].text.split()) if sentences else " ".join(text.split())
    if len(source) <= TITLE_MAX_CHARS:
        return source
    return source[: TITLE_MAX_CHARS - 1].rsplit(" ", 1)[0] + "…"


def parse_article(source: SourceFile) -> Article:
    """Turn one file's bytes into an Article with title, date and sentences."""
    text = decode(source.data)
    sentences = split_sentences(text, skip=_dateline_spans(text))
    return Article(
        id=source.id,
        title=make_title(text, sentences),
        date=parse_date(text),
        path=str(source.path.resolve()),
        sha256=source.sha256,
        text=text,
        sentences=sentences,
    )


@dataclass(frozen=True)
class SourceFile:
    """A candidate article file: its id (the path below the corpus, without suffix) and its bytes' hash."""

    id: str
    path: Path
    data: bytes
    size: int
    mtime_ns: int

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def article_id_for(corpus: Path, path: Path) -> str:
    """The file stem for top-level files (`000_7e63…`), the relative path for nested ones, so ids stay unique."""
    relative = path.relative_to(corpus).with_suffix("")
    return relative.as_posix()


def article_paths(corpus: Path) -> tuple[Path, list[Path]]:
    """The root that ids are relative to, and the candidate article files under `corpus` in a stable order."""
    if not corpus.exists():
        raise UsageError(f"corpus path '{corpus}' does not exist")
    if corpus.is_file():
        return corpus.parent, [corpus]
    files = sorted(
        p
        for p in corpus.rglob("*")
        if p.suffix.lower() in ARTICLE_SUFFIXES and p.is_file() and not _hidden(p.relative_to(corpus))
    )
    return corpus, files


def scan_corpus(corpus: Path) -> Iterator[SourceFile]:
    """Yield readable article files under `corpus`, warning about each file skipped and why."""
    root, files = article_paths(corpus)
    for path in files:
        reason = None
        try:
            stat = path.stat()
            if stat.st_size > MAX_ARTICLE_BYTES:
                reason = f"larger than {MAX_ARTICLE_BYTES // (1024 * 1024)} MiB"
            else:
                data = path.read_bytes()
                if looks_binary(data):
                    reason = "binary content"
                elif not decode(data).strip():
                    reason = "empty"
        except OSError as exc:
            reason = f"unreadable ({exc.strerror or exc})"
        if reason:
            warnings.warn(f"skipped {path}: {reason}", SkippedFile, stacklevel=2)
            continue
        yield SourceFile(article_id_for(root, path), path, data, stat.st_size, stat.st_mtime_ns)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)
