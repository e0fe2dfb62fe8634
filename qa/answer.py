"""Extractive answers: pick the best one to three sentences of the retrieved passages and cite each.

A sentence's score mixes three signals, each scaled to [0, 1] over the candidates: its cosine similarity to
the question (meaning), its BM25 score as a sentence (the question's rare words), and the score of the
passage it came from (context). Weights and the abstention threshold were fitted on SQuAD and the seed
questions with `bench/tune_answer.py`; the README says how.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qa.lexical import terms as lexical_terms
from qa.retrieve import Passage, Retriever, minmax
from qa.store import SentenceRow

# Fitted on data (bench/tune_answer.py); see the README's "How answers are chosen".
WEIGHT_COSINE = 0.4
WEIGHT_LEXICAL = 0.3
WEIGHT_PASSAGE = 0.15
# Support = cosine + COVERAGE_WEIGHT * (share of the question's terms in the sentence); below the threshold
# the articles do not answer the question.
COVERAGE_WEIGHT = 0.3
ABSTAIN_BELOW = 0.50
# Extra sentences must score within this fraction of the best one to be added to the answer.
EXTRA_SENTENCE_RATIO = 0.85
MAX_SENTENCES = 3
NOT_ANSWERED = "The indexed articles do not say."


@dataclass(frozen=True)
class ScoredSentence:
    sentence: SentenceRow
    score: float
    cosine: float | None
    lexical: float
    passage: float
    coverage: float

    @property
    def support(self) -> float:
        """How well this sentence could answer the question at all (not how it ranks among the others)."""
        if self.cosine is None:
            return self.coverage
        return self.cosine + COVERAGE_WEIGHT * self.coverage


@dataclass(frozen=True)
class Citation:
    """One cited sentence: `[n]` in the answer text points here."""

    n: int
    article_id: str
    title: str
    date: str | None
    path: str
    line: int
    sentence: str
    start: int
    end: int
    score: float


@dataclass
class Answer:
    """What `ask` returns: the composed text, its citations, the passages behind it, and timings in ms."""

    question: str
    text: str
    citations: list[Citation]
    passages: list[Passage]
    timings: dict[str, float] = field(default_factory=dict)
    mode: str = "hybrid"

    @property
    def answered(self) -> bool:
        return bool(self.citations)


def score_sentences(
    retriever: Retriever, passages: list[Passage], question_vector: np.ndarray | None, terms: list[str]
) -> list[ScoredSentence]:
    """Every sentence of the passages, scored, best first; a sentence in two overlapping chunks counts once."""
    best_passage: dict[int, float] = {}
    for passage in passages:
        for row in range(passage.chunk.first_sentence_row, passage.chunk.last_sentence_row + 1):
            best_passage[row] = max(best_passage.get(row, -np.inf), passage.score)
    if not best_passage:
        return []
    rows = np.array(sorted(best_passage))
    sentences = retriever.index.store.sentences(rows.tolist())
    lexical = np.asarray(retriever.bm25_scores(terms, "sentences"))[rows]
    passage_scores = np.array([best_passage[r] for r in rows])
    cosine = None
    if question_vector is not None:
        cosine = retriever.index.sentence_matrix(rows) @ question_vector
    lexical_scaled = lexical / lexical.max() if lexical.max() > 0 else np.zeros_like(lexical)
    passage_scaled = minmax(passage_scores) if len(passages) > 1 else np.ones_like(passage_scores)
    if cosine is None:
        combined = (WEIGHT_LEXICAL * lexical_scaled + WEIGHT_PASSAGE * passage_scaled) / (
            WEIGHT_LEXICAL + WEIGHT_PASSAGE
        )
    else:
        combined = WEIGHT_COSINE * cosine + WEIGHT_LEXICAL * lexical_scaled + WEIGHT_PASSAGE * passage_scaled
    order = np.argsort(-combined, kind="stable")
    wanted = set(terms)
    return [
        ScoredSentence(
            sentence=sentences[i],
            score=float(combined[i]),
            cosine=None if cosine is None else float(cosine[i]),
            lexical=float(lexical[i]),
            passage=float(passage_scores[i]),
            coverage=len(wanted.intersection(lexical_terms(sentences[i].text))) / len(wanted) if wanted else 0.0,
        )
        for i in order
    ]


def is_supported(candidate: ScoredSentence) -> bool:
    """Whether a sentence is close enough to the question to be cited at all. BM25 mode has no cosine:
    there half of the question's terms must occur in the sentence."""
    if candidate.cosine is None:
        return candidate.coverage >= 0.5
    return candidate.support >= ABSTAIN_BELOW


def select(scored: list[ScoredSentence], max_sentences: int = MAX_SENTENCES) -> list[ScoredSentence]:
    """The best sentence, plus up to two more that are nearly as good and also supported."""
    if not scored or not is_supported(scored[0]):
        return []
    top = scored[0]
    chosen = [top]
    for candidate in scored[1:]:
        if len(chosen) >= max_sentences:
            break
        if candidate.score >= EXTRA_SENTENCE_RATIO * top.score and is_supported(candidate):
            chosen.append(candidate)
    return chosen
