"""Ingestion throughput by format: reading, hashing and parsing articles into sentences (no embedding; see
bench/embed_throughput.py for that), as MB/s of files and articles/s, in alternating rounds.

- txt:  the BBC News corpus (2,225 real articles).
- HTML: the 13 real saved pages of ../shared/bench/html, each copied `--copies` times under other names.
- PDF:  the first `--pdfs` BBC articles laid out as text PDFs (Helvetica, 90 characters a line, 48 lines a
        page) by tests/helpers/pdfs.py: real text, a generated layout; no real PDFs are in the bench data.

.venv/bin/python bench/ingest_throughput.py [--rounds 3] [--copies 10] [--pdfs 300]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/helpers/pdfs.py writes the PDFs

from qa.ingest.corpus import parse_article, scan_corpus  # noqa: E402
from tests.helpers.pdfs import text_pdf  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench"
LINE_CHARS = 90
PAGE_LINES = 48


def as_pdf(text: str) -> bytes:
    lines = [wrapped for paragraph in text.splitlines() for wrapped in textwrap.wrap(paragraph, LINE_CHARS) or [""]]
    lines = [line.encode("latin-1", "replace").decode("latin-1") for line in lines]
    pages = [lines[i : i + PAGE_LINES] for i in range(0, len(lines), PAGE_LINES)]
    return text_pdf(pages, title=lines[0] if lines else None)


def build_folders(work: Path, copies: int, pdfs: int) -> dict[str, Path]:
    html = work / "html"
    html.mkdir()
    for page in sorted((BENCH / "html").glob("*.htm*")):
        for n in range(copies):
            shutil.copy(page, html / f"{n:02d}-{page.name}")
    pdf = work / "pdf"
    pdf.mkdir()
    for article in sorted((BENCH / "bbc").rglob("*.txt"))[:pdfs]:
        (pdf / f"{article.parent.name}-{article.stem}.pdf").write_bytes(as_pdf(article.read_text(errors="replace")))
    return {"txt": BENCH / "bbc", "HTML": html, "PDF": pdf}


def ingest(folder: Path) -> tuple[float, int, int, int]:
    """Seconds to scan and parse the folder, its bytes, its articles and their sentences."""
    started = time.perf_counter()
    scan = scan_corpus(folder)
    articles = [parse_article(source) for source in scan.sources]
    seconds = time.perf_counter() - started
    return seconds, sum(s.size for s in scan.sources), len(articles), sum(len(a.sentences) for a in articles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--pdfs", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        folders = build_folders(Path(work), args.copies, args.pdfs)
        for folder in folders.values():
            ingest(folder)  # warm the page cache and the parsers' imports outside the timing
        seconds: dict[str, list[float]] = {name: [] for name in folders}
        sizes: dict[str, tuple[int, int, int]] = {}
        for _ in range(args.rounds):
            for name, folder in folders.items():
                took, size, count, sentences = ingest(folder)
                seconds[name].append(took)
                sizes[name] = (size, count, sentences)
    print(f"{'format':<6} {'files':>6} {'MB':>6} {'sentences':>9} {'s (median)':>10} {'MB/s':>7} {'articles/s':>10}")
    for name, times in seconds.items():
        size, count, sentences = sizes[name]
        median = statistics.median(times)
        print(
            f"{name:<6} {count:>6} {size / 1e6:>6.1f} {sentences:>9} {median:>10.2f} "
            f"{size / 1e6 / median:>7.2f} {count / median:>10.0f}"
        )
    print(f"{args.rounds} alternating rounds on {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
