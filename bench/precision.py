"""fp32 against int8 encoder weights, paired question by question: should int8 be the default?

    .venv/bin/python bench/precision.py [--bootstrap 10000]

Each dataset (the SQuAD dev half and the BBC dev questions) is indexed at both precisions (the first run builds
the indexes and times them; later runs reuse them) and evaluated with hybrid retrieval and the default answer
step. Every question is answered at both precisions, so the comparison is paired: McNemar's exact test on hit@1
(only the questions where the two disagree carry information), and the MRR@10 difference with a bootstrap 95%
interval over questions (a fixed seed). int8's answers count as indistinguishable from fp32's when McNemar's p
is at least 0.05 and the interval lies within ±0.01; whether that makes it the default is docs/models.md's call
("fp32 or int8": it is not, because int8 vectors depend on the batch). Encoding speed is measured apart,
alternating, by bench/embed_throughput.py.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import numpy as np

from qa.eval.datasets import load_dataset
from qa.eval.evaluate import assistant_for, run_eval

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "bench"
DATASETS = (
    ("SQuAD dev half", SHARED / "squad-v1.1-dev-half.json", None),
    ("BBC dev", SHARED / "bbc-dev.jsonl", SHARED / "bbc"),
)
MARGIN = 0.01
ALPHA = 0.05


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar: the binomial probability of a split of the discordant pairs this uneven."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def bootstrap_interval(differences: np.ndarray, rounds: int, seed: int = 7) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = differences[rng.integers(0, len(differences), size=(rounds, len(differences)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def _reciprocal_rank(result) -> float:
    return 1.0 / result.gold_rank if result.gold_rank is not None and result.gold_rank <= 10 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", type=int, default=10000, help="bootstrap rounds for the MRR interval")
    args = parser.parse_args()
    print("| dataset | precision | index s | hit@1 | MRR@10 | abstain P / R |")
    print("|---|---|---|---|---|---|")
    hits, reciprocal = {"fp32": [], "int8": []}, {"fp32": [], "int8": []}
    for label, path, corpus in DATASETS:
        dataset = load_dataset(path)
        for precision in ("fp32", "int8"):
            assistant = assistant_for(dataset, corpus, None, None, precision=precision)
            started = time.perf_counter()
            report = assistant.ensure_index()
            indexed = f"{time.perf_counter() - started:.1f}" if report and not report.up_to_date else "reused"
            run = run_eval(dataset, assistant, ["hybrid"])
            metrics = run.summaries[0].metrics
            answerable = [r for r in run.results if r.answerable]
            hits[precision] += [r.hit1 for r in answerable]
            reciprocal[precision] += [_reciprocal_rank(r) for r in answerable]
            abstention = (
                f"{metrics['abstain_precision']:.3f} / {metrics['abstain_recall']:.3f}"
                if "abstain_precision" in metrics
                else "-"
            )
            figures = f"{metrics['hit@1']:.3f} | {metrics['mrr@10']:.3f} | {abstention}"
            print(f"| {label} | {precision} | {indexed} | {figures} |")
            assistant.close()
    a, b = np.array(hits["fp32"]), np.array(hits["int8"])
    p = mcnemar_p(int((a & ~b).sum()), int((~a & b).sum()))
    differences = np.array(reciprocal["int8"]) - np.array(reciprocal["fp32"])
    low, high = bootstrap_interval(differences, args.bootstrap)
    print(
        f"\nhit@1 over {len(a)} answerable questions: fp32 {a.mean():.4f}, int8 {b.mean():.4f}; "
        f"only fp32 right {int((a & ~b).sum())}, only int8 right {int((~a & b).sum())}; McNemar p = {p:.3f}"
    )
    print(
        f"MRR@10 over {len(differences)} questions: int8 - fp32 = {differences.mean():+.4f}, "
        f"95% bootstrap interval [{low:+.4f}, {high:+.4f}]"
    )
    verdict = p >= ALPHA and low >= -MARGIN and high <= MARGIN
    answer = "yes" if verdict else "no"
    print(f"int8's answers indistinguishable (p >= {ALPHA} and the interval within ±{MARGIN}): {answer}")
    print("load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
