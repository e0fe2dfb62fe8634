"""Time in answers: when cited sentences of different dates disagree, the latest is given first, "as of" its date.

News changes its figures: a firm employs 5,000 people in one article and 6,200 in a later one. Both may be
cited; a reader needs to know which is current. Two cited sentences disagree when they come from articles of
different dates and state different answers: different answer spans for a typed question ("how many",
"who"), or for an untyped one different figures of one kind (two amounts, two shares), and otherwise say the
same thing: at least `SAME_FACT` of their other words are shared ("Acme employs 5,000 people in Ohio", "Acme
now employs 6,200 people in Ohio"). Without that last condition two sentences about different events, each
with its own date ("the game was played on February 7", "the owners voted on May 21"), were taken for one
changed fact, and the later article's sentence was put first although it does not answer. Dates inside the
sentences do not count: every article has its own.

The answer stage cites sentences nearly as likely as the best one; an older or newer statement of the same
fact often ranks well below it (its passage scored lower), so it is looked for here: for a typed question, a
`rival` is a sentence of another article of another date that has an answer of the asked type, different from
the best sentence's, says the same thing otherwise, and matches the question about as well (`RIVAL_MARGIN` of
coverage and cosine).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from itertools import combinations

from qa.answer.choose import Scored
from qa.answer.result import Citation
from qa.answer.span import answer_span
from qa.text.lexical import term_set
from qa.text.mentions import Mention, find_mentions
from qa.text.questions import QuestionAnalysis

FIGURES = ("number", "money", "percent", "age", "duration")
RIVAL_MARGIN = 0.1
SAME_FACT = 0.5  # share of the words besides the stated answers that two statements of one fact have in common


def _answers(question: QuestionAnalysis, sentence: str) -> list[Mention]:
    """The sentence's answer span, or for an untyped question the figures it states."""
    span = answer_span(question, sentence)
    if span is not None:
        return [span]
    return [m for m in find_mentions(sentence) if m.type in FIGURES]


def stated(question: QuestionAnalysis, sentence: str) -> frozenset[tuple[str, str]]:
    """What a sentence answers, as (type, text): "6,200" and "6200" are one answer."""
    return frozenset((m.type, _plain(m.text)) for m in _answers(question, sentence))


def differ(a: frozenset[tuple[str, str]], b: frozenset[tuple[str, str]]) -> bool:
    """Two statements differ when they state something of one type differently ("5,000" and "6,200" people);
    a cost and a headcount are two facts, not a disagreement."""
    common = {kind for kind, _ in a} & {kind for kind, _ in b}
    return any({v for k, v in a if k == kind} != {v for k, v in b if k == kind} for kind in common)


def same_fact(question: QuestionAnalysis, a: str, b: str) -> bool:
    """Whether two sentences say the same thing but for their answers: their words other than the stated
    answers overlap by at least SAME_FACT (Jaccard)."""
    rest_a, rest_b = _besides_answers(question, a), _besides_answers(question, b)
    union = rest_a | rest_b
    return bool(union) and len(rest_a & rest_b) / len(union) >= SAME_FACT


def disagree(question: QuestionAnalysis, citations: list[Citation]) -> bool:
    """True when two citations from articles of different dates state the same fact with different answers."""
    dated = [c for c in citations if c.date]
    return any(
        a.date != b.date
        and differ(stated(question, a.sentence), stated(question, b.sentence))
        and same_fact(question, a.sentence, b.sentence)
        for a, b in combinations(dated, 2)
    )


def rival(question: QuestionAnalysis, scored: list[Scored], date_of: Callable[[str], str | None]) -> Scored | None:
    """The best sentence of another dated article that answers the question differently from `scored[0]`."""
    if not question.typed or not scored:
        return None
    top = scored[0]
    day, answer = date_of(top.candidate.sentence.article_id), stated(question, top.candidate.sentence.text)
    if day is None or not answer:
        return None
    for other in scored[1:]:
        article_id = other.candidate.sentence.article_id
        if article_id == top.candidate.sentence.article_id or other.candidate.headline:
            continue
        close = all(other.features[f] >= top.features[f] - RIVAL_MARGIN for f in ("coverage", "cosine"))
        if not (close and other.features["type_match"]):
            continue
        other_day = date_of(article_id)
        found = stated(question, other.candidate.sentence.text)
        if (
            other_day is not None
            and other_day != day
            and differ(found, answer)
            and same_fact(question, top.candidate.sentence.text, other.candidate.sentence.text)
        ):
            return other
    return None


def latest_first(citations: list[Citation]) -> list[Citation]:
    """The citations by their articles' dates, newest first (undated last), renumbered."""
    ordered = sorted(citations, key=lambda c: c.date or "", reverse=True)
    return [replace(c, n=n) for n, c in enumerate(ordered, 1)]


def compose(citations: list[Citation], as_of: bool) -> str:
    """The answer text: each cited sentence with its marker, said "as of" its article's date when asked to."""
    parts = []
    for c in citations:
        sentence = " ".join(c.sentence.split())
        parts.append(f"As of {c.date}: {sentence} [{c.n}]" if as_of and c.date else f"{sentence} [{c.n}]")
    return " ".join(parts)


def _besides_answers(question: QuestionAnalysis, sentence: str) -> frozenset[str]:
    return term_set(sentence) - {t for m in _answers(question, sentence) for t in term_set(m.text)}


def _plain(text: str) -> str:
    return " ".join(text.lower().replace(",", "").split())
