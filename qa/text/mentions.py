"""Typed expressions in a sentence: names, numbers, amounts, shares, dates and durations, with offsets.

What a question asks for ("how much", "when", "who") can only be answered by a sentence that holds such an
expression, so the answer step looks for them, and the exact answer is one of them. These are patterns, not a
trained tagger: they run in microseconds per sentence at question time, need no model download, and what they
miss (a name written in lower case, a number spelt out in words it does not list) only costs a feature, never
an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from qa.text.sentences import without_controls

MentionType = Literal[
    "name", "place", "number", "money", "percent", "age", "year", "date", "duration", "reason", "quote"
]

_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    "seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|dozen|"
    "dozens|hundreds|thousands|millions|billions|a\\s+million|a\\s+billion|a\\s+thousand|half"
)
_NUMERAL = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_SCALE = r"(?:\s?(?:bn|m|k|tn|million|billion|trillion|thousand|crore|lakh)\b)"
_CURRENCY = r"(?:US\$|A\$|C\$|HK\$|[$£€¥₩₹])"
_CURRENCY_WORDS = r"(?:dollars|pounds|euros|yen|won|yuan|rupees|pence|francs|cents|sterling)"
_MONTHS = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
)
_WEEKDAY_NAMES = r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_WEEKDAYS = rf"(?:{_WEEKDAY_NAMES})"
_UNITS = r"(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|centuries|century|nights?)"
_COUNT = rf"(?:{_NUMERAL}|{_NUMBER_WORDS}|a|an|several|few|many)"

_PATTERNS: tuple[tuple[MentionType, re.Pattern[str]], ...] = (
    ("money", re.compile(rf"{_CURRENCY}\s?{_NUMERAL}{_SCALE}?|\b{_NUMERAL}{_SCALE}?\s+{_CURRENCY_WORDS}\b")),
    ("percent", re.compile(rf"\b{_NUMERAL}\s?(?:%|per\s?cent\b|percent\b|percentage points?\b)")),
    ("age", re.compile(r"\b\d{1,3}-year-old\b|\baged\s+\d{1,3}\b|(?<=[a-z], )\d{1,3}(?=,\s)")),
    ("year", re.compile(r"\b(?:1[5-9]|20)\d\d(?:s|-\d\d)?\b")),
    (
        "date",
        re.compile(
            rf"\b(?:{_WEEKDAYS}(?:,?\s+(?:\d{{1,2}}\s+{_MONTHS}|{_MONTHS}\s+\d{{1,2}}))?"
            rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}(?:,?\s+(?:1[5-9]|20)\d\d)?"
            rf"|{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+(?:1[5-9]|20)\d\d)?"
            rf"|(?:early|mid|late|the\s+end\s+of|the\s+start\s+of)?-?\s?{_MONTHS}(?:\s+(?:1[5-9]|20)\d\d)?"
            r"|(?i:yesterday|today|tomorrow|tonight)"
            r"|(?i:last|next|this|earlier\s+this|later\s+this)\s+(?:week|month|year|spring|summer|autumn|winter|"
            rf"season|weekend|{_WEEKDAY_NAMES}))\b"
        ),
    ),
    ("duration", re.compile(rf"\b{_COUNT}(?:[\s-]+(?:and\s+a\s+half\s+)?){_UNITS}\b", re.I)),
    (
        "number",
        # "one" is mostly a pronoun in news ("one of the firms"), not a count
        re.compile(rf"(?<![\w.,]){_NUMERAL}{_SCALE}?(?![\w%])|\b(?!one\b)(?:{_NUMBER_WORDS})\b", re.I),
    ),
)
# Clauses that answer "why" and "what did she say"; they may contain names and numbers of their own.
_CLAUSES: tuple[tuple[MentionType, re.Pattern[str]], ...] = (
    (
        "reason",
        re.compile(
            r"\b(?:because(?:\s+of)?|due\s+to|owing\s+to|as\s+a\s+result\s+of|thanks\s+to|in\s+a\s+bid\s+to|"
            r"in\s+order\s+to|so\s+that|after)\s[^.;:!?”\"]{3,160}",
            re.I,
        ),
    ),
    ("quote", re.compile(r"[“\"][^”\"]{8,400}[”\"]")),
)
# A run of capitalised words (allowing "of", "for", "and", "de"… inside): people, places, organisations, titles.
_CAPITALISED = r"(?:[A-Z][\w'’&.-]*|[a-z]+[A-Z][\w'’&.-]*|\d+[A-Z][\w-]*)"
_NAME = re.compile(
    rf"\b{_CAPITALISED}(?:\s+(?:(?:of|for|and|the|de|la|le|van|von|der|du|da|al|el|y)\s+)*"
    rf"{_CAPITALISED})*"
)
# A name after one of these is (most often) a place: "lives in Cleveland", "held at the Luna Park".
_LOCATIVE = re.compile(r"(?:\b(?:in|at|near|outside|from|to|into|across|around)\s+(?:the\s+)?)$")
_NAME_CONNECTORS = {"of", "for", "and", "the", "de", "la", "le", "van", "von", "der", "du", "da", "al", "el", "y"}


# Each pattern can only match where a digit (when it takes one) or one of its words occurs, so most are skipped
# on most sentences after one pass that collects the sentence's words: 82 µs a news sentence instead of 122,
# paid by every sentence indexed. tests/test_answer_stage.py checks the skip never changes a result.
_MONTH_WORDS = """january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec""".split()  # noqa: SIM905
_UNIT_WORDS = """second seconds minute minutes hour hours day days week weeks month months year years decade decades
    century centuries night nights""".split()  # noqa: SIM905
_NONE: frozenset[str] = frozenset()
# kind -> (whether a digit lets it match, the words that do)
_TRIGGERS: dict[str, tuple[bool, frozenset[str]]] = {
    "money": (True, _NONE),
    "percent": (True, _NONE),
    "age": (True, _NONE),
    "year": (True, _NONE),
    "date": (
        False,
        frozenset(_MONTH_WORDS).union(
            _WEEKDAY_NAMES.lower().split("|"), ["yesterday", "today", "tomorrow", "tonight", "last", "next", "this"]
        ),
    ),
    "duration": (False, frozenset(_UNIT_WORDS)),
    "number": (True, frozenset(alternative.split("\\s+")[-1] for alternative in _NUMBER_WORDS.split("|"))),
    "reason": (False, frozenset(["because", "due", "owing", "result", "thanks", "bid", "order", "so", "after"])),
    "quote": (False, frozenset('"“')),
}
_WORDS = re.compile(r"[^\W\d_]+|[“\"]")
_DIGIT = re.compile(r"\d")


def _worth_trying(kind: str, words: frozenset[str], digits: bool) -> bool:
    """Whether the pattern for `kind` can match a text with these (case-folded) words and digits."""
    by_digit, triggers = _TRIGGERS[kind]
    return (by_digit and digits) or not words.isdisjoint(triggers)


@dataclass(frozen=True)
class Mention:
    """A typed expression found at `text[start:end]`."""

    type: MentionType
    start: int
    end: int
    text: str


# Words that start a sentence with a capital without being a name ("The", "But", "Despite", "He").
_COMMON_WORDS = frozenset(
    """nothing something everything anything nobody everyone someone anyone a an the and or but nor so yet for
    of in on at by to from with without within into onto over under about
    above across after against along amid among around as before behind below beneath beside between beyond
    despite during except inside like near off outside past since than through throughout toward towards
    until unlike upon via whether while although though because if unless whereas when where which who whom
    whose what why how however meanwhile moreover instead also still then there here now today yesterday
    tomorrow this that these those it its he she they we i you him her them us me my our your his their hers
    theirs ours mine yours is are was were be been being has have had do does did will would shall should
    can could may might must not no yes all any both each every either neither few many much more most other
    another some several such only own same too very just even ever never always often already according
    speaking asked mr mrs ms dr sir lord new first second third last next one two three""".split()  # noqa: SIM905
)


def _names(text: str) -> list[Mention]:
    found = []
    for match in _NAME.finditer(text):
        start, end = match.span()
        words = match.group().split()
        # strip leading common words ("The BBC" -> "BBC", "But Smith" -> "Smith") and trailing connectors
        while words and (words[0].lower() in _COMMON_WORDS or words[0].lower() in _NAME_CONNECTORS):
            start = text.index(words[0], start) + len(words[0])
            start += len(text[start:]) - len(text[start:].lstrip())
            words = words[1:]
        while words and (words[-1].lower() in _NAME_CONNECTORS or words[-1].lower() in _COMMON_WORDS):
            words = words[:-1]
        if not words:
            continue
        end = text.rindex(words[-1], start, end) + len(words[-1])
        end -= len(text[start:end]) - len(text[start:end].rstrip(".’'-"))
        if end > start and not text[start:end].isdigit():
            kind = "place" if _LOCATIVE.search(text[max(0, start - 16) : start]) else "name"
            found.append(Mention(kind, start, end, text[start:end]))
    return found


@lru_cache(maxsize=4096)
def find_mentions(text: str) -> tuple[Mention, ...]:
    """Every typed expression of `text`, in order of position; an expression is claimed by the first
    (most specific) pattern that matches it: "£4,250" is money, not also a number. Control sequences are
    blanked first, so none is ever part of an expression. Cached: the candidate sentences of a conversation's
    questions repeat."""
    visible = without_controls(text)
    if visible != text:
        return tuple(Mention(m.type, m.start, m.end, text[m.start : m.end]) for m in find_mentions(visible))
    words = frozenset(_WORDS.findall(text.casefold()))
    digits = _DIGIT.search(text) is not None
    return _claim(
        text,
        tuple((kind, p) for kind, p in _PATTERNS if _worth_trying(kind, words, digits)),
        tuple((kind, p) for kind, p in _CLAUSES if _worth_trying(kind, words, digits)),
    )


def _claim(
    text: str,
    patterns: tuple[tuple[MentionType, re.Pattern[str]], ...],
    clauses: tuple[tuple[MentionType, re.Pattern[str]], ...],
) -> tuple[Mention, ...]:
    """The mentions `patterns` find, each span claimed by the first that matches, then names in what is left,
    then `clauses` (which may overlap the rest)."""
    found: list[Mention] = []

    def free(start: int, end: int) -> bool:
        return all(end <= m.start or start >= m.end for m in found)

    for kind, pattern in patterns:
        for match in pattern.finditer(text):
            start, end = match.span()
            while start < end and text[start].isspace():
                start += 1
            if end > start and free(start, end):
                found.append(Mention(kind, start, end, text[start:end]))
    found += [m for m in _names(text) if free(m.start, m.end)]
    for kind, pattern in clauses:
        found += [Mention(kind, m.start(), m.end(), m.group()) for m in pattern.finditer(text)]
    return tuple(sorted(found, key=lambda m: m.start))


def encode_mentions(text: str) -> str:
    """The typed expressions of `text` as an index keeps them: "type start end", separated by ";"."""
    return ";".join(f"{m.type} {m.start} {m.end}" for m in find_mentions(text))


def decode_mentions(text: str, encoded: str) -> tuple[Mention, ...]:
    """The mentions `encode_mentions(text)` kept."""
    found = []
    for item in encoded.split(";") if encoded else ():
        kind, start, end = item.split(" ")
        found.append(Mention(kind, int(start), int(end), text[int(start) : int(end)]))  # type: ignore[arg-type]
    return tuple(found)
