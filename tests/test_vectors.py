"""Sentence vectors above the size threshold (qa.index.local.vectors): an HNSW graph in the first segment, shared
between generations, later segments searched exactly, tombstones for removed sentences, and merges; all with the real
model on real text."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from qa.cli import app
from qa.index.local.store import IndexDir
from qa.index.local.vectors import ANN_THRESHOLD, GRAPH_FILE, ann_wanted
from qa.pipeline import Assistant
from tests.conftest import ROOT, SEEDS
from tests.helpers.corpora import write_extra_articles

QUESTIONS = [json.loads(line) for line in (SEEDS / "questions.jsonl").read_text().splitlines()]


def _cited(answer) -> list[tuple[str, int, int]]:
    return [(c.article_id, c.start, c.end) for c in answer.citations]


def test_the_graph_is_chosen_from_the_threshold_up(monkeypatch):
    monkeypatch.delenv("CITEQA_ANN", raising=False)
    assert not ann_wanted(ANN_THRESHOLD - 1) and ann_wanted(ANN_THRESHOLD)
    monkeypatch.setenv("CITEQA_ANN", "never")
    assert not ann_wanted(10 * ANN_THRESHOLD)
    monkeypatch.setenv("CITEQA_ANN", "always")
    assert ann_wanted(1)


def test_forced_on_the_seeds_the_graph_answers_every_question_as_exact_search(assistant, tmp_path, monkeypatch):
    monkeypatch.setenv("CITEQA_ANN", "always")
    graph = Assistant(index_dir=tmp_path / "graph")
    graph.ensure_index()
    try:
        assert graph.index.vectors.layout.kind == "hnsw" and assistant.index.vectors.layout.kind == "flat"
        shown = CliRunner().invoke(app, ["info", "--index", str(tmp_path / "graph")])
        assert f"Search:    HNSW graph of {graph.index.counts['sentences']} vectors" in shown.output
        for item in QUESTIONS:
            exact, approximate = assistant.ask(item["question"]), graph.ask(item["question"])
            assert (approximate.text, _cited(approximate)) == (exact.text, _cited(exact)), item["id"]
    finally:
        graph.close()


def _layout(index_dir):
    """The vectors' layout and the inode of the graph file."""
    loaded = IndexDir(index_dir).open()
    try:
        return loaded.vectors.layout, (loaded.segments[0].directory / GRAPH_FILE).stat().st_ino
    finally:
        loaded.close()


def _answers(assistant) -> dict[str, list[tuple[str, int, int]]]:
    return {item["id"]: _cited(assistant.ask(item["question"])) for item in QUESTIONS}


def _exact_answers(corpus, index_dir, monkeypatch) -> dict[str, list[tuple[str, int, int]]]:
    """The seed questions answered from a fresh index of `corpus` searched exactly."""
    monkeypatch.setenv("CITEQA_ANN", "never")
    exact = Assistant(corpus=corpus, index_dir=index_dir)
    try:
        exact.ensure_index()
        return _answers(exact)
    finally:
        exact.close()
        monkeypatch.setenv("CITEQA_ANN", "always")


def test_updates_add_a_segment_and_tombstones_without_rebuilding_the_graph(seed_copy, tmp_path, monkeypatch):
    """Adding and deleting articles leaves the graph file as it was (a hard link: same inode), puts the new
    sentences in a new segment searched exactly and marks the deleted ones; deleted text is never answered;
    once the changes pass a fifth of the graph, the next update merges everything into a new graph. Before and
    after the merge, every seed question is answered as a fresh exact index of the same articles answers it."""
    monkeypatch.setenv("CITEQA_ANN", "always")
    write_extra_articles(seed_copy, 8, "extra-", seed=1)
    index_dir = tmp_path / "index"
    assistant = Assistant(corpus=seed_copy, index_dir=index_dir)
    assistant.ensure_index()
    built, inode = _layout(index_dir)
    assert built.kind == "hnsw" and built.exact == built.tombstones == 0

    (seed_copy / "zz-port.txt").write_text(
        "Port news\n\nThe harbour master of Tromsø said the new ferry terminal would open in October.\n"
    )
    (seed_copy / "extra-000.txt").unlink()
    assistant.close()
    report = assistant.update_index()
    assert report.added == ["zz-port"] and report.removed == ["extra-000"]
    layout, same_inode = _layout(index_dir)
    assert same_inode == inode and layout.graph == built.graph
    assert layout.exact == 2 and layout.tombstones > 0  # the new article's headline and sentence
    assert IndexDir(index_dir).check()["sentences"] > 0  # the linked graph's checksum, carried over, still holds
    answer = assistant.ask("When will the ferry terminal in Tromsø open?")
    assert "October" in answer.text and answer.citations[0].article_id == "zz-port"
    vector = assistant.embedder.encode(["Report extra- 0"])[0]
    rows = assistant.index.dense_sentences(vector, 300)
    assert "extra-000" not in set(assistant.index.article_ids("sentences")[rows])
    assert _answers(assistant) == _exact_answers(seed_copy, tmp_path / "exact-1", monkeypatch)

    for name in sorted(p.name for p in seed_copy.glob("extra-*.txt"))[:4]:
        (seed_copy / name).unlink()
    assistant.close()
    assistant.update_index()
    merged, new_inode = _layout(index_dir)
    assert new_inode != inode and merged.exact == merged.tombstones == 0  # a new graph of everything
    assert _answers(assistant) == _exact_answers(seed_copy, tmp_path / "exact-2", monkeypatch)
    assistant.close()


def test_filtered_questions_search_only_the_allowed_sentences(seed_copy, tmp_path, monkeypatch):
    """A filter allowing few sentences is searched exactly over them, a wide one inside the graph and the
    later segment; either way only allowed rows come back, as many as asked when there are enough."""
    monkeypatch.setenv("CITEQA_ANN", "always")
    write_extra_articles(seed_copy, 6, "extra-", seed=2)
    assistant = Assistant(corpus=seed_copy, index_dir=tmp_path / "index")
    assistant.ensure_index()
    (seed_copy / "zz-more.txt").write_text("More news\n\nA second report on the harbour.\n")
    assistant.close()
    assistant.update_index()
    vectors = assistant.index.vectors
    assert vectors.layout.exact == 2
    vector = assistant.embedder.encode(["harbour report"])[0]
    everything = np.flatnonzero(vectors.live)
    for allowed in (everything[:3], everything[::2], everything):
        rows = vectors.nearest(vector, 10, allowed)
        assert set(rows) <= set(allowed) and len(rows) == min(10, len(allowed))
        exact = allowed[np.argsort(-(vectors.matrix(allowed) @ vector))[:10]]
        assert set(rows) == set(exact)  # a few hundred vectors: the graph finds the true nearest
    assistant.close()


@pytest.mark.slow
def test_kill_9_during_a_merge_leaves_the_previous_generation_answering(seed_copy, tmp_path):
    """Each update adds more than a fifth of the graph, so each is a merge; killed at random moments, the
    index afterwards opens consistent and answers."""
    index_dir = tmp_path / "index"
    env = {**os.environ, "CITEQA_ANN": "always"}
    command = [sys.executable, "-m", "qa", "index", str(seed_copy), "--index", str(index_dir), "-q"]
    assert subprocess.run(command, cwd=ROOT, env=env, capture_output=True).returncode == 0
    rng = random.Random(11)
    for kill in range(8):
        write_extra_articles(seed_copy, 4, f"m{kill}-", seed=kill)
        writer = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 3.0))
        writer.kill()
        writer.wait()
        reader = Assistant(corpus=seed_copy, index_dir=index_dir)
        loaded = reader.index
        assert loaded.vectors.layout.kind == "hnsw" and loaded.vectors.count == loaded.counts["sentences"]
        assert "Harry Harris" in reader.ask("Who did Unification Minister Lee In-young meet?").text
        reader.close()
    leftovers = [p for p in index_dir.iterdir() if p.is_dir() and not p.name.startswith("gen-")]
    assert subprocess.run(command, cwd=ROOT, env=env, capture_output=True).returncode == 0
    assert all(not p.exists() for p in leftovers)


def test_damaged_vector_files_give_one_clear_error(seed_copy, tmp_path, monkeypatch):
    """The graph missing or truncated, or a segment's vectors cut short: opening says the index is damaged
    and how to rebuild, never a traceback."""
    from qa.errors import IndexUnusableError
    from qa.index.local.vectors import MATRIX_FILE

    monkeypatch.setenv("CITEQA_ANN", "always")
    Assistant(corpus=seed_copy, index_dir=tmp_path / "index").ensure_index()
    (seed_copy / "zz-port.txt").write_text("Port news\n\nThe ferry terminal will open in October.\n")
    Assistant(corpus=seed_copy, index_dir=tmp_path / "index").update_index()
    live = IndexDir(tmp_path / "index").live_generation()
    (graph,) = live.glob(f"seg-*/{GRAPH_FILE}")
    (matrix,) = live.glob(f"seg-*/{MATRIX_FILE}")
    for path, damage in [
        (graph, lambda p: p.unlink()),
        (graph, lambda p: p.write_bytes(p.read_bytes()[:10])),
        (matrix, lambda p: p.write_bytes(p.read_bytes()[:-40])),
    ]:
        copy = tmp_path / f"damaged-{len(list(tmp_path.iterdir()))}"
        shutil.copytree(tmp_path / "index", copy)
        damage(copy / path.relative_to(tmp_path / "index"))
        with pytest.raises(IndexUnusableError, match="rebuild"):
            IndexDir(copy).open()
