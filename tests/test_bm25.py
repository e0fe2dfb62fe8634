"""BM25 over segments (qa.index.local.bm25) against bm25s itself: on the seed index built with the real model, and on an
index whose segments hold tombstones, the scores are those bm25s gives a fresh index of the live texts."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest

from qa.index.local.bm25 import TermCounts
from qa.index.local.store import IndexDir
from qa.index.seam import IndexParams
from qa.ingest.chunk import bm25_text
from qa.text.lexical import STOPWORDS_EN, terms
from qa.text.sentences import normalise_space
from tests.helpers.fakes import HashingEmbedder

QUERIES = [
    "Who did Unification Minister Lee In-young meet?",
    "Pompeo Pompeo Silicon Valley sanctions",  # a repeated term counts twice in both
    "zebra quantum marmalade",  # no term in the vocabulary
    "",
]


def _live_texts(loaded, collection: str) -> tuple[np.ndarray, list[str]]:
    """The live rows of a collection and the text BM25 indexes for each."""
    rows = np.flatnonzero(loaded.live[collection])
    if collection == "sentences":
        return rows, [normalise_space(s.text) for s in loaded.sentences(rows)]
    chunks = loaded.chunks(rows)
    return rows, [bm25_text(loaded.article(c.article_id).title, c.text, True) for c in chunks]


def _assert_equal_to_bm25s(loaded, collection: str, exact: bool) -> None:
    rows, texts = _live_texts(loaded, collection)
    theirs = bm25s.BM25()
    theirs.index([terms(t) for t in texts], show_progress=False)
    vocabulary = [t for t in theirs.vocab_dict if t]
    for query in [terms(q) for q in QUERIES] + [[term] for term in vocabulary]:
        ids = theirs.get_tokens_ids(query)
        expected = theirs.get_scores_from_ids(ids) if ids else np.zeros(len(rows), dtype=np.float32)
        ours = loaded._bm25_of(collection).scores(query)
        assert not ours[~loaded.live[collection]].any()  # tombstones never score
        if exact:
            assert np.array_equal(ours[rows], expected), query
        else:  # the same sums in another order of additions
            np.testing.assert_allclose(ours[rows], expected, rtol=1e-6, err_msg=str(query))
    for term in vocabulary:
        assert loaded._bm25_of(collection).document_frequency(term) == int(
            (theirs.get_scores_from_ids(theirs.get_tokens_ids([term])) > 0).sum()
        )


@pytest.mark.parametrize("collection", ["chunks", "sentences"])
def test_scores_equal_bm25s_to_the_bit(seed_index_dir, collection):
    loaded = IndexDir(seed_index_dir).open()
    try:
        _assert_equal_to_bm25s(loaded, collection, exact=True)
    finally:
        loaded.close()


@pytest.mark.parametrize("collection", ["chunks", "sentences"])
def test_with_tombstones_and_several_segments_scores_are_a_fresh_index_s(tmp_path, seed_copy, collection):
    """Removed and changed articles stay in their segments as tombstones; BM25 counts only live rows, so the
    scores and document frequencies are those of bm25s over the live texts alone."""
    params = IndexParams(model_id="test/hashing-64")
    index = IndexDir(tmp_path / "idx")
    for i in range(3):
        (seed_copy / f"extra-{i}.txt").write_text(
            f"Harbour report {i}\n\nThe ferry to Busan left at noon with {100 + i} passengers. Lee met the mayor.\n"
        )
    index.update(seed_copy, params, HashingEmbedder())
    (seed_copy / "extra-0.txt").unlink()
    changed = seed_copy / "extra-1.txt"
    changed.write_text(changed.read_text() + "Sanctions on Silicon Valley firms were discussed.\n")
    index.update(seed_copy, params, HashingEmbedder())
    loaded = index.open()
    try:
        assert len(loaded.segments) == 2 and (~loaded.live[collection]).any()
        _assert_equal_to_bm25s(loaded, collection, exact=False)
    finally:
        loaded.close()


def test_combined_counts_equal_counts_of_the_kept_documents():
    documents = [terms(t) for t in ["Lee met Harris", "the ferry left", "Harris left Seoul", "ferry ferry news", ""]]
    first, second = TermCounts.from_terms(documents[:3]), TermCounts.from_terms(documents[3:])
    combined = TermCounts.combine(
        [(first, np.array([1, -1, 0])), (second, np.array([2, 3]))], 4
    )  # document 1 removed; order changed
    expected = TermCounts.from_terms([documents[2], documents[0], documents[3], documents[4]])
    assert np.array_equal(combined.lengths, expected.lengths)
    for term in set(expected.vocabulary) | set(combined.vocabulary):
        got, want = combined.postings(term), expected.postings(term)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]), term
    assert "the" not in combined.vocabulary and "seoul" in combined.vocabulary


def test_stop_words_are_bm25s_english_list():
    from bm25s.stopwords import STOPWORDS_EN as BM25S_ENGLISH

    assert sorted(STOPWORDS_EN) == sorted(BM25S_ENGLISH)


def test_damaged_files_raise(tmp_path):
    folder = tmp_path / "terms"
    TermCounts.from_terms([["lee", "meet"], ["harri"]]).save(folder)
    TermCounts.load(folder)
    (folder / "vocabulary.json").write_text('{"only": 0}')
    with pytest.raises(ValueError, match="disagree"):
        TermCounts.load(folder)
    (folder / "indptr.npy").write_bytes(b"not numpy")
    with pytest.raises((ValueError, OSError)):
        TermCounts.load(folder)
