"""The abstention trade-off of the whole answer step (hybrid retrieval, the feature model, the reader) on the dev
sets, per threshold on the probability that the articles answer: where the thresholds are chosen (with the reader,
ANSWER_THRESHOLD_READER on the joint model's probability; with --no-reader, ANSWER_THRESHOLD on the feature
model's).

    .venv/bin/python bench/abstention.py [--squad-questions 1500] [--no-reader] [--mode bm25]

Every question is retrieved and answered once, as `citeqa ask` answers it, and the probability that the articles
answer and the first sentence the step would cite are kept; each threshold is then applied to those. The BBC dev
questions (90 answerable, 30 unanswerable) on the BBC corpus, and --squad-questions of the SQuAD dev half (a fixed
sample), each asked as it is and with its own Wikipedia article's passages removed, which makes it unanswerable.
Printed per threshold: hit@1 of the answerable questions (an abstention counts as a miss), the share of them
answered, the precision and recall of abstaining, and the count of wrong answers (a first sentence that does not
answer, cited for an answerable or an unanswerable question: what a user is misled by). The timeline's
reordering of dated articles is not applied: the first sentence is the chosen one.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter

from fit_answer import BBC, BBC_CORPUS, SQUAD

from qa.answer.choose import answer_probability, answer_threshold, of_asked_type
from qa.eval.datasets import load_dataset
from qa.eval.evaluate import assistant_for
from qa.eval.fit_answer import trade_off, without_own_article
from qa.eval.metrics import contains_gold
from qa.pipeline import Assistant
from qa.settings import Settings
from qa.text.questions import analyse_question

THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)


def judged(
    assistant: Assistant, questions, without_own: bool, mode: str
) -> tuple[list[tuple[bool, float, bool]], float]:
    """(answerable, the probability that the articles answer, whether the first sentence it would cite is right)
    for each question, and for each also without its own article when asked; and the product's threshold (the one
    most of them were judged at: without a candidate the reader read, a question falls back to the feature model's)."""
    out, thresholds = [], Counter()
    for item in questions:
        retrieval = assistant.search(item.question, k=40, mode=mode)
        runs = [(item.answerable, None)]
        if without_own:
            runs.append((False, without_own_article(retrieval.passages, item)))
        analysis = analyse_question(item.question)
        for answerable, passages in runs:
            typed = of_asked_type(analysis, assistant.score(retrieval, passages))
            right = bool(answerable and typed and contains_gold(typed[0].candidate.sentence.text, item.gold_strings))
            dense = retrieval.vector is not None
            out.append((answerable, answer_probability(analysis, typed, dense), right))
            if typed:
                thresholds[answer_threshold(typed, dense)] += 1
    return out, thresholds.most_common(1)[0][0] if thresholds else float("nan")


def table(name: str, judgements: tuple[list[tuple[bool, float, bool]], float]) -> None:
    outcomes, threshold = judgements
    answerable = sum(a for a, _, _ in outcomes)
    print(f"\n{name}: {answerable} answerable, {len(outcomes) - answerable} unanswerable")
    print("| threshold | hit@1 | answered | abstain P | abstain R | abstain F1 | wrong answers |")
    print("|---|---|---|---|---|---|---|")
    for row in trade_off(outcomes, THRESHOLDS):
        mark = "**" if abs(row["threshold"] - threshold) < 1e-9 else ""
        wrong = sum(p >= row["threshold"] and not right for _, p, right in outcomes)
        precision, recall = row["abstain_precision"], row["abstain_recall"]
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        print(
            f"| {mark}{row['threshold']}{mark} | {row['right']:.3f} | {row['answered']:.3f}"
            f" | {precision:.2f} | {recall:.2f} | {f1:.3f} | {wrong} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad-questions", type=int, default=1500, help="SQuAD questions asked (a fixed sample)")
    parser.add_argument("--no-reader", action="store_true", help="the feature model alone, as `--no-reader` answers")
    parser.add_argument("--mode", choices=("hybrid", "dense", "bm25"), default="hybrid", help="retrieval mode")
    args = parser.parse_args()
    started = time.perf_counter()
    settings = Settings(reader=not args.no_reader)
    bbc = Assistant(corpus=BBC_CORPUS, settings=settings)
    bbc.ensure_index()
    table("BBC dev", judged(bbc, load_dataset(BBC).questions, False, args.mode))
    squad = load_dataset(SQUAD)
    squad_assistant = assistant_for(squad, None, None, None, settings)
    squad_assistant.ensure_index()
    sample = random.Random(7).sample(squad.questions, min(args.squad_questions, len(squad.questions)))
    table("SQuAD dev half", judged(squad_assistant, sample, True, args.mode))
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
