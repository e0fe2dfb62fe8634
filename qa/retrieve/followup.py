"""Follow-up questions in a conversation: "what did he say next?" borrows the previous question.

A follow-up is retrieved with the previous question's vector mixed into its own and its terms added, and the
articles that answered the previous question are favoured; a question that names its own subject (three or more
content terms, no pronoun) stands alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from qa.text.lexical import terms

_ANAPHORA = re.compile(r"\b(he|she|they|him|her|them|his|hers|their|its|it|this|that|these|those|there|then)\b", re.I)
FOLLOW_UP_MIN_TERMS = 3
PREVIOUS_QUESTION_WEIGHT = 0.5
PREVIOUS_SOURCE_BOOST = 0.15


@dataclass(frozen=True)
class Turn:
    """One exchange of a conversation, as much of it as a follow-up needs."""

    question: str
    article_ids: tuple[str, ...]


def is_follow_up(question: str) -> bool:
    return bool(_ANAPHORA.search(question)) or len(set(terms(question))) < FOLLOW_UP_MIN_TERMS


def previous_turn(question: str, history: tuple[Turn, ...]) -> Turn | None:
    """The turn a follow-up leans on, or None for a question that stands alone."""
    return history[-1] if history and is_follow_up(question) else None


def mixed_vector(vector: np.ndarray, previous_vector: np.ndarray) -> np.ndarray:
    """The question's unit vector moved towards the previous question's."""
    mixed = vector + PREVIOUS_QUESTION_WEIGHT * previous_vector
    return mixed / np.linalg.norm(mixed)


def retrieval_terms(question: str, previous: Turn | None) -> list[str]:
    return terms(question) + (terms(previous.question) if previous else [])


def source_boost(previous: Turn | None) -> dict[str, float] | None:
    """A bonus for passages of the articles that answered the previous question."""
    return dict.fromkeys(previous.article_ids, PREVIOUS_SOURCE_BOOST) if previous else None
