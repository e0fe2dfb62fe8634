"""Fit the answer step on SQuAD: sentence-score weights, fusion weight, and the abstention threshold.

Unanswerable questions are simulated by asking each question with every paragraph of its own Wikipedia
article removed from the results, so the best remaining sentence is what citeqa would cite for a question
the corpus does not answer. Prints the grid; the chosen constants live in qa/answer.py and qa/retrieve.py.

    .venv/bin/python bench/tune_answer.py [--questions 1500]
"""

from __future__ import annotations

import argparse
import itertools
import random
from pathlib import Path

import numpy as np

from qa.answer import ABSTAIN_BELOW, COVERAGE_WEIGHT, score_sentences
from qa.datasets import load_dataset
from qa.evaluate import assistant_for
from qa.lexical import terms
from qa.metrics import contains_gold
from qa.pipeline import ANSWER_PASSAGES
from qa.retrieve import Query, Retriever

SQUAD = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "squad-v1.1-dev-half.json"


def features(retriever, question, vector, question_terms, exclude_prefix=None):
    passages = retriever.search(Query(question, question_terms, vector), k=40, mode="hybrid")
    if exclude_prefix:
        passages = [p for p in passages if not p.chunk.article_id.startswith(exclude_prefix)]
    scored = score_sentences(retriever, passages[:ANSWER_PASSAGES], vector, question_terms)
    return scored


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", type=Path, default=SQUAD)
    parser.add_argument("--questions", type=int, default=1500)
    args = parser.parse_args()
    dataset = load_dataset(args.dataset)
    assistant = assistant_for(dataset, None, None)
    assistant.ensure_index()
    random.seed(13)
    sample = random.sample(dataset.questions, min(args.questions, len(dataset.questions)))
    vectors = assistant.embedder.encode([q.question for q in sample])
    retriever = Retriever(assistant.index)
    rows = []  # per question: candidate features (cos, lex_scaled, passage_scaled, gold)
    support_pos, support_neg = [], []
    for item, vector in zip(sample, vectors, strict=True):
        question_terms = terms(item.question)
        scored = features(retriever, item.question, vector, question_terms)
        if scored:
            lex = np.array([s.lexical for s in scored])
            pas = np.array([s.passage for s in scored])
            rows.append(
                (
                    np.array([s.cosine for s in scored]),
                    lex / lex.max() if lex.max() > 0 else lex,
                    (pas - pas.min()) / (pas.max() - pas.min()) if pas.max() > pas.min() else np.ones_like(pas),
                    np.array([contains_gold(s.sentence.text, item.answers) for s in scored]),
                )
            )
            support_pos.append((scored[0].cosine, scored[0].coverage))
        prefix = next(iter(item.gold_docs))[:4]
        negative = features(retriever, item.question, vector, question_terms, exclude_prefix=prefix)
        if negative:
            support_neg.append((negative[0].cosine, negative[0].coverage))

    print(f"{len(rows)} questions with candidates")
    print(f"{'w_cos':>6} {'w_lex':>6} {'w_pas':>6} {'hit@1':>7} {'hit@3':>7}")
    results = []
    for w_cos, w_lex in itertools.product(np.arange(0.2, 1.01, 0.1), np.arange(0.0, 0.81, 0.1)):
        w_pas = 0.15
        hit1 = hit3 = 0
        for cos, lex, pas, gold in rows:
            order = np.argsort(-(w_cos * cos + w_lex * lex + w_pas * pas), kind="stable")
            hit1 += gold[order[0]]
            hit3 += gold[order[:3]].any()
        results.append((hit1 / len(rows), hit3 / len(rows), w_cos, w_lex, w_pas))
    for hit1, hit3, w_cos, w_lex, w_pas in sorted(results, reverse=True)[:8]:
        print(f"{w_cos:6.2f} {w_lex:6.2f} {w_pas:6.2f} {hit1:7.3f} {hit3:7.3f}")

    pos, neg = np.array(support_pos), np.array(support_neg)
    print("\nabstention: support = cosine + lam * term coverage of the best sentence")
    print(f"{'lam':>5} {'thresh':>7} {'keep answerable':>16} {'abstain unanswerable':>21} {'balanced':>9}")
    for lam in (0.0, 0.1, 0.2, 0.3, 0.4):
        s_pos, s_neg = pos[:, 0] + lam * pos[:, 1], neg[:, 0] + lam * neg[:, 1]
        best = max(((np.mean(s_pos >= t) + np.mean(s_neg < t)) / 2, t) for t in np.arange(0.1, 0.9, 0.01))
        t = best[1]
        print(f"{lam:5.2f} {t:7.2f} {np.mean(s_pos >= t):16.3f} {np.mean(s_neg < t):21.3f} {best[0]:9.3f}")
    s_pos = pos[:, 0] + COVERAGE_WEIGHT * pos[:, 1]
    s_neg = neg[:, 0] + COVERAGE_WEIGHT * neg[:, 1]
    print(f"\ntrade-off at lam={COVERAGE_WEIGHT} (the shipped value; threshold {ABSTAIN_BELOW})")
    for t in np.arange(0.35, 0.71, 0.05):
        kept, abstained = np.mean(s_pos >= t), np.mean(s_neg < t)
        print(f"  threshold {t:.2f}: keep answerable {kept:.3f}, abstain unanswerable {abstained:.3f}")


if __name__ == "__main__":
    main()
