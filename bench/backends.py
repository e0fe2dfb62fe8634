"""The local backend and Milvus (Milvus Lite, embedded) side by side: index time, accuracy and per-question
latency on the BBC dev questions and on SQuAD, each backend built fresh in one run, alternating.

    .venv/bin/python bench/backends.py [--squad-questions 1000]

SQuAD: the dev half's 913 paragraphs with its first `--squad-questions` questions (the answer stage of Milvus
Lite is pure Python and 10x slower per question than the local backend; the whole half would take an hour).
Hybrid mode, the default settings. Needs the milvus extra.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "bench"
CITEQA = [sys.executable, "-m", "qa"]
SHOWN = ("index_s", "mrr@10", "hit@1", "hit@3", "search_p50_ms", "search_p95_ms", "answer_p50_ms", "answer_p95_ms")


def squad_subset(count: int, target: Path) -> Path:
    """The dev half with every paragraph (the corpus) and its first `count` questions."""
    data = json.loads((BENCH / "squad-v1.1-dev-half.json").read_text(encoding="utf-8"))
    left = count
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            paragraph["qas"], left = paragraph["qas"][:left], max(0, left - len(paragraph["qas"]))
    target.write_text(json.dumps(data), encoding="utf-8")
    return target


def corpus_of(dataset: Path) -> Path:
    """The folder eval indexes for a dataset that brings its documents (SQuAD), as eval itself makes it."""
    from qa.eval.datasets import load_dataset, materialise_corpus
    from qa.paths import cache_root

    return materialise_corpus(load_dataset(dataset), cache_root() / "eval")


def run(dataset: Path, corpus: Path, store: Path, work: Path) -> dict:
    """Index (timed), then evaluate hybrid; the eval's summary with the index time."""
    started = time.perf_counter()
    subprocess.run([*CITEQA, "index", str(corpus), "--store", str(store), "-q"], check=True, cwd=ROOT)
    index_s = time.perf_counter() - started
    out = work / f"{store.name}.json"
    own_corpus = [] if dataset.suffix == ".json" else ["--corpus", str(corpus)]  # SQuAD brings its documents
    subprocess.run(
        [*CITEQA, "eval", str(dataset), *own_corpus, "--store", str(store), "--json", str(out), "-q"],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    return {**json.loads(out.read_text())["summary"]["hybrid"], "index_s": index_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad-questions", type=int, default=1000)
    parser.add_argument("--backend", choices=("both", "local", "milvus"), default="both", help="run only one side")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        squad = squad_subset(args.squad_questions, work / "squad-subset.json")
        for name, dataset, corpus in (
            ("BBC dev", BENCH / "bbc-dev.jsonl", BENCH / "bbc"),
            (f"SQuAD ({args.squad_questions} q)", squad, corpus_of(squad)),
        ):
            sides = (("local", work / f"local-{len(rows)}"), ("Milvus Lite", work / f"m{len(rows)}.db"))
            for backend, store in sides[args.backend == "milvus" :][: 1 if args.backend == "local" else 2]:
                summary = run(dataset, corpus, store, work)
                rows.append((name, backend, summary))
                print(
                    f"done: {name} {backend} ({time.strftime('%H:%M:%S')}, load {os.getloadavg()[0]:.2f})", flush=True
                )
                print(json.dumps({key: summary[key] for key in SHOWN}), flush=True)
    head = f"{'dataset':<18} {'backend':<12} {'index s':>8} {'MRR@10':>7} {'hit@1':>6} {'hit@3':>6} "
    print(head + f"{'search p50/p95 ms':>18} {'answer p50/p95 ms':>18}")
    for name, backend, s in rows:
        search = f"{s['search_p50_ms']:.1f}/{s['search_p95_ms']:.1f}"
        answer = f"{s['answer_p50_ms']:.1f}/{s['answer_p95_ms']:.1f}"
        print(
            f"{name:<18} {backend:<12} {s['index_s']:>8.1f} {s['mrr@10']:>7.3f} {s['hit@1']:>6.3f} {s['hit@3']:>6.3f} "
            f"{search:>18} {answer:>18}"
        )
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
