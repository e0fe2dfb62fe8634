"""BM25 at question time, read straight from the files bm25s saves, without importing bm25s.

bm25s builds the index (`qa.index`), and its saved form is plain: the BM25 weight of every (term, document)
pair as a CSC matrix in three `.npy` arrays, the vocabulary and the parameters as JSON. Importing bm25s
imports scipy, about 0.3 s of a one-shot `ask` on two cores; summing a question's columns needs only numpy.
The sum is done as bm25s does it (`np.add.at`, term by term), so the scores are the same to the bit
(`tests/test_bm25.py` compares them with bm25s's own).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Methods whose scores are the matrix alone; BM25L and BM25+ add a per-term score for documents without it.
_MATRIX_ONLY = ("robertson", "lucene", "atire")


@dataclass(frozen=True)
class Bm25Matrix:
    """One saved bm25s index: `weights[indptr[t]:indptr[t + 1]]` are term t's weights in documents
    `documents[indptr[t]:indptr[t + 1]]`."""

    weights: np.ndarray
    documents: np.ndarray
    indptr: np.ndarray
    vocabulary: dict[str, int]
    num_docs: int

    @classmethod
    def load(cls, directory: Path) -> Bm25Matrix:
        """Raises OSError, ValueError or KeyError when the files are missing or damaged."""
        params = json.loads((directory / "params.index.json").read_text(encoding="utf-8"))
        if params["method"] not in _MATRIX_ONLY:
            raise ValueError(f"BM25 method {params['method']!r} is not supported")
        vocabulary = json.loads((directory / "vocab.index.json").read_text(encoding="utf-8"))
        vocabulary.pop("", None)  # bm25s adds an empty token without a column; no term is empty
        matrix = cls(
            weights=np.load(directory / "data.csc.index.npy", allow_pickle=False),
            documents=np.load(directory / "indices.csc.index.npy", allow_pickle=False),
            indptr=np.load(directory / "indptr.csc.index.npy", allow_pickle=False),
            vocabulary=vocabulary,
            num_docs=int(params["num_docs"]),
        )
        if len(matrix.indptr) != len(vocabulary) + 1 or len(matrix.weights) != len(matrix.documents):
            raise ValueError("BM25 arrays and vocabulary disagree")
        return matrix

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """The BM25 score of every document for these terms (a repeated term counts again, as in bm25s)."""
        out = np.zeros(self.num_docs, dtype=self.weights.dtype)
        for term in terms:
            token = self.vocabulary.get(term)
            if token is not None:
                start, end = self.indptr[token], self.indptr[token + 1]
                np.add.at(out, self.documents[start:end], self.weights[start:end])
        return out

    def document_frequency(self, term: str) -> int:
        """How many documents hold the term."""
        token = self.vocabulary.get(term)
        return 0 if token is None else int(self.indptr[token + 1] - self.indptr[token])
