"""The sentence vectors of one index generation: exact search while it is small, an HNSW graph above
`ANN_THRESHOLD` sentences.

Exact search (FAISS flat, one file `sentences.faiss`, vector i is sentence row i) costs time in proportion to
the corpus: 6.5 ms for a question on BBC's 43,882 sentences, 26–31 ms at 200,000, 136 ms at a million
(`bench/ann.py`). HNSW answers in about 1 ms at all of those sizes with recall@10 ≥ 0.99 on real sentence
vectors, but building it costs more than the search saves on a small corpus (5 s for BBC, 37 s at 200,000,
210 s at a million), and a graph cannot lose a node.

So above the threshold a generation holds three files. `vectors-base.hnsw` is an HNSW graph, built once and
shared by the generations after it through a hard link: updates do not rebuild it until a merge.
`vectors-delta.faiss` is a flat index of the vectors added since the graph was built, searched exactly.
`vectors-rows.npy` gives the sentence row of every base vector and then of every delta vector; -1 marks a
vector whose sentence is gone (a tombstone: the graph keeps the node, searches skip it). When the delta or the
tombstones grow past `MERGE_SHARE` of the base, the next update builds a new graph of everything (a merge).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.generations import link_or_copy

FLAT_FILE = "sentences.faiss"
BASE_FILE = "vectors-base.hnsw"
DELTA_FILE = "vectors-delta.faiss"
ROWS_FILE = "vectors-rows.npy"
ANN_THRESHOLD = 100_000  # sentences; where exact search passes ~15 ms a question on 2 cores (bench/ann.py)
MERGE_SHARE = 0.2  # rebuild the graph when the delta or the tombstones pass this share of it
HNSW_M = 32  # links per node; with efConstruction 80, recall@10 0.998 on BBC's real vectors (bench/ann.py)
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 320  # citeqa asks for up to 300 nearest sentences; recall@300 0.975 at this effort
EXACT_SHARE = 0.1  # a filter allowing less than this share of the sentences is searched exactly instead


def ann_wanted(sentences: int) -> bool:
    """Whether a generation of this many sentences gets the graph: above ANN_THRESHOLD, or as CITEQA_ANN
    (`always`, `never`, `auto`) says."""
    choice = os.environ.get("CITEQA_ANN", "auto")
    return choice == "always" or (choice != "never" and sentences >= ANN_THRESHOLD)


@dataclass(frozen=True)
class Layout:
    """What a generation's vectors are: `flat`, or `hnsw` with its base, delta and tombstone counts."""

    kind: str
    base: int = 0
    delta: int = 0
    tombstones: int = 0


class SentenceVectors:
    """The sentence vectors of one generation, read-only: nearest rows to a question, and rows' vectors."""

    def __init__(self, directory: Path) -> None:
        """Raises RuntimeError (FAISS), ValueError or OSError on damaged files."""
        import faiss

        self.directory = directory
        if (directory / ROWS_FILE).exists():
            self.base = faiss.read_index(str(directory / BASE_FILE))
            self.delta = faiss.read_index(str(directory / DELTA_FILE))
            self.rows = np.load(directory / ROWS_FILE, allow_pickle=False)
            if len(self.rows) != self.base.ntotal + self.delta.ntotal:
                raise ValueError("vector rows and vectors disagree")
            live = self.rows >= 0
            self.count = int(live.sum())
            if self.rows[live].max(initial=-1) >= self.count:
                raise ValueError("vector rows point past the sentences")
            self.place = np.full(self.count, -1, dtype=np.int64)  # sentence row -> vector id (base, then delta)
            self.place[self.rows[live]] = np.flatnonzero(live)
            if (self.place < 0).any():
                raise ValueError("some sentences have no vector")
            self.layout = Layout("hnsw", self.base.ntotal, self.delta.ntotal, int((~live).sum()))
            self._live_base = None  # searches skip tombstones: a bitmap of the base's live vectors
            if self.layout.tombstones:
                self._bitmap = np.packbits(live[: self.base.ntotal], bitorder="little")
                self._live_base = faiss.IDSelectorBitmap(self.base.ntotal, faiss.swig_ptr(self._bitmap))
        else:
            self.base = faiss.read_index(str(directory / FLAT_FILE))
            self.delta = self.rows = self.place = None
            self.count = self.base.ntotal
            self.layout = Layout("flat")
        self.dim = self.base.d

    def matrix(self, rows: Sequence[int]) -> np.ndarray:
        """The unit vectors of the given sentence rows."""
        rows = np.asarray(rows, dtype=np.int64)
        if self.place is None:
            return self.base.reconstruct_batch(rows)
        ids = self.place[rows]
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        in_base = ids < self.base.ntotal
        if in_base.any():
            out[in_base] = self.base.reconstruct_batch(ids[in_base])
        if (~in_base).any():
            out[~in_base] = self.delta.reconstruct_batch(ids[~in_base] - self.base.ntotal)
        return out

    def nearest(self, vector: np.ndarray, n: int, allowed: np.ndarray | None = None) -> np.ndarray:
        """Rows of the n sentences nearest to `vector`, best first; only `allowed` rows when given."""
        import faiss

        query = vector.reshape(1, -1).astype(np.float32)
        if self.place is None:
            params = None
            if allowed is not None:
                params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)))
            _, rows = self.base.search(query, n, params=params)
            return rows[0][rows[0] >= 0]
        if allowed is not None and len(allowed) < EXACT_SHARE * self.count:
            scores = self.matrix(allowed) @ query[0]
            best = np.argsort(-scores, kind="stable")[:n]
            return np.asarray(allowed, dtype=np.int64)[best]
        effort = max(HNSW_EF_SEARCH, n)
        if allowed is None:
            found = [self._search_base(query, n, self._live_base, effort), self._search_delta(query, n, None)]
        else:
            ids = self.place[np.asarray(allowed, dtype=np.int64)]
            in_base = ids < self.base.ntotal
            # A filter hides most of the graph's nodes from the result: the search must look further to find n
            # allowed ones (recall@300 at 30% allowed: 0.88 at the usual effort, 0.99 at effort / share).
            effort = int(effort * self.count / max(len(ids), 1))
            found = [
                self._search_base(query, n, faiss.IDSelectorBatch(ids[in_base]), effort),
                self._search_delta(query, n, faiss.IDSelectorBatch(ids[~in_base] - self.base.ntotal)),
            ]
        scores = np.concatenate([s for s, _ in found])
        rows = np.concatenate([r for _, r in found])
        return rows[np.argsort(-scores, kind="stable")[:n]]

    def _search_base(self, query: np.ndarray, n: int, selector, effort: int) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        params = faiss.SearchParametersHNSW(efSearch=effort, sel=selector)
        scores, found = self.base.search(query, n, params=params)
        keep = found[0] >= 0
        return scores[0][keep], self.rows[found[0][keep]]

    def _search_delta(self, query: np.ndarray, n: int, selector) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        if not self.delta.ntotal:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        scores, found = self.delta.search(query, n, params=faiss.SearchParameters(sel=selector))
        keep = found[0] >= 0
        return scores[0][keep], self.rows[self.base.ntotal + found[0][keep]]


def write_vectors(
    directory: Path, vectors: np.ndarray, carried: np.ndarray, previous: SentenceVectors | None
) -> tuple[Layout, list[str]]:
    """Write a generation's vectors: `vectors[i]` is sentence row i's, and `carried[i]` that sentence's row in
    the previous generation (-1 for a new one). The layout written, and the files hard-linked from the
    previous generation (their checksums carry over)."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if not ann_wanted(len(vectors)):
        flat = faiss.IndexFlatIP(vectors.shape[1])
        flat.add(vectors)
        faiss.write_index(flat, str(directory / FLAT_FILE))
        return Layout("flat"), []
    if previous is not None and previous.layout.kind == "hnsw":
        rows = _carry_rows(previous, carried)
        base = previous.base.ntotal
        new = np.flatnonzero(~np.isin(np.arange(len(vectors)), rows[:base]))
        tombstones = int((rows[:base] < 0).sum())
        if max(len(new), tombstones) <= MERGE_SHARE * base:
            link_or_copy(previous.directory / BASE_FILE, directory / BASE_FILE)
            delta = faiss.IndexFlatIP(vectors.shape[1])
            delta.add(vectors[new])
            faiss.write_index(delta, str(directory / DELTA_FILE))
            np.save(directory / ROWS_FILE, np.concatenate([rows[:base], new]).astype(np.int64))
            return Layout("hnsw", base, len(new), tombstones), [BASE_FILE]
    graph = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    graph.add(vectors)
    faiss.write_index(graph, str(directory / BASE_FILE))
    faiss.write_index(faiss.IndexFlatIP(vectors.shape[1]), str(directory / DELTA_FILE))
    np.save(directory / ROWS_FILE, np.arange(len(vectors), dtype=np.int64))
    return Layout("hnsw", len(vectors)), []


def _carry_rows(previous: SentenceVectors, carried: np.ndarray) -> np.ndarray:
    """The previous generation's vector-id -> row table, renumbered to the new rows (-1 where gone)."""
    new_row_of_old = np.full(previous.count, -1, dtype=np.int64)
    kept = carried >= 0
    new_row_of_old[carried[kept]] = np.flatnonzero(kept)
    old_rows = previous.rows
    return np.where(old_rows >= 0, new_row_of_old[np.clip(old_rows, 0, None)], -1)
