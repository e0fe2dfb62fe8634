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


def test_the_joint_abstention_was_fitted_against_the_shipped_feature_weights_and_reader():
    """qa/answer/joint_weights.py reads the feature model's probability and the reader's logit: a refit of either
    without refitting it (python -m qa.eval.fit_joint --write) would leave it weighing numbers it never saw."""
    from qa.answer import joint_weights
    from qa.answer.choose import JOINT_FEATURES
    from qa.eval.fit_joint import fitted_against

    manifest = joint_weights.MANIFEST
    assert manifest["fitted_against"] == fitted_against()
    assert all("bench" not in name for name in manifest["data"])
    assert manifest["questions"]["held_out"] == "the reader's validation documents"
    assert set(joint_weights.JOINT_WEIGHTS) == set(JOINT_FEATURES) == set(joint_weights.JOINT_WEIGHTS_BM25)


def _reader_key(doc_id: str, title: str) -> str:
    """The reader's key (qa.reader.data) of a fitting document id: `n0012p003` is new_wiki article 12, `n00012p000`
    a Natural Questions title, `r0001x00012p000` a Reddit post, `a0012p000` an Amazon product."""
    article = doc_id.rpartition("p")[0]
    if article.startswith("n") and len(article) == 6:
        return f"nq:{title}"
    if article.startswith("r"):
        number, _, post = article[1:].partition("x")
        return f"reddit:{int(number)}:{int(post)}"
    return f"{'new_wiki' if article.startswith('n') else 'amazon_reviews'}:{int(article[1:])}:0"


@needs_training_data
def test_the_joint_fitting_runs_end_to_end_on_the_readers_held_out_documents_only(tmp_path):
    from qa.eval.fit_joint import main
    from qa.eval.train_questions import training_dataset
    from qa.reader.data import is_validation

    held_out = training_dataset(TRAIN, 3, 7, held_out=True)
    own = {d for q in held_out.questions for d in q.gold_docs}
    assert len(own) >= 10 and all(is_validation(_reader_key(d, held_out.documents[d][0])) for d in own)
    drawn = training_dataset(TRAIN, 3, 7)
    assert not all(is_validation(_reader_key(d, drawn.documents[d][0])) for q in drawn.questions for d in q.gold_docs)
    out = tmp_path / "joint_weights.py"
    assert main(["--data", str(TRAIN), "--per-source", "3", "--folds", "2", "--write", "--out", str(out)]) == 0
    fitted = runpy.run_path(str(out))
    assert set(fitted["JOINT_WEIGHTS"]) == set(fitted["JOINT_WEIGHTS_BM25"]) == {"feature_logit", "reader_logit"}
    assert fitted["MANIFEST"]["questions"]["dense"]["answerable"] >= 6
