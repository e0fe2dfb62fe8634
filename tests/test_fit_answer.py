"""The answer model's fitting (qa.eval.fit_answer): on training data only, with unanswerable forms of each question,
and rebuilt by one command that runs here on a tiny sample."""

from __future__ import annotations

import runpy

import pytest

from qa.answer import weights
from qa.answer.choose import ANSWERABLE_FEATURES, FEATURES
from tests.conftest import ROOT

TRAIN = ROOT.parent / "shared" / "train"
needs_training_data = pytest.mark.skipif(
    not TRAIN.is_dir(), reason="the training data (../shared/train) is not beside this checkout"
)


def test_the_shipped_weights_say_they_were_fitted_on_training_data_only():
    manifest = weights.MANIFEST
    assert manifest["data"] and all("bench" not in name for name in manifest["data"])
    assert set(manifest["questions"]["sets"]) == {"new_wiki", "nq", "reddit", "amazon_reviews"}
    assert manifest["questions"]["unanswerable"] >= manifest["questions"]["answerable"]
    assert set(weights.WEIGHTS) == set(FEATURES) and set(weights.ANSWERABLE_WEIGHTS) == set(ANSWERABLE_FEATURES)


@needs_training_data
def test_each_question_is_also_moved_to_a_year_or_name_its_article_does_not_state():
    from qa.eval.train_questions import TRAP, training_dataset

    dataset = training_dataset(TRAIN, 40, 7)
    by_id = {q.id: q for q in dataset.questions}
    moved = [q for q in dataset.questions if q.id.endswith(TRAP)]
    assert len(moved) >= 10 and all(not q.answerable and not q.answers for q in moved)
    for question in moved:
        original = by_id[question.id.removesuffix(TRAP)]
        assert question.question != original.question and question.gold_docs == original.gold_docs
        new_words = set(question.question.split()) - set(original.question.split())
        own = {d.rpartition("p")[0] for d in question.gold_docs}
        article = " ".join(text for d, (_, text) in dataset.documents.items() if d.rpartition("p")[0] in own)
        assert new_words and not any(w.strip("?,.").lower() in article.lower() for w in new_words if len(w) > 3)


@needs_training_data
def test_the_fitting_command_runs_end_to_end_on_a_tiny_sample(tmp_path):
    from qa.eval.fit_answer import main
    from qa.reader.data import data_hashes

    out = tmp_path / "weights.py"
    assert main(["--data", str(TRAIN), "--per-source", "6", "--folds", "2", "--write", "--out", str(out)]) == 0
    fitted = runpy.run_path(str(out))
    assert set(fitted["WEIGHTS"]) == set(FEATURES) and set(fitted["ANSWERABLE_WEIGHTS"]) == set(ANSWERABLE_FEATURES)
    assert set(fitted["WEIGHTS_BM25"]) <= set(FEATURES) - {"cosine", "cosine_gap", "topicality"}
    manifest = fitted["MANIFEST"]
    assert manifest["data"] == data_hashes(TRAIN) and manifest["settings"]["per_source"] == 6
    assert manifest["questions"]["answerable"] == 24  # 6 of each of the four sets
    assert manifest["questions"]["unanswerable"] >= 24  # each also asked without its own article
    assert 0.0 <= manifest["out_of_fold"]["dense"]["hit_at_1"] <= 1.0
