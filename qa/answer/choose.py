"""Choose the sentences that answer a question, or abstain.

Topical closeness alone picks the headline or the lead: they are about the same thing as the question. What
answers is a sentence that (a) states an expression of the kind asked for (an amount for "how much", a date
for "when", a name for "who") that the question does not already contain, (b) covers the question's words
once its context is counted (headline and preceding sentences: "the group" is Shell), including the names
and numbers the question is constrained by, and (c) adds something beyond the question. Each candidate gets
the FEATURES below and a linear score over them; the candidates of a question compete (a softmax gives each
its share). Whether to answer at all is a second, question-level model over the best candidate
(ANSWERABLE_FEATURES): citeqa cites it when that probability reaches ANSWER_THRESHOLD and otherwise says the
articles do not say. Both models' weights are fitted on training data only (`python -m qa.eval.fit_answer`:
qa/answer/weights.py and its MANIFEST); the dev sets set the threshold (`bench/fit_answer.py`; docs/answers.md
shows the trade-off). Headlines are context: one is cited only when no body sentence ranks above it.

The reader (qa.reader) then reads the question with each of the READ_CANDIDATES best sentences and their
context; its logit, plus READER_LINEAR_WEIGHT times the linear score, ranks them (`read`). Whether to answer is
then a small logistic model joining the abstention model's log-odds with the reader's logit of the sentence to
cite (JOINT_FEATURES; `python -m qa.eval.fit_joint`, on training questions the reader never trained on): the
reader's probability alone did not separate the unanswerable news questions (docs/reader.md), but it adds to the
feature model's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from qa.answer.candidates import Candidate, mentions_of
from qa.answer.joint_weights import JOINT_BIAS, JOINT_BIAS_BM25, JOINT_WEIGHTS, JOINT_WEIGHTS_BM25
from qa.answer.weights import (
    ANSWERABLE_BIAS,
    ANSWERABLE_BIAS_BM25,
    ANSWERABLE_WEIGHTS,
    ANSWERABLE_WEIGHTS_BM25,
    WEIGHTS,
    WEIGHTS_BM25,
)
from qa.text.questions import QuestionAnalysis

if TYPE_CHECKING:
    from qa.reader.model import Reader, Reading

FEATURES = (
    "cosine",
    "cosine_gap",
    "predicate_cosine",
    "previous_cosine",
    "topicality",
    "lexical",
    "passage",
    "coverage",
    "predicate",
    "context_coverage",
    "constraints",
    "type_match",
    "type_other",
    "type_missing",
    "focus",
    "novelty",
    "headline",
    "lead",
    "length",
)
ANSWERABLE_FEATURES = (
    "probability",
    "cosine",
    "predicate_cosine",
    "coverage",
    "context_coverage",
    "constraints",
    "best_constraints",
    "typed_match",
    "typed_missing",
    "years",
)
# When the reader has read the sentence citeqa would cite, whether to answer is a logistic model over the feature
# model's log-odds and the reader's logit (qa/answer/joint_weights.py, fitted by python -m qa.eval.fit_joint on
# training questions the reader never trained on).
JOINT_FEATURES = ("feature_logit", "reader_logit")
# Answer when the abstention model's probability reaches this: per mode, the threshold with the best mean F1 of
# abstaining over the two dev sets (bench/fit_answer.py; docs/answers.md shows the trade-off it sits on, and
# bench/abstention.py the whole answer step's).
ANSWER_THRESHOLD = 0.3
ANSWER_THRESHOLD_BM25 = 0.35
# With the reader, on the joint model's probability (bench/abstention.py, and --mode bm25), chosen the same way.
ANSWER_THRESHOLD_READER = 0.4
ANSWER_THRESHOLD_READER_BM25 = 0.4
# Further sentences are cited when they are at least half as likely to be the answer as the best one.
EXTRA_SENTENCE_MARGIN = float(np.log(2))
MAX_SENTENCES = 3
# Answers that must be stated as such. "When" is not among them: it is often answered without a date ("after
# the war"); "in what year" is.
_MEASURED = {"number", "money", "percent", "duration", "age", "year"}
# The reader reads this many of the linear ranking's best sentences and ranks them by its logit plus this weight
# times their linear score. Chosen on the dev sets by bench/reader_choice.py (1,500 SQuAD questions, no abstention):
# hit@1 SQuAD 0.838, BBC 0.778 at 6 and 0.5, against 0.831 / 0.778 at 0.25 and 0.841 / 0.722 at 1.0; 8 read gave
# 0.835 / 0.789 for a third more of the reader's time, 12 no more; the reader alone 0.815 / 0.778.
READ_CANDIDATES = 6
READER_LINEAR_WEIGHT = 0.5


@dataclass(frozen=True)
class Scored:
    """A candidate with its features, its ranking score (a logit) and its share of the question's candidates."""

    candidate: Candidate
    features: dict[str, float]
    score: float
    probability: float  # softmax of the scores over the question's candidates
    reading: Reading | None = None  # the reader's, for the candidates it read


def _covered(wanted: dict[str, float], have: set[str]) -> float:
    """IDF-weighted share of the wanted terms present: rare words (names) count more than common ones."""
    total = sum(wanted.values())
    return sum(w for t, w in wanted.items() if t in have) / total if total else 0.0


def feature_matrix(question: QuestionAnalysis, candidates: list[Candidate], idf: dict[str, float]) -> np.ndarray:
    """One row of FEATURES per candidate."""
    wanted = {t: idf.get(t, 1.0) for t in question.words}
    question_terms = question.words
    constraints = set(question.constraints)
    predicate = {t: w for t, w in wanted.items() if t not in constraints}
    focus = set(question.focus)
    primary = question.expects[0] if question.expects else None
    rows = []
    best_cosine = max((c.cosine for c in candidates if c.cosine is not None), default=0.0)
    for candidate in candidates:
        own = candidate.terms
        around = own | candidate.context_terms
        found = mentions_of(candidate.sentence) if question.typed else ()
        new_types = {m.type for m in question.new_mentions(found)}
        cosine = candidate.cosine or 0.0
        rows.append(
            [
                cosine,
                cosine - best_cosine,
                candidate.predicate_cosine or 0.0,
                candidate.previous_cosine or 0.0,
                candidate.topicality or 0.0,
                candidate.lexical,
                candidate.passage,
                _covered(wanted, own),
                _covered(predicate, own),
                _covered(wanted, around),
                len(constraints & around) / len(constraints) if constraints else 1.0,
                float(primary in new_types),
                float(bool(new_types) and primary not in new_types),
                float(question.typed and not new_types),
                len(focus & own) / len(focus) if focus else 0.0,
                len(own - question_terms) / len(own) if own else 0.0,
                float(candidate.headline),
                float(candidate.lead),
                np.log1p(len(own)),
            ]
        )
    matrix = np.array(rows, dtype=np.float64).reshape(-1, len(FEATURES))
    for column in ("lexical", "passage"):  # scale to the best candidate: raw BM25 has no fixed range
        j = FEATURES.index(column)
        top = matrix[:, j].max(initial=0.0)
        matrix[:, j] = matrix[:, j] / top if top > 0 else 0.0
    return matrix


def score(
    question: QuestionAnalysis, candidates: list[Candidate], idf: dict[str, float], dense: bool = True
) -> list[Scored]:
    """Candidates with features and scores, most likely answer first; headlines after body sentences."""
    if not candidates:
        return []
    matrix = feature_matrix(question, candidates, idf)
    weights = WEIGHTS if dense else WEIGHTS_BM25
    scores = matrix @ np.array([weights.get(f, 0.0) for f in FEATURES])
    shares = np.exp(scores - scores.max())
    shares /= shares.sum()
    scored = [
        Scored(c, dict(zip(FEATURES, row, strict=True)), float(z), float(p))
        for c, row, z, p in zip(candidates, matrix, scores, shares, strict=True)
    ]
    return sorted(scored, key=lambda s: (s.candidate.headline, -s.score))


def answerable_features(question: QuestionAnalysis, scored: list[Scored]) -> np.ndarray:
    """Question-level evidence that the articles answer at all: how good the best sentence is, whether the
    names, numbers and years the question is constrained by occur around it, whether it has the asked type."""
    if not scored:
        return np.zeros(len(ANSWERABLE_FEATURES))
    return answerable_row(
        scored[0].probability,
        scored[0].features,
        max(s.features["constraints"] for s in scored),
        years_found(question, [s.candidate for s in scored]),
    )


def years_found(question: QuestionAnalysis, candidates: list[Candidate]) -> float:
    """The share of the question's years that some candidate sentence states (1 when it names none)."""
    if not question.years:
        return 1.0
    found = {y for c in candidates for y in question.years if y in c.sentence.text}
    return len(found) / len(question.years)


def answerable_row(probability: float, top: dict[str, float], best_constraints: float, years: float) -> np.ndarray:
    """ANSWERABLE_FEATURES from the best candidate's probability and features (shared with the fitting)."""
    derived = {
        "probability": probability,
        "best_constraints": best_constraints,
        "years": years,
        "typed_match": top["type_match"] + top["type_other"],
        "typed_missing": top["type_missing"],
    }
    return np.array([derived[f] if f in derived else top[f] for f in ANSWERABLE_FEATURES])


def joint_row(feature_probability: float, reading: Reading) -> np.ndarray:
    """JOINT_FEATURES of the sentence to cite (shared with the fitting)."""
    p = min(max(feature_probability, 1e-6), 1 - 1e-6)
    return np.array([np.log(p / (1 - p)), reading.logit])


def answerable(question: QuestionAnalysis, scored: list[Scored], dense: bool = True) -> float:
    """The probability that the articles answer the question with the best sentence."""
    weights, bias = (ANSWERABLE_WEIGHTS, ANSWERABLE_BIAS) if dense else (ANSWERABLE_WEIGHTS_BM25, ANSWERABLE_BIAS_BM25)
    z = answerable_features(question, scored) @ np.array([weights[f] for f in ANSWERABLE_FEATURES]) + bias
    return float(1.0 / (1.0 + np.exp(-z)))


def read(reader: Reader, question: str, scored: list[Scored]) -> list[Scored]:
    """The READ_CANDIDATES best candidates by the linear ranking, read and ordered by the reader, then the rest."""
    from qa.reader.model import context_text

    ranked = sorted(scored, key=lambda s: -s.score)
    top, rest = ranked[:READ_CANDIDATES], ranked[READ_CANDIDATES:]
    readings = reader.read(
        question,
        [s.candidate.sentence.text for s in top],
        [context_text(s.candidate.context, s.candidate.headline) for s in top],
    )
    done = [replace(s, reading=r) for s, r in zip(top, readings, strict=True)]
    return sorted(done, key=lambda s: -read_score(s)) + sorted(rest, key=lambda s: (s.candidate.headline, -s.score))


def read_score(scored: Scored) -> float:
    """The ranking of read candidates: the reader's logit with a share of the linear score."""
    return scored.reading.logit + READER_LINEAR_WEIGHT * scored.score if scored.reading else scored.score


def of_asked_type(question: QuestionAnalysis, scored: list[Scored]) -> list[Scored]:
    """The candidates that may answer: for a question asking for a number, an amount, a share, a duration, an age or
    a year, only those stating one that the question does not already contain ("How old is Bob Murray?" is not
    answered by a sentence about Bob Murray without an age)."""
    if question.expects and question.expects[0] in _MEASURED:
        return [s for s in scored if not s.features["type_missing"]]
    return scored


def answer_probability(question: QuestionAnalysis, scored: list[Scored], dense: bool = True) -> float:
    """The probability that the articles answer: the abstention model's, judged on the feature ranking's best
    candidate of the asked type (what it was fitted on), joined with the reader's logit when the reader read the
    sentence to cite; 0 when no candidate is of the asked type."""
    return _probability(question, of_asked_type(question, scored), dense)


def answer_threshold(typed: list[Scored], dense: bool = True) -> float:
    """The probability `answer_probability` must reach for the candidates of the asked type (of_asked_type): the
    joint model's threshold once the reader has read the first."""
    if typed and typed[0].reading is not None:
        return ANSWER_THRESHOLD_READER if dense else ANSWER_THRESHOLD_READER_BM25
    return ANSWER_THRESHOLD if dense else ANSWER_THRESHOLD_BM25


def feature_probability(question: QuestionAnalysis, typed: list[Scored], dense: bool = True) -> float:
    """The abstention model's probability, judged on the feature ranking's best of `typed` (what it was fitted on)."""
    by_features = sorted(typed, key=lambda s: (s.candidate.headline, -s.score))
    return answerable(question, by_features, dense) if by_features else 0.0


def _probability(question: QuestionAnalysis, typed: list[Scored], dense: bool) -> float:
    if not typed:
        return 0.0
    probability = feature_probability(question, typed, dense)
    if typed[0].reading is None:
        return probability
    weights, bias = (JOINT_WEIGHTS, JOINT_BIAS) if dense else (JOINT_WEIGHTS_BM25, JOINT_BIAS_BM25)
    z = joint_row(probability, typed[0].reading) @ np.array([weights[f] for f in JOINT_FEATURES]) + bias
    return float(1.0 / (1.0 + np.exp(-z)))


def choose(question: QuestionAnalysis, scored: list[Scored], dense: bool = True) -> list[Scored]:
    """The best sentence of the asked type and up to two nearly as likely ones, or nothing when the probability
    that the articles answer is below its threshold (answer_threshold)."""
    typed = of_asked_type(question, scored)
    if not typed or _probability(question, typed, dense) < answer_threshold(typed, dense):
        return []
    top = typed[0]
    extra = [s for s in typed[1:MAX_SENTENCES] if read_score(s) >= read_score(top) - EXTRA_SENTENCE_MARGIN]
    return [top, *extra]
