"""How long the answer step takes on the BBC dev questions, as a one-shot `ask` meets it.

    .venv/bin/python bench/answer_stage.py [--index DIR] [--rounds 2]

Each question is retrieved first (not timed), then answered with the answer step's caches emptied (the terms
and typed expressions of sentences seen before), as in a fresh process. Prints p50 and p95 in ms. With
--index, an index built elsewhere (by an older checkout, say, run from its own directory) is timed instead.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from qa.pipeline import Assistant
from qa.text import lexical, mentions

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="the index to time (default: the BBC corpus's own)")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the 120 questions")
    args = parser.parse_args()
    assistant = Assistant(corpus=SHARED / "bbc", index_dir=args.index)
    assistant.ensure_index()
    questions = [json.loads(line)["question"] for line in (SHARED / "bbc-dev.jsonl").open()]
    retrievals = [assistant.search(q) for q in questions]
    for retrieval in retrievals[:5]:
        assistant.answer(retrieval)
    times = []
    for _ in range(args.rounds):
        for retrieval in retrievals:
            mentions.find_mentions.cache_clear()
            lexical.term_set.cache_clear()
            lexical._cached_terms.cache_clear()
            started = time.perf_counter()
            assistant.answer(retrieval)
            times.append((time.perf_counter() - started) * 1000)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print("| index | questions | answer p50 ms | answer p95 ms | load average |\n|---|---|---|---|---|")
    print(
        f"| {assistant.store.location} | {len(times)} | {np.percentile(times, 50):.2f} | "
        f"{np.percentile(times, 95):.2f} | {load} |"
    )


if __name__ == "__main__":
    main()
