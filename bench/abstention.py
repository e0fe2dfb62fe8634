"""The abstention trade-off of the whole answer step (hybrid retrieval, the feature model, the reader) on the dev
sets, per threshold on the abstention model's probability: where ANSWER_THRESHOLD is chosen.

    .venv/bin/python bench/abstention.py [--squad-questions 1500]

Every question is retrieved and answered once, as `citeqa ask` answers it, and the abstention model's probability
and the first sentence the step would cite are kept; each threshold is then applied to those. The BBC dev
questions (90 answerable, 30 unanswerable) on the BBC corpus, and --squad-questions of the SQuAD dev half (a fixed
sample), each asked as it is and with its own Wikipedia article's passages removed, which makes it unanswerable.
Printed per threshold: hit@1 of the answerable questions (an abstention counts as a miss), the share of them
answered, and the precision and recall of abstaining. The timeline's reordering of dated articles is not applied:
the first sentence is the chosen one.
"""

from __future__ import annotations

import argparse
import random
import time

from fit_answer import BBC, BBC_CORPUS, SQUAD

from qa.answer.choose import ANSWER_THRESHOLD, answer_probability, of_asked_type
from qa.eval.datasets import load_dataset
from qa.eval.evaluate import assistant_for
from qa.eval.fit_answer import trade_off, without_own_article
from qa.eval.metrics import contains_gold
from qa.pipeline import Assistant
from qa.text.questions import analyse_question

THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6)


def judged(assistant: Assistant, questions, without_own: bool) -> list[tuple[bool, float, bool]]:
    """(answerable, the abstention model's probability, whether the first sentence it would cite is right) for
    each question, and for each also without its own article when asked."""
    out = []
    for item in questions:
        retrieval = assistant.search(item.question, k=40)
        runs = [(item.answerable, None)]
        if without_own:
            runs.append((False, without_own_article(retrieval.passages, item)))
        analysis = analyse_question(item.question)
        for answerable, passages in runs:
            typed = of_asked_type(analysis, assistant.score(retrieval, passages))
            right = bool(answerable and typed and contains_gold(typed[0].candidate.sentence.text, item.gold_strings))
            out.append((answerable, answer_probability(analysis, typed), right))
    return out


def table(name: str, outcomes: list[tuple[bool, float, bool]]) -> None:
    answerable = sum(a for a, _, _ in outcomes)
    print(f"\n{name}: {answerable} answerable, {len(outcomes) - answerable} unanswerable")
    print("| threshold | hit@1 | answered | abstain P | abstain R |")
    print("|---|---|---|---|---|")
    for row in trade_off(outcomes, THRESHOLDS):
        mark = "**" if row["threshold"] == ANSWER_THRESHOLD else ""
        print(
            f"| {mark}{row['threshold']}{mark} | {row['right']:.3f} | {row['answered']:.3f}"
            f" | {row['abstain_precision']:.2f} | {row['abstain_recall']:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--squad-questions", type=int, default=1500, help="SQuAD questions asked (a fixed sample)")
    args = parser.parse_args()
    started = time.perf_counter()
    bbc = Assistant(corpus=BBC_CORPUS)
    bbc.ensure_index()
    table("BBC dev", judged(bbc, load_dataset(BBC).questions, False))
    squad = load_dataset(SQUAD)
    squad_assistant = assistant_for(squad, None, None, None)
    squad_assistant.ensure_index()
    sample = random.Random(7).sample(squad.questions, min(args.squad_questions, len(squad.questions)))
    table("SQuAD dev half", judged(squad_assistant, sample, True))
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
