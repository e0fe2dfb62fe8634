"""Read a folder of articles: decode, find title and date, split into sentences with offsets.

Offsets always point into the decoded original text (`Article.text`), so a citation can be checked
against the file and highlighted in place; white space is only normalised in the copies we embed.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path
from stat import S_ISLNK, S_ISREG

from qa.errors import UsageError, first_line
from qa.ingest.encodings import decode, looks_binary
from qa.ingest.formats import HTML_SUFFIXES, PDF_SUFFIXES, Unreadable, extract
from qa.text.sentences import Sentence, split_sentences

TEXT_SUFFIXES = (".txt", ".md")
ARTICLE_SUFFIXES = (*TEXT_SUFFIXES, *HTML_SUFFIXES, *PDF_SUFFIXES)
SUPPORTED = "citeqa reads .txt, .md, .html, .htm and .pdf files"
MAX_ARTICLE_BYTES = 20 * 1024 * 1024
# Front matter is metadata: a block larger or deeper than any real one is left unread (and still not cited).
MAX_FRONT_MATTER_CHARS = 64 * 1024
MAX_FRONT_MATTER_DEPTH = 32
# Front matter of a .md file: YAML between `---` lines, TOML between `+++` lines, at the very top.
_FRONT_MATTER = re.compile(
    r"\A(?P<fence>---|\+\+\+)[ \t]*\r?\n(?P<body>.*?)^(?:(?P=fence)|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.M | re.S
)

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
    """Warned once for every file or folder that is not an article we can read; the message names it."""


@dataclass(frozen=True)
class Skipped:
    """A file or folder left out of the corpus, and why; `size`/`mtime_ns` tell when to look at it again."""

    path: str
    reason: str
    size: int = 0
    mtime_ns: int = 0

    @property
    def message(self) -> str:
        return f"skipped {self.path}: {self.reason}"

    @property
    def facts(self) -> tuple[str, int, int]:
        """What tells whether the file changed since it was skipped."""
        return self.path, self.size, self.mtime_ns


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
    author: str | None = None
    source: str | None = None
    url: str | None = None
    pages: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class FrontMatter:
    """What a .md file's front matter says, and where it ends (it is metadata, never cited)."""

    end: int = 0
    title: str | None = None
    date: str | None = None


def front_matter(text: str) -> FrontMatter:
    """YAML (`---`) or TOML (`+++`) front matter; a block that does not parse is still kept out of the text."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return FrontMatter()
    fields = _parse_toml(match["body"]) if match["fence"] == "+++" else _parse_yaml(match["body"])
    title = " ".join(str(fields.get("title") or "").split()) or None
    when = fields.get("date")
    day = when.isoformat()[:10] if hasattr(when, "isoformat") else parse_date(str(when)) if when else None
    return FrontMatter(match.end(), title, day)


def _parse_toml(body: str) -> dict:
    import tomllib

    if len(body) > MAX_FRONT_MATTER_CHARS:
        return {}
    try:
        return tomllib.loads(body)
    except (tomllib.TOMLDecodeError, RecursionError):  # tomllib recurses once per level of nesting
        return {}


def _parse_yaml(body: str) -> dict:
    import yaml

    if len(body) > MAX_FRONT_MATTER_CHARS:
        return {}
    try:
        loaded = yaml.load(body, Loader=_front_matter_loader())  # a SafeLoader without aliases, bounded
    except (yaml.YAMLError, ValueError):  # ValueError: a timestamp that is not a date, such as 2020-13-45
        return {}
    return loaded if isinstance(loaded, dict) else {}


@lru_cache(maxsize=1)
def _front_matter_loader():
    """PyYAML's safe loader without aliases (a few hundred bytes of `&a [*a, *a, …]` expand to gigabytes) and
    with a nesting bound (it composes nodes recursively)."""
    import yaml

    class FrontMatterLoader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                raise yaml.YAMLError("front matter with aliases is not read")
            self.depth += 1
            try:
                if self.depth > MAX_FRONT_MATTER_DEPTH:
                    raise yaml.YAMLError(f"front matter nested deeper than {MAX_FRONT_MATTER_DEPTH} levels")
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return FrontMatterLoader


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
    """Turn one file's bytes into an Article with title, date, metadata and sentences; raises
    qa.ingest.formats.Unreadable for a page or PDF that holds no article text, and for a file that any parser fails
    on in any way: one bad file is one skipped file, never a failed index."""
    try:
        return _parse_article(source)
    except Unreadable:
        raise
    except Exception as exc:  # lxml, trafilatura, pdfium, yaml: each has errors of its own
        raise Unreadable(f"could not be read ({type(exc).__name__}: {first_line(exc)})") from None


def _parse_article(source: SourceFile) -> Article:
    suffix = source.path.suffix.lower()
    extracted = extract(suffix, source.data)
    text = extracted.text
    meta = front_matter(text) if suffix == ".md" else FrontMatter()
    body = text[meta.end :]
    skip = [(0, meta.end), *((meta.end + s, meta.end + e) for s, e in _dateline_spans(body))]
    sentences = split_sentences(text, skip=skip)
    return Article(
        id=source.id,
        title=meta.title or extracted.title or make_title(body, sentences),
        date=meta.date or extracted.date or parse_date(body),
        path=stored_path(source.path),
        sha256=source.sha256,
        text=text,
        sentences=sentences,
        author=extracted.author,
        source=extracted.source,
        url=extracted.url,
        pages=extracted.pages,
    )


@dataclass(frozen=True)
class SourceFile:
    """A candidate article file: its id (the path below the corpus, without suffix) and its bytes' hash. A file
    the index already holds with the same path, size and modification time is not read again: its `data` is
    None and its hash the indexed one."""

    id: str
    path: Path
    data: bytes | None
    size: int
    mtime_ns: int
    indexed_sha256: str | None = None

    @cached_property
    def sha256(self) -> str:
        return self.indexed_sha256 or hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class CorpusListing:
    """One walk of a corpus: the root ids are relative to, every article file in a stable order with its size
    and mtime, and the folders left out. An update walks once and both decides whether anything changed and
    plans from it (two walks were 2 × 1.2 s at 45,000 files)."""

    root: Path
    files: list[tuple[Path, int, int]]
    skipped: list[Skipped]


def list_corpus(corpus: Path, follow_links: bool = False) -> CorpusListing:
    """Walk `corpus` and stat every candidate file once; what is not a regular file (or vanished) is left out,
    and so is a link to a file outside the corpus unless `follow_links` (the corpus is a boundary: a link to
    /etc/passwd in an unpacked archive must not be cited)."""
    root, paths, skipped = article_paths(corpus, follow_links)
    inside = _inside(corpus) if corpus.is_dir() and not follow_links else None
    files = []
    for path in paths:
        try:
            stat = path.lstat()
            if S_ISLNK(stat.st_mode):
                target = path.resolve()
                if inside is not None and not inside(target):
                    reason = f"a link to a file outside the corpus ({shown_path(target)})"
                    skipped.append(Skipped(shown_path(path), reason))
                    continue
                stat = path.stat()
        except (OSError, RuntimeError):  # RuntimeError: a link loop
            continue
        if S_ISREG(stat.st_mode):
            files.append((path, stat.st_size, stat.st_mtime_ns))
    files.sort(key=lambda item: item[0].parts)
    return CorpusListing(root, files, skipped)


def _inside(corpus: Path):
    """A test of whether a resolved path lies within the corpus folder."""
    root = os.path.join(str(corpus.resolve()), "")
    return lambda target: os.path.join(str(target), "").startswith(root)


@dataclass
class CorpusScan:
    """The readable articles of a corpus and what was left out."""

    sources: list[SourceFile]
    skipped: list[Skipped]


def shown_path(path: Path | str) -> str:
    """A path as text that is always valid UTF-8: bytes of a file name that are not become `\\xNN`."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


# Paths and folders resolved during one walk of a corpus (cleared by `article_paths`): resolving each file's
# path walked its folders again, three times per file, 45,000 files at a million sentences (4 s of an update
# that only touched files).
_RESOLVED: dict[str, str] = {}


def stored_path(path: Path) -> str:
    """The resolved path an index records for a file, comparable across runs."""
    key = str(path)
    if key not in _RESOLVED:
        if path.is_symlink():
            _RESOLVED[key] = shown_path(path.resolve())
        else:
            folder = str(path.parent)
            if folder not in _RESOLVED:
                _RESOLVED[folder] = str(path.parent.resolve())
            _RESOLVED[key] = shown_path(os.path.join(_RESOLVED[folder], path.name))
    return _RESOLVED[key]


def article_id_for(corpus: Path, path: Path) -> str:
    """The file stem for top-level files (`000_7e63…`), the relative path for nested ones, so ids stay unique."""
    text, root = str(path), os.path.join(str(corpus), "")
    relative = text[len(root) :] if text.startswith(root) else path.relative_to(corpus).as_posix()
    if os.sep != "/":
        relative = relative.replace(os.sep, "/")
    return shown_path(relative[: len(relative) - len(path.suffix)] if path.suffix else relative)


def article_paths(corpus: Path, follow_links: bool = False) -> tuple[Path, list[Path], list[Skipped]]:
    """The root that ids are relative to, the candidate article files under `corpus` (by name: `list_corpus`
    keeps the regular files), and the folders left out (unreadable, a symbolic link back into a folder already
    walked, or unless `follow_links` a link to a folder outside the corpus)."""
    if not corpus.exists():
        raise UsageError(f"corpus path '{shown_path(corpus)}' does not exist")
    _RESOLVED.clear()
    if corpus.is_file():
        return corpus.parent, [corpus], []
    files: list[Path] = []
    skipped: list[Skipped] = []
    seen: set[tuple[int, int]] = set()
    inside = None if follow_links else _inside(corpus)

    def unreadable(error: OSError) -> None:
        skipped.append(Skipped(shown_path(error.filename or corpus), f"unreadable folder ({error.strerror})"))

    for folder, subfolders, names in os.walk(corpus, onerror=unreadable, followlinks=True):
        here = Path(folder)
        try:
            stat = here.stat()
        except OSError as exc:
            unreadable(exc)
            subfolders.clear()
            continue
        if (stat.st_dev, stat.st_ino) in seen:  # a link to a folder already walked: a loop or a second route
            skipped.append(Skipped(shown_path(here), "a link to a folder that is already indexed"))
            subfolders.clear()
            continue
        seen.add((stat.st_dev, stat.st_ino))
        target = here.resolve() if inside is not None and here.is_symlink() else None
        if target is not None and not inside(target):
            reason = f"a link to a folder outside the corpus ({shown_path(target)})"
            skipped.append(Skipped(shown_path(here), reason))
            subfolders.clear()
            continue
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        files += (
            here / name for name in names if not name.startswith(".") and Path(name).suffix.lower() in ARTICLE_SUFFIXES
        )
    return corpus, files, skipped


def file_facts(
    corpus: Path, listing: CorpusListing | None = None, follow_links: bool = False
) -> set[tuple[str, int, int]]:
    """(path, size, mtime) of every article file under `corpus` (or of a listing of it), by stat alone: what
    tells an index that the folder changed."""
    listing = listing or list_corpus(corpus, follow_links)
    return {(stored_path(path), size, mtime_ns) for path, size, mtime_ns in listing.files}


def scan_corpus(
    corpus: Path,
    indexed: Mapping[tuple[str, int, int], str] | None = None,
    listing: CorpusListing | None = None,
    follow_links: bool = False,
) -> CorpusScan:
    """Read the article files under `corpus` (as `listing` found them, when given); what cannot be read is
    listed in `skipped` with the reason. `indexed` maps the (path, size, mtime_ns) of files an index holds to
    their hash: those are not read again (at a million sentences, reading and checking 45,000 unchanged files
    was most of an update)."""
    listing = listing or list_corpus(corpus, follow_links)
    root, skipped = listing.root, list(listing.skipped)
    sources = []
    for path, size, mtime_ns in listing.files:
        reason = None
        try:
            known = indexed.get((stored_path(path), size, mtime_ns)) if indexed else None
            if known is not None:
                sources.append(SourceFile(article_id_for(root, path), path, None, size, mtime_ns, known))
                continue
            if size > MAX_ARTICLE_BYTES:
                reason = f"larger than {MAX_ARTICLE_BYTES // (1024 * 1024)} MiB"
            else:
                data = path.read_bytes()
                if not data.strip():
                    reason = "empty"
                elif path.suffix.lower() in TEXT_SUFFIXES:  # pages and PDFs are judged when they are read
                    text = decode(data)
                    if looks_binary(text):
                        reason = "binary content"
                    elif not text.strip():
                        reason = "empty"
        except OSError as exc:
            reason = f"unreadable ({exc.strerror or exc})"
        if reason:
            skipped.append(Skipped(shown_path(path), reason, size, mtime_ns))
            continue
        sources.append(SourceFile(article_id_for(root, path), path, data, size, mtime_ns))
    return CorpusScan(sources, skipped)
