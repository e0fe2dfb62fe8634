"""How far each seed question's outcome is from flipping: the decisions the suite pins, with their margins.

    .venv/bin/python bench/margins.py

A test that asserts the first citation or an abstention passes on every machine only if the decision is not a
near-tie: int8 kernels, BLAS builds and library versions move scores by a few thousandths. For each question of
seeds/questions.jsonl this prints the answerable probability against its threshold and the reader's ranking gap
between the first and second candidate. A margin under 0.05 is flagged where it decides the test: an abstention
that a nudge would flip, or a first citation whose runner-up differs in holding the evidence.
"""

from __future__ import annotations

import json

import qa.answer.compose as compose
from qa.answer.choose import answer_probability, answer_threshold, of_asked_type, read_score
from qa.eval.metrics import contains_gold
from qa.paths import bundled_seeds
from qa.pipeline import Assistant

FLAG = 0.05


def main() -> None:
    seen: dict = {}
    original = compose.choose

    def watching(question, scored, dense=True):
        typed = of_asked_type(question, scored)
        seen["margin"] = answer_probability(question, scored, dense) - answer_threshold(typed, dense)
        ranked = sorted([s for s in scored if s.reading] or scored, key=lambda s: -read_score(s))  # the read ones lead
        seen["gap"] = read_score(ranked[0]) - read_score(ranked[1]) if len(ranked) > 1 else float("inf")
        seen["top"] = [s.candidate.sentence.text for s in ranked[:2]]
        return original(question, scored, dense)

    compose.choose = watching
    assistant = Assistant()
    assistant.ensure_index()
    print("| question | answerable − threshold | reader gap, 1st − 2nd | flag |")
    print("|---|---:|---:|---|")
    for line in (bundled_seeds() / "questions.jsonl").read_text().splitlines():
        item = json.loads(line)
        assistant.ask(item["question"])
        margin = seen["margin"]
        holds = {contains_gold(sentence, item["evidence"]) for sentence in seen["top"]} if item["answerable"] else set()
        near = abs(margin) < FLAG or (margin > 0 and seen["gap"] < FLAG and len(holds) == 2)
        print(f"| {item['id']} | {margin:+.3f} | {seen['gap']:.3f} | {'NEAR' if near else ''} |")


if __name__ == "__main__":
    main()
