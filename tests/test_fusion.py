import numpy as np

from qa.index.local.bm25 import top_rows
from qa.retrieve.retriever import fuse, minmax, rank_positions


def test_minmax_handles_ties_and_empty():
    assert minmax(np.array([2.0, 2.0])).tolist() == [0.0, 0.0]
    assert minmax(np.array([])).size == 0
    assert minmax(np.array([1.0, 3.0, 2.0])).tolist() == [0.0, 1.0, 0.5]


def test_rank_positions():
    assert rank_positions(np.array([0.1, 0.9, 0.5])).tolist() == [3, 1, 2]


def test_convex_fusion_keeps_a_clear_winner_that_rrf_ties():
    # Candidate 0: dense far ahead, BM25 second; candidate 1: BM25 barely ahead, dense second.
    dense = np.array([0.90, 0.30, 0.28])
    bm25 = np.array([9.9, 10.0, 1.0])
    convex = fuse(dense, bm25, "convex", dense_weight=0.5)
    rrf = fuse(dense, bm25, "rrf")
    assert np.argmax(convex) == 0
    assert rrf[0] == rrf[1]  # ranks (1, 2) and (2, 1): reciprocal rank fusion cannot tell them apart
    assert convex[2] < convex[1] < convex[0]


def test_fusion_weight_moves_towards_one_side():
    dense = np.array([1.0, 0.0])
    bm25 = np.array([0.0, 1.0])
    assert np.argmax(fuse(dense, bm25, "convex", dense_weight=0.8)) == 0
    assert np.argmax(fuse(dense, bm25, "convex", dense_weight=0.2)) == 1


def test_top_rows():
    assert top_rows(np.array([0.1, 0.5, 0.3]), 2).tolist() == [1, 2]
    assert top_rows(np.array([0.1]), 5).tolist() == [0]
