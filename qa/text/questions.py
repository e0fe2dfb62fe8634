"""What a question asks for: its kind (who, when, how much…), the types of expression that can answer it, the
attribute it asks about (its focus: "share", "capacity", "year") and the names and numbers it is constrained by.

A sentence can only answer "How much will Shell pay?" if it states an amount that the question does not
already contain; it can only answer "Which act won the 2005 prize?" if it (or what a reader knows at that point
of the article) is about 2005. The answer step scores sentences with these facts, and abstains without them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.errors import UsageError
from qa.text.lexical import IRREGULAR, folded_terms, term_set, terms
from qa.text.mentions import Mention, MentionType, find_mentions

MAX_QUESTION_CHARS = 2000


def validate_question(question: str) -> str:
    question = question.strip()
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 reach us as lone surrogates
        raise UsageError("the question is not valid UTF-8 text; check the terminal's encoding") from None
    if not question:
        raise UsageError('the question is empty; ask something, e.g. citeqa ask "Who met Harry Harris?"')
    if len(question) > MAX_QUESTION_CHARS:
        raise UsageError(f"the question is {len(question):,} characters long; the limit is {MAX_QUESTION_CHARS:,}")
    return question


KINDS = (
    "who",
    "when",
    "where",
    "how much",
    "how many",
    "how long",
    "how old",
    "which",
    "what",
    "why",
    "how",
    "yes/no",
    "other",
)
_WH = {"who", "whom", "whose", "what", "when", "where", "which", "why", "how"}
_AUXILIARIES = {
    "is", "are", "was", "were", "do", "does", "did", "can", "could", "will", "would", "has", "have", "had",
    "should", "shall", "may", "might", "must",
}  # fmt: skip
_HOW = {
    "much": ("how much", ("money", "number", "percent")),
    "many": ("how many", ("number", "duration")),
    "long": ("how long", ("duration", "number", "date", "year")),
    "old": ("how old", ("age",)),
    "far": ("how", ("number",)),
    "big": ("how", ("number", "money")),
    "large": ("how", ("number", "money")),
    "often": ("how", ("number", "duration")),
    "tall": ("how", ("number",)),
    "fast": ("how", ("number",)),
}
# The noun after "what"/"which" says what kind of expression answers.
_DATE_NOUNS = {"year", "date", "day", "month", "time", "decade", "century", "season", "week", "era", "period"}
_QUANTITY_NOUNS = {
    "share", "percentage", "proportion", "percent", "price", "cost", "level", "amount", "number", "size",
    "figure", "value", "rate", "sum", "total", "fee", "salary", "age", "score", "margin", "capacity",
    "population", "growth", "shortfall", "deficit", "surplus", "stake", "fine", "bill", "budget", "debt",
    "profit", "profits", "loss", "losses", "revenue", "sales", "turnover", "fall", "rise", "increase", "drop",
    "distance", "height", "weight", "length", "speed", "temperature", "compensation", "sentence", "award",
    "valuation", "bid", "offer", "deal", "payout", "tax", "wage", "wages", "pay", "savings", "spending",
}  # fmt: skip
_DURATION_NOUNS = {"duration", "length", "term"}
_PLACE_NOUNS = {
    "city", "town", "country", "nation", "region", "place", "venue", "ground", "stadium", "state", "area",
    "capital", "village", "county", "island", "continent", "location", "site", "street", "district",
}  # fmt: skip
_NAME_NOUNS = {
    "company", "firm", "team", "club", "paper", "newspaper",
    "magazine", "channel", "station", "network", "university", "party", "band", "group", "organisation",
    "organization", "body", "regulator", "agency", "airline", "bank", "brand", "person", "man", "woman",
}  # fmt: skip
_STOP_FOCUS = _AUXILIARIES | {
    "of", "in", "on", "at", "for", "to", "by", "from", "with", "the", "a", "an", "that", "this", "these",
    "those", "and", "or", "kind", "type", "sort", "part", "one", "ones",
}  # fmt: skip
_CAUSE_VERBS = {"led", "leads", "caused", "causes", "prompted", "made", "forced", "triggered", "drove", "hit"}
_SAYING_VERBS = {
    "say", "said", "tell", "told", "describe", "described", "call", "called", "characterise", "characterize",
    "characterised", "characterized", "compare", "compared", "insist", "insisted", "claim", "claimed", "warn",
    "warned", "argue", "argued", "admit", "admitted", "add", "added",
}  # fmt: skip
_WORD = re.compile(r"[\w’'-]+")
_YEAR = re.compile(r"\b(?:1[5-9]|20)\d\d\b")


@dataclass(frozen=True)
class QuestionAnalysis:
    """What the answer step needs to know about a question."""

    text: str
    kind: str
    expects: tuple[MentionType, ...]
    focus: tuple[str, ...]
    terms: tuple[str, ...]  # as BM25 indexes them
    words: frozenset[str]  # as the answer step compares them with sentences (qa.text.lexical.term_set)
    constraints: tuple[str, ...]
    years: tuple[str, ...]
    prefixes: frozenset[str]  # five-letter word prefixes, so "Russian" counts as said when "Russia" was

    @property
    def typed(self) -> bool:
        return bool(self.expects)

    def new_mentions(self, found: Sequence[Mention]) -> list[Mention]:
        """The mentions `found` in a sentence (qa.text.mentions) of an expected type that the question does not
        already contain."""
        if not self.expects:
            return []
        return [m for m in found if m.type in self.expects and _prefixes(m.text) - self.prefixes]


def _prefixes(text: str) -> set[str]:
    return {w.lower()[:5] for w in _WORD.findall(text)}


def _kind_and_focus(words: list[str]) -> tuple[str, tuple[MentionType, ...], list[str]]:  # noqa: C901  (one case per wh-word)
    position = next((i for i, w in enumerate(words[:6]) if w in _WH), None)
    if position is None:
        return ("yes/no" if words and words[0] in _AUXILIARIES else "other"), (), []
    wh = words[position]
    after = words[position + 1 :]
    focus = []
    for word in after[:3]:
        if word in _STOP_FOCUS or word in _WH or (focus and (word in IRREGULAR or word.endswith("ed"))):
            break  # the focus is the noun phrase after the wh-word, up to its verb
        focus.append(word)
    if wh in ("who", "whom", "whose"):
        return "who", ("name", "place"), []
    if wh == "when":
        return "when", ("date", "year"), []
    if wh == "where":
        return "where", ("place", "name"), []
    if wh == "why":
        return "why", ("reason",), []
    if wh == "what" and after and after[0] in _CAUSE_VERBS:
        return "what", ("reason",), []  # "what led Size to join…" asks why
    plain_how = wh == "how" and not (after and after[0] in _HOW)
    if set(words) & _SAYING_VERBS and (plain_how or wh == "what"):
        return wh, ("quote",), focus  # "what did Edu compare the scenes to", "how did he characterise…"
    if wh == "how":
        if after and after[0] in _HOW:
            kind, expects = _HOW[after[0]]
            return kind, expects, [w for w in after[1:3] if w not in _STOP_FOCUS][:1]
        return "how", (), []
    kind = wh  # what / which
    nouns = set(focus)
    if nouns & {"year", "decade", "century"}:
        return kind, ("year",), focus
    if nouns & _DATE_NOUNS:
        return kind, ("date", "year"), focus
    if nouns & _DURATION_NOUNS:
        return kind, ("duration", "number"), focus
    if nouns & _QUANTITY_NOUNS:
        return kind, ("money", "percent", "number"), focus
    if nouns & _PLACE_NOUNS:
        return kind, ("place", "name"), focus
    if focus and (kind == "which" or nouns & _NAME_NOUNS):
        return kind, ("name", "place"), focus
    return kind, (), focus


def predicate_text(question: str) -> str:
    """The question without the names, numbers and dates it is about: what it asks of them.
    Its vector finds the sentence stating the asked relation ("previous host Wes Butters") rather than the
    sentences that merely share the question's subject (the headline, the lead)."""
    kept, last = [], 0
    for mention in find_mentions(question):
        if mention.start > 0:
            kept.append(question[last : mention.start])
            last = mention.end
    kept.append(question[last:])
    stripped = " ".join("".join(kept).split())
    return stripped if len(stripped.split()) >= 2 else question


def analyse_question(question: str) -> QuestionAnalysis:
    """The kind, expected answer types, focus, terms and constraints of a question."""
    words = [w.lower() for w in _WORD.findall(question)]
    kind, expects, focus = _kind_and_focus(words)
    mentions = [m for m in find_mentions(question) if m.type != "name" or m.start > 0]
    constraints = tuple(dict.fromkeys(t for m in mentions for t in term_set(m.text)))
    return QuestionAnalysis(
        text=question,
        kind=kind,
        expects=expects,
        focus=tuple(dict.fromkeys(folded_terms(" ".join(focus)))),
        terms=tuple(terms(question)),
        words=term_set(question),
        constraints=constraints,
        years=tuple(dict.fromkeys(_YEAR.findall(question))),
        prefixes=frozenset(_prefixes(question)),
    )
