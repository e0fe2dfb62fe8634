"""The question-time BM25 reader against bm25s itself, on the seed index built with the real model."""

from __future__ import annotations

import json
import shutil

import bm25s
import numpy as np
import pytest

from qa.bm25 import Bm25Matrix
from qa.index import IndexDir
from qa.lexical import STOPWORDS_EN, terms


@pytest.mark.parametrize("collection", ["chunks", "sentences"])
def test_scores_equal_bm25s_to_the_bit(seed_index_dir, collection):
    folder = IndexDir(seed_index_dir).live_generation() / f"bm25-{collection}"
    ours, theirs = Bm25Matrix.load(folder), bm25s.BM25.load(str(folder), load_corpus=False)
    queries = [
        terms("Who did Unification Minister Lee In-young meet?"),
        terms("Pompeo Pompeo Silicon Valley sanctions"),  # a repeated term counts twice in both
        terms("zebra quantum marmalade"),  # no term in the vocabulary
        [],
        *[terms(word) for word in theirs.vocab_dict],
    ]
    for query in queries:
        ids = theirs.get_tokens_ids(query)
        expected = theirs.get_scores_from_ids(ids) if ids else np.zeros(ours.num_docs, dtype=np.float32)
        assert np.array_equal(ours.scores(query), expected), query
    indptr = theirs.scores["indptr"]
    for term, token in theirs.vocab_dict.items():
        if term:  # bm25s's own empty token has no column
            assert ours.document_frequency(term) == int(indptr[token + 1] - indptr[token])
    assert ours.document_frequency("zebra") == 0


def test_stop_words_are_bm25s_english_list():
    from bm25s.stopwords import STOPWORDS_EN as BM25S_ENGLISH

    assert sorted(STOPWORDS_EN) == sorted(BM25S_ENGLISH)


def test_damaged_or_unsupported_files_raise(seed_index_dir, tmp_path):
    folder = tmp_path / "bm25"
    shutil.copytree(IndexDir(seed_index_dir).live_generation() / "bm25-chunks", folder)
    params = json.loads((folder / "params.index.json").read_text())
    (folder / "params.index.json").write_text(json.dumps({**params, "method": "bm25+"}))
    with pytest.raises(ValueError, match="not supported"):
        Bm25Matrix.load(folder)
    (folder / "params.index.json").write_text(json.dumps(params))
    (folder / "vocab.index.json").write_text(json.dumps({"only": 0}))
    with pytest.raises(ValueError, match="disagree"):
        Bm25Matrix.load(folder)
    (folder / "indptr.csc.index.npy").write_bytes(b"not numpy")
    with pytest.raises((ValueError, OSError)):
        Bm25Matrix.load(folder)
