"""What citeqa extracts from real saved news pages (../shared/bench/html): per page the headline, date, source,
and the sentences it would index, numbered, so that a reader can count which are article and which furniture.

    .venv/bin/python bench/html_extraction.py [--sentences] [--missed]

--sentences prints every extracted sentence; --missed prints the sentences of every <p>, heading, list item and
quote of the page that the extraction lacks (a broad net: most are furniture), so that a reader can count the
article sentences that were missed.

The counts made by reading this output are in bench/results/html.md.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from qa.ingest.corpus import SourceFile, parse_article
from qa.ingest.formats import Unreadable
from qa.present.terminal import printable
from qa.text.sentences import split_sentences

PAGES = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "html"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", action="store_true", help="print every extracted sentence")
    parser.add_argument("--missed", action="store_true", help="print the page's text blocks' sentences not extracted")
    args = parser.parse_args()
    print(f"{'page':<46} {'sentences':>9} {'ms':>6}  date        source / title")
    for path in sorted(PAGES.glob("*.htm*")):
        data = path.read_bytes()
        started = time.perf_counter()
        try:
            article = parse_article(SourceFile(path.stem, path, data, len(data), 0))
        except Unreadable as exc:
            print(f"{path.name:<46} skipped: {exc}")
            continue
        elapsed = (time.perf_counter() - started) * 1000
        about = f"{article.source or '-'} / {article.title}"
        print(
            printable(f"{path.name:<46} {len(article.sentences):>9} {elapsed:6.0f}  {article.date or '-':<10}  {about}")
        )
        if args.sentences:
            for sentence in article.sentences:
                print(printable(f"    {sentence.position:>3} {' '.join(sentence.text.split())[:160]}"))
        if args.missed:
            extracted = _plain(article.text)
            for n, sentence in enumerate(s for s in _page_sentences(data) if _plain(s) not in extracted):
                print(printable(f"    missed {n:>3} {sentence[:160]}"))


def _plain(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _page_sentences(data: bytes) -> list[str]:
    """The sentences of the page's paragraphs, headings, list items and quotes, in order, once each."""
    import lxml.html

    tree = lxml.html.fromstring(data)
    blocks = tree.xpath("//p | //h1 | //h2 | //h3 | //li | //blockquote")
    texts = [" ".join(block.text_content().split()) for block in blocks]
    sentences = [s.text for text in texts if len(text.split()) >= 4 for s in split_sentences(text)]
    return [s for s in dict.fromkeys(sentences) if len(s.split()) >= 4]


if __name__ == "__main__":
    main()
