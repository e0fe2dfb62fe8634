"""From a file's bytes to the article text citeqa stores and cites, with what the file says about the article.

Plain text and Markdown are decoded as they are (Markdown front matter is metadata, never cited). A saved web
page is reduced to its article by trafilatura: headline, byline, date, site name and body, without navigation,
banners, share buttons, related links or comments. A PDF's text layer is read with pypdfium2 page by page:
running headers and footers (lines repeated on most pages) and page numbers go, words hyphenated across a line
break are joined, and the start of every page is kept so that a citation can say its page. The text returned is
the text citations point into.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from qa.ingest.encodings import decode

HTML_SUFFIXES = (".html", ".htm")
PDF_SUFFIXES = (".pdf",)
# A running header or footer: one of the first or last lines of a page, repeated on at least this share of pages.
RUNNING_LINE_SHARE = 0.5
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s+)?\d{1,4}(?:\s*(?:/|of)\s*\d{1,4})?\s*$", re.I)
# A word broken across lines: "long-stand-" + "ing". pdfium marks such a hyphen itself with U+FFFE (and may
# keep the line break); a plain hyphen before a line break and a lowercase letter is joined the same way.
_HYPHENATED = re.compile(r"(\w)(?:\ufffe\r?\n?|-\r?\n(?=[a-z]))(\w)")
_PDF_DATE = re.compile(r"D:(\d{4})(\d{2})(\d{2})")
# Less than this after extraction is a menu or a stub, not an article.
MIN_ARTICLE_CHARS = 40
_LINE_END = (".", "!", "?", ":", '"', "”", "’", ")")
# A PDF line this long that does not end a sentence continues on the next line (a short one may be a heading).
_WRAPPED_LINE = 40
# Bounds on what one file may cost: a few hundred bytes of PDF can claim 100,000 pages (a page tree that
# repeats one child) and a compressed content stream can hold any amount of text. A 1,000-page book is about
# 2.5 million characters.
MAX_PDF_PAGES = 2000
MAX_ARTICLE_CHARS = 5_000_000


class Unreadable(Exception):
    """A file of a known format that holds no article text; the message says why (it is skipped, not fatal)."""


@dataclass(frozen=True)
class Extracted:
    """The article text and the metadata the file itself gives (None where it gives none)."""

    text: str
    title: str | None = None
    date: str | None = None
    author: str | None = None
    source: str | None = None
    url: str | None = None
    pages: list[int] = field(default_factory=list)  # start offset of every page (PDF), else empty


def extract(suffix: str, data: bytes) -> Extracted:
    """Dispatch on the file's suffix: a web page to trafilatura, a PDF to pypdfium2, anything else decoded as
    text (qa.ingest.encodings)."""
    if suffix in HTML_SUFFIXES:
        return extract_html(data)
    if suffix in PDF_SUFFIXES:
        return extract_pdf(data)
    return Extracted(decode(data))


def extract_html(data: bytes) -> Extracted:
    """The article of a saved web page, its headline first, by trafilatura (precision over recall: furniture
    cited as if it were the article is worse than a sentence missed)."""
    import trafilatura
    from trafilatura.utils import load_html

    tree = load_html(data)  # parsed once: the JSON-LD is read before trafilatura prunes the tree
    if tree is None:
        raise Unreadable("not an HTML page")
    structured = _json_ld_body(tree)
    document = trafilatura.bare_extraction(
        tree, with_metadata=True, include_comments=False, include_tables=False, favor_precision=True
    )
    # trafilatura gives None, not a document, when it finds no article: then only the JSON-LD can help
    meta = {
        name: _clean(getattr(document, name, None))
        for name in ("title", "date", "author", "sitename", "hostname", "url")
    }
    body = (getattr(document, "text", None) or "").strip()
    if len(structured) > 2 * len(body):  # a paywalled or script-rendered page carries its text only there
        body = structured
    if len(body) < MIN_ARTICLE_CHARS:
        raise Unreadable("no article text found in the page")
    title = meta["title"]
    if title and meta["sitename"]:
        title = _without_site_name(title, meta["sitename"])
    text = f"{title}\n\n{body}\n" if title else f"{body}\n"
    return Extracted(
        text=text,
        title=title,
        date=_iso_date(meta["date"]),
        author=meta["author"],
        source=meta["sitename"] or meta["hostname"],
        url=meta["url"],
    )


def _json_ld_body(tree) -> str:
    """The longest schema.org `articleBody` in the page's JSON-LD blocks, or ""."""
    import json

    bodies = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            found = json.loads(script.text_content())
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser's stack
            continue
        stack = [found]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack += item
            elif isinstance(item, dict):
                if isinstance(item.get("articleBody"), str):
                    bodies.append(item["articleBody"].strip())
                stack += [v for v in item.values() if isinstance(v, dict | list)]
    return max(bodies, key=len, default="")


def _without_site_name(title: str, site: str) -> str:
    """ "Headline | DW | 19.01.2020" -> "Headline" when a later part names the site; other titles as they are."""
    parts = [part.strip() for part in re.split(r"\s+[|–—-]\s+", title)]
    key = re.sub(r"\W|\.com$", "", site.lower().removesuffix(".com"))
    if len(parts) > 1 and any(re.sub(r"\W", "", part.lower()) == key for part in parts[1:]):
        return parts[0]
    return title


def extract_pdf(data: bytes) -> Extracted:
    """The text layer of a PDF, page by page, without running headers, footers and page numbers."""
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise Unreadable(f"not a readable PDF ({exc})") from None
    try:
        if len(pdf) > MAX_PDF_PAGES:
            raise Unreadable(f"more than {MAX_PDF_PAGES} pages ({len(pdf)})")
        pages, characters = [], 0
        for i in range(len(pdf)):
            pages.append(_page_lines(pdf[i]))
            characters += sum(map(len, pages[-1]))
            if characters > MAX_ARTICLE_CHARS:
                raise Unreadable(f"more than {MAX_ARTICLE_CHARS:,} characters of text")
        metadata = pdf.get_metadata_dict()
    except pypdfium2.PdfiumError as exc:  # a page tree that claims pages it does not hold
        raise Unreadable(f"a damaged PDF ({exc})") from None
    finally:
        pdf.close()
    running = _running_lines(pages)
    parts: list[str] = []
    starts: list[int] = []
    offset = 0
    for lines in pages:
        kept = [line for line in lines if line.strip() not in running and not _PAGE_NUMBER.match(line)]
        page_text = _unwrap(_HYPHENATED.sub(r"\1\2", "\n".join(kept)).strip())
        starts.append(offset)
        parts.append(page_text + "\n\n")
        offset += len(parts[-1])
    text = "".join(parts)
    if not text.strip():
        raise Unreadable("no text layer (a scanned PDF? citeqa does not run OCR)")
    created = _PDF_DATE.match(metadata.get("CreationDate") or "")
    return Extracted(
        text=text,
        title=_clean(metadata.get("Title")),
        date=_valid_date(*map(int, created.groups())) if created else None,
        author=_clean(metadata.get("Author")),
        pages=starts,
    )


def _unwrap(text: str) -> str:
    """Join the lines of a PDF paragraph: a line that does not end a sentence and is long (or is followed by a
    lowercase word) continues on the next one."""
    lines = text.split("\n")
    out = []
    for line, following in zip(lines, [*lines[1:], ""], strict=True):
        stripped = line.rstrip()
        joins = following and not stripped.endswith(_LINE_END)
        joins = joins and (len(stripped) >= _WRAPPED_LINE or following.lstrip()[:1].islower())
        out.append(line + (" " if joins else "\n"))
    return "".join(out).rstrip("\n")


def page_of(pages: list[int], offset: int) -> int | None:
    """The 1-based page an offset falls on, or None for an article without pages."""
    if not pages:
        return None
    return sum(1 for start in pages if start <= offset)


def _page_lines(page) -> list[str]:
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
    finally:
        textpage.close()
        page.close()
    return [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Lines at the top or bottom of pages that repeat on most of them: headers and footers, not prose."""
    if len(pages) < 3:
        return set()
    edges = Counter()
    for lines in pages:
        content = [line.strip() for line in lines if line.strip()]
        edges.update(set(content[:2] + content[-2:]))
    return {line for line, count in edges.items() if count >= RUNNING_LINE_SHARE * len(pages)}


def _clean(value: str | None) -> str | None:
    return " ".join(value.split()) or None if value else None


def _iso_date(value: str | None) -> str | None:
    if not value:
        return None
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})", value)
    return _valid_date(*map(int, match.groups())) if match else None


def _valid_date(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None
