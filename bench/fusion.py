"""How to fuse dense and BM25: convex combination at several weights against reciprocal rank fusion.

    .venv/bin/python bench/fusion.py [--questions 2000]

Runs hybrid retrieval on SQuAD questions (a fixed random sample) with each fusion and prints Recall@1,
MRR@10 and hit@1; the shipped choice is qa/retrieve/retriever.py's DENSE_WEIGHT with convex fusion.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from qa.eval.datasets import load_dataset
from qa.eval.evaluate import assistant_for, run_eval
from qa.settings import Settings

SQUAD = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "squad-v1.1-dev-half.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=2000)
    args = parser.parse_args()
    dataset = load_dataset(SQUAD)
    random.seed(7)
    dataset.questions = random.sample(dataset.questions, min(args.questions, len(dataset.questions)))
    assistant_for(dataset, None, None, None).ensure_index()
    print(f"hybrid retrieval on {len(dataset.questions)} SQuAD dev-half questions")
    print(f"{'fusion':<22} {'recall@1':>9} {'mrr@10':>8} {'hit@1':>7}")
    choices = [("rrf", 0.5)] + [("convex", w) for w in (0.3, 0.4, 0.5, 0.6, 0.7)]
    for fusion, weight in choices:
        assistant = assistant_for(dataset, None, None, None, Settings(fusion=fusion, dense_weight=weight))
        metrics = run_eval(dataset, assistant, ["hybrid"]).summaries[0].metrics
        label = "reciprocal rank (k=60)" if fusion == "rrf" else f"convex, dense {weight:.1f}"
        print(f"{label:<22} {metrics['recall@1']:9.3f} {metrics['mrr@10']:8.3f} {metrics['hit@1']:7.3f}")


if __name__ == "__main__":
    main()
