"""Candidate answer sentences, each with what a reader knows when reaching it.

A sentence like "The UK-Dutch group will own 30% of the project" answers a question about Shell only
together with its article's headline and the sentences before it. So every candidate carries that context
(headline and the two preceding sentences), whether it *is* the headline, and the scores retrieval already
computed for it; the answer step (qa/answer/choose.py) turns all of this into features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.index.seam import IndexReader, SentenceRow
from qa.retrieve.retriever import Passage
from qa.text.lexical import term_set
from qa.text.mentions import Mention, decode_mentions, find_mentions
from qa.text.sentences import normalise_space

CONTEXT_SENTENCES = 2
_SENTENCE_END = (".", "!", "?", "…", '"', "”", "'", "’")
ARTICLES = 2


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, with its context and retrieval scores."""

    sentence: SentenceRow
    context: tuple[str, ...]  # the headline and up to CONTEXT_SENTENCES preceding sentences of the same article
    terms: frozenset[str]  # the sentence's folded terms (qa.text.lexical.term_set)
    context_terms: frozenset[str]  # and its context's
    headline: bool
    lead: bool  # the first sentence of the article body
    cosine: float | None
    predicate_cosine: float | None  # with the question stripped of its names and numbers
    previous_cosine: float | None  # of the sentence before, when the question's subject is named there
    topicality: float | None  # cosine with the article's first line: the headline and its restatements
    lexical: float  # BM25 of the sentence alone
    passage: float  # fused score of the best passage it is in


def is_headline(sentence: SentenceRow, title: str) -> bool:
    """The article's title line ("Qatar and Shell in $6bn gas deal"): no final punctuation, unlike a
    one-sentence article whose title is its sentence."""
    text = normalise_space(sentence.text)
    return sentence.position <= 1 and text == normalise_space(title) and not text.endswith(_SENTENCE_END)


def gather(
    index: IndexReader,
    passages: list[Passage],
    question_vector: np.ndarray | None,
    predicate_vector: np.ndarray | None,
    question_terms: list[str],
) -> list[Candidate]:
    """Every sentence of `passages` once (chunks overlap), and every other sentence of the articles of the
    best ARTICLES passages (an answer two sentences past the passage is still in the article), with context."""
    best_passage: dict[int, float] = {}
    for passage in passages:
        for row in range(passage.chunk.first_sentence_row, passage.chunk.last_sentence_row + 1):
            best_passage[row] = max(best_passage.get(row, -np.inf), passage.score)
    if not best_passage:
        return []
    floor = min(p.score for p in passages)
    for article_id in list(dict.fromkeys(p.chunk.article_id for p in passages))[:ARTICLES]:
        for sentence in index.article_sentences(article_id):
            best_passage.setdefault(sentence.row, floor)
    rows = sorted(best_passage)
    by_row = dict(zip(rows, index.sentences(rows), strict=True))
    # An article's rows are consecutive: the sentences before one, and its article's first, are rows below it.
    before = {r - back for r in rows for back in range(1, CONTEXT_SENTENCES + 1) if by_row[r].position >= back}
    context = sorted(before - by_row.keys())
    by_row.update(zip(context, index.sentences(context), strict=True))
    firsts = sorted({r - by_row[r].position for r in rows} - by_row.keys())
    by_row.update(zip(firsts, index.sentences(firsts), strict=True))
    rows = once_per_story(index.copy_groups(), rows, by_row, best_passage)
    articles = {a: index.article(a) for a in dict.fromkeys(by_row[r].article_id for r in rows)}
    lexical = index.bm25_of(question_terms, "sentences", rows)

    def same_article(a: int, b: int) -> bool:
        return a in by_row and by_row[a].article_id == by_row[b].article_id

    cosine: dict[int, float] = {}
    predicate: dict[int, float] = {}
    previous: dict[int, float] = {}
    topicality: dict[int, float] = {}
    if question_vector is not None:
        needed = sorted(by_row)
        unit = dict(zip(needed, index.sentence_matrix(needed), strict=True))
        cosine = {r: float(unit[r] @ question_vector) for r in needed}
        if predicate_vector is not None:
            predicate = {r: float(unit[r] @ predicate_vector) for r in rows}
        previous = {r: cosine[r - 1] for r in rows if same_article(r - 1, r)}
        topicality = {r: float(unit[r] @ unit[r - by_row[r].position]) for r in rows}
    row_terms = {r: terms_of(sentence) for r, sentence in by_row.items()}  # a sentence is its followers' context
    candidates = []
    for i, row in enumerate(rows):
        sentence = by_row[row]
        article = articles[sentence.article_id]
        earlier = [r for r in range(row - CONTEXT_SENTENCES, row) if same_article(r, row)]
        headline = is_headline(sentence, article.title)
        after_headline = sentence.position == 1 and is_headline(by_row[row - 1], article.title)
        candidates.append(
            Candidate(
                sentence=sentence,
                context=(article.title, *(by_row[r].text for r in earlier)),
                terms=row_terms[row],
                context_terms=term_set(article.title).union(*(row_terms[r] for r in earlier)),
                headline=headline,
                lead=not headline and (sentence.position == 0 or after_headline),
                cosine=cosine.get(row),
                predicate_cosine=predicate.get(row),
                previous_cosine=previous.get(row),
                topicality=topicality.get(row),
                lexical=float(lexical[i]),
                passage=best_passage[row],
            )
        )
    return candidates


def terms_of(sentence: SentenceRow) -> frozenset[str]:
    """The sentence's folded terms, as indexed, or found now for a store that does not keep them."""
    return frozenset(sentence.terms.split()) if sentence.terms is not None else term_set(sentence.text)


def mentions_of(sentence: SentenceRow) -> tuple[Mention, ...]:
    """The sentence's typed expressions, as indexed, or found now for a store that does not keep them."""
    if sentence.mentions is None:
        return find_mentions(sentence.text)
    return decode_mentions(sentence.text, sentence.mentions)


def once_per_story(
    groups: dict[str, str], rows: list[int], by_row: dict[int, SentenceRow], best_passage: dict[int, float]
) -> list[int]:
    """The rows without a sentence repeated by another copy of the same story (qa.ingest.duplicates): of identical
    sentences in copies, the one in the better passage stays, so that a story is cited once."""
    if not groups:
        return rows
    best: dict[tuple[str, str], int] = {}
    for row in rows:
        group = groups.get(by_row[row].article_id)
        if group is None:
            continue
        key = (group, normalise_space(by_row[row].text))
        if key not in best or best_passage[row] > best_passage[best[key]]:
            best[key] = row
    kept = set(best.values())
    return [row for row in rows if by_row[row].article_id not in groups or row in kept]
