"""The sentence vectors of an index: one matrix per segment, searched exactly, and an HNSW graph for the first
segment of an index above `ANN_THRESHOLD` sentences.

Exact search costs time in proportion to the corpus: 6.5 ms for a question on BBC's 43,882 sentences, 26–31 ms
at 200,000, 136 ms at a million (`bench/ann.py`). HNSW answers in about 1 ms at all of those sizes with
recall@10 ≥ 0.99 on real sentence vectors, but building it costs more than the search saves on a small corpus
(5 s for BBC, 37 s at 200,000, 210 s at a million), and a graph cannot lose a node.

So a segment holds either `vectors.npy` (a float32 matrix, memory-mapped, searched exactly) or `graph.hnsw` (the graph,
which keeps the vectors too). Only the first segment of a large index has a graph, built when segments are merged into
it (`qa.index.local.segments`); segments added since are small and searched exactly, and rows of removed sentences
(tombstones) are skipped by both searches."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MATRIX_FILE = "vectors.npy"
GRAPH_FILE = "graph.hnsw"
ANN_THRESHOLD = 100_000  # sentences; where exact search passes ~15 ms a question on 2 cores (bench/ann.py)
HNSW_M = 32  # links per node; with efConstruction 80, recall@10 0.998 on BBC's real vectors (bench/ann.py)
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 320  # citeqa asks for up to 300 nearest sentences; recall@300 0.975 at this effort
EXACT_SHARE = 0.1  # a filter allowing less than this share of the graph's sentences is searched exactly instead


def ann_wanted(sentences: int) -> bool:
    """Whether an index of this many sentences gets the graph: above ANN_THRESHOLD, or as CITEQA_ANN
    (`always`, `never`, `auto`) says."""
    choice = os.environ.get("CITEQA_ANN", "auto")
    return choice == "always" or (choice != "never" and sentences >= ANN_THRESHOLD)


@dataclass(frozen=True)
class Layout:
    """What `citeqa info` shows of the vectors: `flat` or `hnsw`, the sentences in the graph, those outside it
    (searched exactly), and the tombstones."""

    kind: str
    graph: int = 0
    exact: int = 0
    tombstones: int = 0


def write_segment_vectors(directory: Path, vectors: np.ndarray, graph: bool) -> None:
    """Write one segment's vectors: the matrix, or an HNSW graph of them."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if not graph:
        np.save(directory / MATRIX_FILE, vectors, allow_pickle=False)
        return
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.add(vectors)
    faiss.write_index(index, str(directory / GRAPH_FILE))


class SegmentVectors:
    """One segment's vectors, read-only; rows are the segment's own."""

    def __init__(self, directory: Path, dim: int) -> None:
        """Raises RuntimeError (FAISS), ValueError or OSError on damaged files."""
        self.graph = None
        if (directory / GRAPH_FILE).exists():
            import faiss

            self.graph = faiss.read_index(str(directory / GRAPH_FILE))
            self.count, found_dim = self.graph.ntotal, self.graph.d
        else:
            # mapped, not read: a plain array over the map (indexing a np.memmap costs more)
            self.flat = np.asarray(np.load(directory / MATRIX_FILE, mmap_mode="r", allow_pickle=False))
            if self.flat.ndim != 2 or self.flat.dtype != np.float32:
                raise ValueError("the vector matrix is not a float32 matrix")
            self.count, found_dim = self.flat.shape
        if found_dim != dim:
            raise ValueError(f"vectors of dimension {found_dim}, not {dim}")

    def matrix(self, rows: np.ndarray) -> np.ndarray:
        if self.graph is not None:
            return self.graph.reconstruct_batch(rows)
        return self.flat[rows]

    def search(self, query: np.ndarray, n: int, live: np.ndarray, allowed: np.ndarray | None):
        """(scores, rows) of the n nearest live rows (of `allowed`, when given), best first."""
        if self.graph is not None and (allowed is None or len(allowed) >= EXACT_SHARE * self.count):
            return self._search_graph(query, n, live, allowed)
        import faiss

        # FAISS's exact search over the array in place, not numpy's product: OpenBLAS's threads keep spinning
        # after a product and slowed the encoder's next question 2.5× (7.5 → 18.8 ms) on two cores.
        if allowed is None:  # only a matrix is searched whole here: a graph is, unless a filter is narrow
            wanted = min(n + self.count - int(live.sum()), self.count)  # enough to drop the tombstones
            scores, found = faiss.knn(query.reshape(1, -1), self.flat, wanted, metric=faiss.METRIC_INNER_PRODUCT)
            keep = (found[0] >= 0) & live[np.clip(found[0], 0, None)]
            return scores[0][keep][:n], found[0][keep][:n]
        vectors = self.matrix(allowed)
        scores, found = faiss.knn(
            query.reshape(1, -1), vectors, min(n, len(allowed)), metric=faiss.METRIC_INNER_PRODUCT
        )
        keep = found[0] >= 0
        return scores[0][keep], allowed[found[0][keep]]

    def _search_graph(self, query: np.ndarray, n: int, live: np.ndarray, allowed: np.ndarray | None):
        import faiss

        effort = max(HNSW_EF_SEARCH, n)
        if allowed is not None:
            # A filter hides most of the graph's nodes from the result: the search must look further to find n
            # allowed ones (recall@300 at 30% allowed: 0.88 at the usual effort, 0.99 at effort / share).
            effort = int(effort * self.count / max(len(allowed), 1))
            selector = faiss.IDSelectorBatch(allowed)
        elif live.all():
            selector = None
        else:
            bitmap = np.packbits(live, bitorder="little")
            selector = faiss.IDSelectorBitmap(self.count, faiss.swig_ptr(bitmap))
        params = faiss.SearchParametersHNSW(efSearch=effort, sel=selector)
        scores, found = self.graph.search(query.reshape(1, -1), n, params=params)
        keep = found[0] >= 0
        return scores[0][keep], found[0][keep]


class SentenceVectors:
    """The vectors of all segments of a generation: global rows are the segments' rows one after the other
    (`offsets[i]` is segment i's first); rows not marked in `live` are never returned."""

    def __init__(self, segments: Sequence[SegmentVectors], offsets: np.ndarray, live: np.ndarray, dim: int) -> None:
        self.segments = list(segments)
        self.dim = dim
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.live = live
        if sum(s.count for s in self.segments) != len(live):
            raise ValueError("vectors and rows disagree")
        self.count = int(live.sum())
        in_graph = sum(s.count for s in self.segments if s.graph is not None)
        self.layout = Layout(
            "hnsw" if in_graph else "flat", in_graph, self.count - int(live[:in_graph].sum()), len(live) - self.count
        )

    def _split(self, rows: np.ndarray) -> list[np.ndarray]:
        """Global rows (ascending) as each segment's local rows."""
        bounds = np.searchsorted(rows, np.append(self.offsets[1:], len(self.live)))
        starts = np.concatenate([[0], bounds[:-1]])
        return [rows[a:b] - o for a, b, o in zip(starts, bounds, self.offsets, strict=True)]

    def matrix(self, rows: Sequence[int]) -> np.ndarray:
        """The unit vectors of the given global rows."""
        rows = np.asarray(rows, dtype=np.int64)
        segment = np.searchsorted(self.offsets, rows, side="right") - 1
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        for i in set(segment.tolist()):  # not np.unique: it imports numpy.ma, 28 ms of a one-shot `ask`
            at = segment == i
            out[at] = self.segments[i].matrix(rows[at] - self.offsets[i])
        return out

    def nearest(self, vector: np.ndarray, n: int, allowed: np.ndarray | None = None) -> np.ndarray:
        """Global rows of the n live sentences nearest to `vector`, best first; only `allowed` rows (ascending,
        live) when given."""
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        parts = self._split(np.asarray(allowed, dtype=np.int64)) if allowed is not None else None
        scores, rows = [], []
        for i, (segment, offset) in enumerate(zip(self.segments, self.offsets, strict=True)):
            live = self.live[offset : offset + segment.count]
            if parts is not None and not len(parts[i]):
                continue
            found_scores, found_rows = segment.search(query, n, live, None if parts is None else parts[i])
            scores.append(found_scores)
            rows.append(found_rows + offset)
        if not scores:
            return np.zeros(0, dtype=np.int64)
        scores_, rows_ = np.concatenate(scores), np.concatenate(rows)
        return rows_[np.lexsort((rows_, -scores_))[:n]]  # equal scores (copies of a sentence): the earlier row
