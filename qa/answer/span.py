"""The exact answer inside a cited sentence, and what its relative dates mean.

For a question that asks for a name, a date, an amount, a share or a number, the answer span is the
expression of that type in the sentence that the question does not already contain; when there are several,
the one nearest the words the sentence shares with the question ("will own 30% of the project": "own").
Relative dates ("last month", "on Tuesday") are resolved against the article's date in a note; the quoted
sentence is never changed.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from qa.text.lexical import term_set
from qa.text.mentions import Mention, find_mentions
from qa.text.questions import QuestionAnalysis

# Spelt out rather than taken from `calendar`, whose names follow the process's locale.
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_WORD = re.compile(r"\w+")


def answer_span(question: QuestionAnalysis, sentence: str) -> Mention | None:
    """The expression of the asked type that answers (offsets into `sentence`), or None: untyped questions,
    or none in the sentence."""
    if not question.typed:
        return None
    found = question.new_mentions(find_mentions(sentence))
    if not found:
        return None
    anchors = [m.start() for m in _WORD.finditer(sentence) if term_set(m.group()) & question.words]

    def rank(mention: Mention) -> tuple[int, int]:
        distance = min((abs(mention.start - a) for a in anchors), default=0)
        return question.expects.index(mention.type), distance

    return min(found, key=rank)


def resolve_relative_dates(sentence: str, article_date: str | None) -> list[str]:
    """Notes like '"last month" = July 2020 (article dated 2020-08-18)' for relative dates in the sentence."""
    if not article_date:
        return []
    try:
        day = date.fromisoformat(article_date)
    except ValueError:
        return []
    notes = []
    for mention in find_mentions(sentence):
        if mention.type not in ("date", "year"):
            continue
        meaning = _resolve(mention.text.lower(), day)
        if meaning:
            notes.append(f"“{mention.text}” = {meaning} (article dated {article_date})")
    return notes


def _resolve(expression: str, day: date) -> str | None:
    words = expression.split()
    if expression in ("yesterday", "today", "tomorrow", "tonight"):
        offset = {"yesterday": -1, "today": 0, "tonight": 0, "tomorrow": 1}[expression]
        return (day + timedelta(days=offset)).isoformat()
    if words[0] in _WEEKDAYS and len(words) == 1:
        back = (day.weekday() - _WEEKDAYS.index(words[0])) % 7
        if back == 0:
            return f"{day.isoformat()}, the article's own date"
        return f"{(day - timedelta(days=back)).isoformat()}, the {words[0].capitalize()} before the article"
    if len(words) < 2 or words[0] not in ("last", "next", "this"):
        return None
    step = {"last": -1, "this": 0, "next": 1}[words[0]]
    unit = words[-1]
    if unit == "year":
        return str(day.year + step)
    if unit == "month":
        month = day.month - 1 + step
        return f"{_MONTHS[month % 12]} {day.year + month // 12}"
    if unit == "week":
        monday = day - timedelta(days=day.weekday()) + timedelta(weeks=step)
        return f"the week of {monday.isoformat()}"
    if unit in _WEEKDAYS:
        back = (day.weekday() - _WEEKDAYS.index(unit)) % 7 or 7
        shifted = day - timedelta(days=back) if step <= 0 else day + timedelta(days=(7 - back) or 7)
        return shifted.isoformat()
    return None
