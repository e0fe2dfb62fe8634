"""Metrics against hand-computed cases, dataset loaders, and `citeqa eval` on the seed questions."""

import json
import re

import pytest
from typer.testing import CliRunner

from qa.cli import app
from qa.errors import CiteqaError
from qa.eval.datasets import DatasetError, load_dataset, materialise_corpus
from qa.eval.metrics import (
    abstention_scores,
    gold_rank,
    hit_at,
    ndcg_at_k,
    percentile,
    recall_at_k,
    reciprocal_rank,
    unique_in_order,
)
from tests.conftest import SEEDS

runner = CliRunner()


def test_recall_and_mrr_by_hand():
    ranked = ["d3", "d1", "d7", "d2"]
    assert recall_at_k(ranked, {"d1": 1}, 1) == 0.0
    assert recall_at_k(ranked, {"d1": 1}, 2) == 1.0
    assert recall_at_k(ranked, {"d1": 1, "d9": 1}, 10) == 0.5  # k beyond the results; d9 never retrieved
    assert recall_at_k(ranked, {"d1": 0}, 10) == 0.0  # grade 0 is not relevant
    assert reciprocal_rank(ranked, {"d7": 1}) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, {"d2": 1}, k=3) == 0.0
    assert reciprocal_rank(ranked, {"d1": 1, "d2": 1}) == 0.5  # the first relevant counts
    assert gold_rank(ranked, {"d2": 1}) == 4 and gold_rank(ranked, {"x": 1}) is None


def test_ndcg_graded_by_hand():
    import math

    ranked = ["a", "b", "c"]
    gold = {"a": 1, "c": 2}
    dcg = 1 / math.log2(2) + 2 / math.log2(4)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(ranked, gold) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["c", "a"], gold) == pytest.approx(1.0)
    assert ndcg_at_k(["x"], gold) == 0.0


def test_ties_in_passages_become_article_ranks():
    assert unique_in_order(["a", "a", "b", "a", "c"]) == ["a", "b", "c"]


def test_hits_and_abstention():
    cited = ["The  Broncos WON.", "Other sentence."]
    assert hit_at(cited, ["broncos won"], 1)
    assert not hit_at(cited, ["Panthers"], 3)
    assert hit_at(["x", "y", "Panthers lost"], ["panthers"], 3) and not hit_at(["x", "y", "Panthers"], ["panthers"], 2)
    assert abstention_scores([True, True, False], [False, True, False]) == (0.5, 0.5)
    assert abstention_scores([False], [True]) == (0.0, 0.0)
    assert percentile([5, 1, 3, 2, 4], 50) == 3 and percentile([], 95) == 0.0


def test_jsonl_loader_reads_the_seed_questions():
    dataset = load_dataset(SEEDS / "questions.jsonl")
    assert dataset.format == "jsonl" and len(dataset.questions) >= 12
    assert dataset.documents is None
    first = dataset.questions[0]
    assert first.gold_strings == first.evidence


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"id": "a", "question": "q?", "answers": [], "docs": [], "evidence": ["e"], "answerable": true}\n{oops\n',
            r"bad\.jsonl:2: not valid JSON",
        ),
        (
            '{"id": "a", "question": "q?", "answers": [], "docs": [], "evidence": [], "answerable": true}\n',
            r"bad\.jsonl:1: an answerable question needs evidence or answers",
        ),
        (
            '\n{"id": "a", "answers": [], "docs": [], "evidence": [], "answerable": false}\n',
            r"bad\.jsonl:2: missing 'question'",
        ),
        ("[1, 2]\n", r"bad\.jsonl:1: expected a JSON object"),
    ],
)
def test_jsonl_loader_names_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(DatasetError, match=message):
        load_dataset(path)


def _squad(tmp_path, data):
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_squad_loader(tmp_path):
    path = _squad(
        tmp_path,
        {
            "data": [
                {
                    "title": "Super_Bowl_50",
                    "paragraphs": [
                        {
                            "context": "The Broncos won. The Panthers lost.",
                            "qas": [
                                {
                                    "id": "q1",
                                    "question": "Who won?",
                                    "answers": [
                                        {"text": "Broncos", "answer_start": 4},
                                        {"text": "Broncos", "answer_start": 4},
                                    ],
                                }
                            ],
                        }
                    ],
                }
            ]
        },
    )
    dataset = load_dataset(path)
    (question,) = dataset.questions
    assert question.answers == ("Broncos",) and question.gold_docs == {"a000p000": 1}
    assert dataset.documents == {"a000p000": ("Super Bowl 50", "The Broncos won. The Panthers lost.")}
    corpus = materialise_corpus(dataset, tmp_path / "cache")
    assert (corpus / "a000p000.txt").read_text().startswith("Super Bowl 50\n\nThe Broncos won.")
    assert materialise_corpus(dataset, tmp_path / "cache") == corpus


def test_squad_loader_errors(tmp_path):
    with pytest.raises(DatasetError, match=r"squad\.json:2: not valid JSON"):
        load_dataset(_squad(tmp_path, '{"data":\n [}'))
    with pytest.raises(DatasetError, match=r"data\[0\]\.paragraphs\[0\]: missing 'context'"):
        load_dataset(_squad(tmp_path, {"data": [{"title": "T", "paragraphs": [{"qas": []}]}]}))


def _beir(tmp_path, qrels="query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t1\n"):
    root = tmp_path / "beir"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text('{"_id": "d1", "title": "A", "text": "alpha"}\n{"_id": "d2", "text": "beta"}\n')
    (root / "queries.jsonl").write_text('{"_id": "q1", "text": "alpha?"}\n')
    (root / "qrels" / "test.tsv").write_text(qrels)
    return root


def test_beir_loader_graded(tmp_path):
    dataset = load_dataset(_beir(tmp_path))
    (question,) = dataset.questions
    assert question.gold_docs == {"d1": 2, "d2": 1} and question.gold_strings == ()
    assert dataset.documents["d2"] == ("", "beta")


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        ("q1\td1\n", r"test\.tsv:1: expected query-id, corpus-id, score"),
        ("q1\td1\t2\nq1\td1\thigh\n", r"test\.tsv:2: score 'high' is not an integer"),
        ("q9\td1\t1\n", r"test\.tsv:1: unknown query id 'q9'"),
    ],
)
def test_beir_loader_errors(tmp_path, qrels, message):
    with pytest.raises(DatasetError, match=message):
        load_dataset(_beir(tmp_path, qrels))


def test_eval_on_seed_questions_meets_the_bar(tmp_path, seed_index_dir, monkeypatch):
    monkeypatch.setenv("CITEQA_INDEX", str(seed_index_dir))
    out = tmp_path / "run.json"
    report = tmp_path / "report.md"
    result = runner.invoke(
        app,
        [
            "eval",
            str(SEEDS / "questions.jsonl"),
            "--mode",
            "all",
            "--json",
            str(out),
            "--report",
            str(report),
            "--fail-under",
            "hit@1=0.75",
            "--fail-under",
            "recall@5=0.9",
        ],
    )
    doc = json.loads(out.read_text())
    hybrid = doc["summary"]["hybrid"]
    assert result.exit_code == 0, (result.output, hybrid)
    assert hybrid["hit@1"] >= 0.8 and hybrid["abstain_recall"] == 1.0
    # every trap (7) abstained on, and at most three answerable questions: the two whose probability sits within
    # NEAR of the threshold (pompeo-hope-kim, kim-audience: test_answers.py), which a machine may answer or not, and
    # moon-tours, a known miss that the fourth round's reader abstains on rather than cite the wrong sentence
    assert hybrid["abstain_precision"] >= 7 / 10
    assert hybrid["hit@1_by_kind"]["when"] == [3, 1.0] and 0 < hybrid["span_f1"] <= 1
    assert set(doc["summary"]) == {"dense", "bm25", "hybrid"}
    assert {"hit1", "gold_rank", "cited", "abstained"} <= set(doc["results"][0])
    assert "| hybrid |" in report.read_text()
    for mode in ("dense", "bm25", "hybrid"):
        assert mode in result.stdout


def test_eval_fail_under_exits_1(seed_index_dir, monkeypatch):
    monkeypatch.setenv("CITEQA_INDEX", str(seed_index_dir))
    result = runner.invoke(app, ["eval", str(SEEDS / "questions.jsonl"), "--fail-under", "hit@1=1.01"])
    assert isinstance(result.exception, CiteqaError)  # main() prints it as one line and exits 1
    assert re.search(r"hybrid hit@1 = [01]\.\d{3} is under 1.01", str(result.exception))


def test_eval_end_to_end_on_a_small_beir_dataset(tmp_path):
    root = tmp_path / "tiny-beir"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text(
        '{"_id": "d1", "title": "Volcanoes", "text": "Mount Etna erupted again on Sunday, covering Catania in ash."}\n'
        '{"_id": "d2", "title": "Football", "text": "The final was decided by a penalty shoot-out in Rome."}\n'
        '{"_id": "d3", "title": "Volcano science", "text": "Etna is among the most active volcanoes in Europe."}\n',
        encoding="utf-8",
    )
    (root / "queries.jsonl").write_text('{"_id": "q1", "text": "Which volcano erupted on Sunday?"}\n')
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td3\t1\n")
    out = tmp_path / "beir.json"
    result = runner.invoke(app, ["eval", str(root), "--mode", "all", "--json", str(out), "-q"])
    assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())["summary"]
    for mode in ("dense", "bm25", "hybrid"):
        assert summary[mode]["recall@10"] == 1.0
        assert summary[mode]["ndcg@10"] > 0.9  # d1 (grade 2) first, d3 (grade 1) second
    assert "hit@1" not in summary["hybrid"]  # BEIR has no answer strings
