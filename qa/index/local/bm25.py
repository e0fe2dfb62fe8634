"""BM25 over the segments of an index, with the statistics of the whole index computed at question time.

A segment (`qa.index.local.segments`) never changes once written, so it cannot hold BM25 weights: a weight depends on
how many documents of the whole index hold the term and on their average length, which every update changes. A segment
keeps its raw term counts instead (`TermCounts`: for each term, the documents holding it and how often, plus every
document's length), and `Bm25` weighs a question's terms from the counts of all live documents of all segments: what a
fresh index of the same live documents would score. Removed documents (tombstones) count nowhere. The formula is bm25s's
default ("lucene": k1 1.5, b 0.75), and `tests/test_bm25.py` compares the scores with bm25s's own on the same texts.

Summing a question's postings costs about what reading precomputed weights did: at a million sentences, a
common term has some 10^5 postings, a few numpy operations over them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.text.lexical import BM25_B as B
from qa.text.lexical import BM25_K1 as K1
from qa.text.lexical import lucene_idf

_FILES = ("indptr", "documents", "counts", "lengths")


@dataclass(frozen=True)
class TermCounts:
    """One segment's term counts for one collection: term t is in documents `documents[indptr[t]:indptr[t+1]]`
    (local rows, ascending), `counts[...]` times; `lengths[d]` is document d's number of terms."""

    vocabulary: dict[str, int]
    indptr: np.ndarray
    documents: np.ndarray
    counts: np.ndarray
    lengths: np.ndarray

    @classmethod
    def from_terms(cls, documents: Sequence[Sequence[str]]) -> TermCounts:
        """Count the terms of each document (`qa.text.lexical.terms` of its text)."""
        vocabulary: dict[str, int] = {}
        term_ids = [
            np.array([vocabulary.setdefault(t, len(vocabulary)) for t in doc], dtype=np.int64) for doc in documents
        ]
        lengths = np.array([len(ids) for ids in term_ids], dtype=np.int32)
        flat = np.concatenate(term_ids) if term_ids else np.zeros(0, dtype=np.int64)
        owner = np.repeat(np.arange(len(term_ids), dtype=np.int64), lengths)
        pairs, counts = np.unique(flat * max(len(term_ids), 1) + owner, return_counts=True)  # sorted by term, doc
        terms_of_pairs = pairs // max(len(term_ids), 1)
        return cls(
            vocabulary,
            np.concatenate([[0], np.cumsum(np.bincount(terms_of_pairs, minlength=len(vocabulary)))]).astype(np.int64),
            (pairs % max(len(term_ids), 1)).astype(np.int32),
            counts.astype(np.float32),
            lengths,
        )

    @classmethod
    def combine(cls, parts: Sequence[tuple[TermCounts, np.ndarray]], total: int) -> TermCounts:
        """The counts of `total` documents gathered from several (a merge): each part comes with the new row of
        each of its documents, -1 for one left out (removed)."""
        vocabulary: dict[str, int] = {}
        columns, documents, counts = [], [], []
        lengths = np.zeros(total, dtype=np.int32)
        for part, new_rows in parts:
            new_term = np.empty(len(part.vocabulary), dtype=np.int64)  # by the part's column
            for term, column in part.vocabulary.items():
                new_term[column] = vocabulary.setdefault(term, len(vocabulary))
            term_of_posting = np.repeat(new_term, np.diff(part.indptr))
            new_documents = new_rows[part.documents]
            kept = new_documents >= 0
            columns.append(term_of_posting[kept])
            documents.append(new_documents[kept])
            counts.append(part.counts[kept])
            lengths[new_rows[new_rows >= 0]] = part.lengths[new_rows >= 0]
        column, document = np.concatenate(columns), np.concatenate(documents)
        order = np.lexsort((document, column))
        used = np.bincount(column, minlength=len(vocabulary))
        kept_terms = np.flatnonzero(used)  # a term only removed documents had leaves the vocabulary
        names = list(vocabulary)
        return cls(
            {names[t]: i for i, t in enumerate(kept_terms)},
            np.concatenate([[0], np.cumsum(used[kept_terms])]).astype(np.int64),
            document[order].astype(np.int32),
            np.concatenate(counts)[order],
            lengths,
        )

    def save(self, directory: Path) -> None:
        directory.mkdir()
        (directory / "vocabulary.json").write_text(json.dumps(self.vocabulary), encoding="utf-8")
        for name in _FILES:
            np.save(directory / f"{name}.npy", getattr(self, name), allow_pickle=False)

    @classmethod
    def load(cls, directory: Path) -> TermCounts:
        """Raises OSError or ValueError when the files are missing or damaged."""
        vocabulary = json.loads((directory / "vocabulary.json").read_text(encoding="utf-8"))
        arrays = {name: np.load(directory / f"{name}.npy", allow_pickle=False) for name in _FILES}
        loaded = cls(vocabulary, **arrays)
        if (
            len(loaded.indptr) != len(vocabulary) + 1
            or len(loaded.documents) != len(loaded.counts)
            or loaded.indptr[-1] != len(loaded.documents)
            or (len(loaded.documents) and int(loaded.documents.max()) >= len(loaded.lengths))
        ):
            raise ValueError("term count arrays and vocabulary disagree")
        return loaded

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """The local rows holding `term` and how often; empty when none does."""
        column = self.vocabulary.get(term)
        if column is None:
            return self.documents[:0], self.counts[:0]
        start, end = self.indptr[column], self.indptr[column + 1]
        return self.documents[start:end], self.counts[start:end]


def top_rows(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n highest scores, best first."""
    n = min(n, len(scores))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n]
    return part[np.argsort(-scores[part], kind="stable")]


class Bm25:
    """BM25 over the segments of one generation: global rows are the segments' rows one after the other
    (`offsets[i]` is segment i's first), and only rows marked in `live` count or score."""

    def __init__(self, parts: Sequence[TermCounts], offsets: Sequence[int], live: np.ndarray) -> None:
        self.parts = list(zip(parts, (int(o) for o in offsets), strict=True))
        self.live = live
        self.lengths = np.concatenate([p.lengths for p in parts]) if parts else np.zeros(0, dtype=np.int32)
        if len(self.lengths) != len(live):
            raise ValueError("term counts and rows disagree")
        self.num_docs = int(live.sum())
        self.average_length = float(self.lengths[live].mean()) if self.num_docs else 1.0
        # every row's length normalisation, once per opened index rather than per question term
        self.norm = K1 * ((1 - B) + B * self.lengths / np.float64(self.average_length))

    def _postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """The live global rows holding `term`, and how often."""
        rows, counts = [], []
        for part, offset in self.parts:
            documents, found = part.postings(term)
            if len(documents):
                rows.append(documents.astype(np.int64) + offset)
                counts.append(found)
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        rows_, counts_ = np.concatenate(rows), np.concatenate(counts)
        alive = self.live[rows_]
        return rows_[alive], counts_[alive]

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """The BM25 score of every row for these terms (a repeated term counts again, as in bm25s); 0 for rows
        without any of them and for removed rows."""
        out = np.zeros(len(self.live), dtype=np.float32)
        for term in terms:
            rows, counts = self._postings(term)
            if not len(rows):
                continue
            idf = np.float32(lucene_idf(len(rows), self.num_docs))
            out[rows] += (idf * (counts / (self.norm[rows] + counts))).astype(np.float32)
        return out

    def document_frequency(self, term: str) -> int:
        """How many live rows hold the term."""
        return len(self._postings(term)[0])
