"""citeqa at a million sentences: index time, update time, warm `ask` latency and memory.

    .venv/bin/python bench/scale.py [--sentences 1000000] [--corpus /tmp/citeqa-scale] [--keep]

The corpus is generated from BBC News: each article takes its headline from one real article and about 21
sentences from three real articles of the same section, with every number in them shifted (so that articles
differ in their figures and are not copies of one story). Encoding a million sentences takes over an hour on
two cores (220 sentences/s, docs/benchmarks.md), so this run does not measure it: the index is built with `Recorded`, an
embedder that gives each generated sentence the real vector its BBC sentence has in the BBC index (a sentence
the generator did not write, if the splitter cuts one differently, is encoded by the model, and counted).
Everything else is the real pipeline: parsing, chunking with the model's tokenizer, copies, SQLite, BM25, the
HNSW graph. Questions are the BBC dev questions, encoded by the model, answered in a separate process whose
peak memory is the RSS reported.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "bench"
NUMBER = re.compile(r"\d+")
ASKER = r"""
import json, sys, time
from pathlib import Path
from qa.pipeline import Assistant
corpus, index, questions = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
started = time.perf_counter()
assistant = Assistant(corpus=corpus, index_dir=index)
assistant.ask(questions[0])
opened = time.perf_counter() - started
seconds = []
for question in questions:
    started = time.perf_counter()
    assistant.ask(question)
    seconds.append(time.perf_counter() - started)
status = Path("/proc/self/status").read_text()  # VmHWM: this process's peak (ru_maxrss is the parent's too)
peak = int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024
described = assistant.index.describe()
print(json.dumps({"open_s": opened, "seconds": seconds, "layout": described["vectors"],
                  "segments": described["segments"], "rss_mib": peak}))
"""


class Recorded:
    """An embedder for this benchmark only: recorded vectors for the generated sentences, the real model for
    anything else (questions, and sentences the splitter cut otherwise, which it counts)."""

    def __init__(self, model, table: dict[str, np.ndarray]) -> None:
        self.model = model
        self.table = table
        self.model_id, self.precision = model.model_id, model.precision
        self.dim, self.max_tokens = model.dim, model.max_tokens
        self.encoded = 0

    def count_tokens(self, texts):
        return self.model.count_tokens(texts)

    def encode(self, texts, progress=None):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        missing = [i for i, text in enumerate(texts) if text not in self.table]
        for i, text in enumerate(texts):
            if text in self.table:
                out[i] = self.table[text]
        if missing:
            out[missing] = self.model.encode([texts[i] for i in missing])
            self.encoded += len(missing)
        if progress:
            progress(len(texts))
        return out


def generate(folder: Path, sentences: int, seed: int = 7) -> dict[str, np.ndarray]:
    """Write the corpus; the vector of every sentence written, by its text as the index will see it."""
    from qa.pipeline import Assistant
    from qa.text.sentences import normalise_space

    bbc = Assistant(corpus=SHARED / "bbc", precision="fp32")
    bbc.ensure_index()
    index = bbc.index
    rows = np.arange(index.counts["sentences"])
    vectors = index.sentence_matrix(rows)
    by_article: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for sentence in index.sentences(rows):
        by_article[sentence.article_id].append((sentence.row, sentence.text))
    sections = defaultdict(list)
    for article_id in by_article:
        if "/" in article_id:  # the corpus's README is not news
            sections[article_id.split("/")[0]].append(article_id)
    rng = random.Random(seed)
    table: dict[str, np.ndarray] = {}
    written = number = 0
    while written < sentences:
        section = rng.choice(sorted(sections))
        sources = rng.sample(sections[section], 3)
        shift = number % 89 + 1

        def varied(text: str, shift: int = shift) -> str:
            return normalise_space(NUMBER.sub(lambda m: str(int(m.group()) + shift), text))

        headline_row, headline = by_article[sources[0]][0]
        body = []
        for source in sources:
            body += rng.sample(by_article[source][1:], min(7, len(by_article[source]) - 1))
        title = varied(headline)
        table[title] = vectors[headline_row]
        paragraphs = []
        for start in range(0, len(body), 4):
            texts = [varied(text) for _, text in body[start : start + 4]]
            for (row, _), text in zip(body[start : start + 4], texts, strict=True):
                table[text] = vectors[row]
            paragraphs.append(" ".join(texts))
        target = folder / section / f"{number:06d}.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(title + "\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
        written += 1 + len(body)
        number += 1
    bbc.close()
    return table


class Timed:
    """An embedder that adds up the seconds spent encoding (the part of an update no storage layout saves)."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self.seconds = 0.0

    def __getattr__(self, name: str):
        return getattr(self.embedder, name)

    def encode(self, texts, progress=None):
        started = time.perf_counter()
        try:
            return self.embedder.encode(texts, progress)
        finally:
            self.seconds += time.perf_counter() - started


def timed(action, embedder: Timed) -> tuple[float, float]:
    """Seconds of the action and, of them, seconds encoding."""
    embedder.seconds = 0.0
    started = time.perf_counter()
    action()
    return time.perf_counter() - started, embedder.seconds


def main() -> None:
    from embeddings import load_embedder
    from qa.index.local.store import IndexDir
    from qa.index.seam import IndexParams
    from qa.paths import cache_root

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=1_000_000)
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/citeqa-scale"))
    parser.add_argument("--keep", action="store_true", help="keep the corpus and index for another run")
    parser.add_argument("--reuse", action="store_true", help="start from a kept corpus and index (no fresh build)")
    args = parser.parse_args()
    corpus, index_dir = args.corpus / "corpus", args.corpus / "index"
    model = load_embedder(None, cache_root() / "onnx", "fp32")
    params = IndexParams(model_id=model.model_id)
    store = IndexDir(index_dir)
    results = []
    embedder = Timed(model)  # a reused index: what the later steps add is encoded by the model
    if not args.reuse:
        shutil.rmtree(args.corpus, ignore_errors=True)
        started = time.perf_counter()
        table = generate(corpus, args.sentences)
        seconds = time.perf_counter() - started
        print(f"generated {sum(1 for _ in corpus.rglob('*.txt')):,} articles in {seconds:.0f} s", flush=True)
        recorded = Recorded(model, table)
        embedder = Timed(recorded)
        results.append(
            (
                "fresh index (vectors recorded, not encoded)",
                *timed(lambda: store.update(corpus, params, embedder), embedder),
            )
        )
        print(
            f"{results[-1][0]}: {results[-1][1]:.0f} s; {recorded.encoded} sentences encoded by the model", flush=True
        )

    def step(label: str) -> None:
        results.append((label, *timed(lambda: store.update(corpus, params, embedder), embedder)))
        print(f"{label}: {results[-1][1]:.1f} s", flush=True)

    step("unchanged")
    for path in sorted(corpus.rglob("*.txt"))[:10]:
        os.utime(path)
    step("10 files touched")
    stamp = int(time.time())
    for path in sorted(corpus.glob("*/0*.txt"))[20:25]:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"\nThe figures were revised in review {stamp}.\n")
    step("5 articles modified")
    added = corpus / f"added-{stamp}"
    added.mkdir()
    for i, path in enumerate(sorted(corpus.glob("*/0*.txt"))[10:20]):
        text = path.read_text(encoding="utf-8")
        (added / f"copy-{i}.txt").write_text(NUMBER.sub(lambda m: str(int(m.group()) + 1000), text))
    step("10 articles added")
    questions = [json.loads(line)["question"] for line in (SHARED / "bbc-dev.jsonl").read_text().splitlines()]
    asked = subprocess.run(
        [sys.executable, "-c", ASKER, str(corpus), str(index_dir), json.dumps(questions)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(asked.stdout)
    ms = sorted(1000 * s for s in report["seconds"])
    opened = store.open(whole=False)
    counts = opened.counts
    opened.close()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\n{counts['articles']:,} articles, {counts['sentences']:,} sentences, {counts['chunks']:,} chunks; "
        f"{report['segments']} segment(s), vectors {report['layout']}; {os.cpu_count()} CPUs, load {load}"
    )
    print("| step | seconds | of which encoding |\n|---|---|---|")
    for label, seconds, encoding in results:
        print(f"| {label} | {seconds:.1f} | {encoding:.1f} |")
    print(f"| open the index and answer a first question | {report['open_s']:.1f} | |")
    print(
        f"\nwarm hybrid `ask`, {len(ms)} BBC dev questions: p50 {statistics.median(ms):.0f} ms, "
        f"p95 {ms[int(0.95 * (len(ms) - 1))]:.0f} ms; peak RSS of the asking process {report['rss_mib']:,.0f} MiB; "
        f"peak RSS while indexing {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB"
    )
    if not args.keep:
        shutil.rmtree(args.corpus, ignore_errors=True)


if __name__ == "__main__":
    main()
