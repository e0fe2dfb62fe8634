"""Segments (qa.index.local.segments): an update writes one new segment and a catalog, deleted and changed articles are
never answered, merges keep answers identical. Mechanics with the tiny hashing embedder; answers with the
real model on the seeds."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from qa.index.local.segments import MergePolicy, SegmentInfo
from qa.index.local.store import IndexDir
from qa.index.seam import IndexParams
from qa.pipeline import Assistant
from tests.conftest import SEEDS
from tests.helpers.corpora import write_extra_articles
from tests.helpers.fakes import HashingEmbedder

PARAMS = IndexParams(model_id="test/hashing-64")
QUESTIONS = [json.loads(line) for line in (SEEDS / "questions.jsonl").read_text().splitlines()]
NEVER = MergePolicy(max_segments=1000, share=1.0)


def _inodes(generation) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(generation).as_posix(): (p.stat().st_ino, p.stat().st_size)
        for p in generation.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    }


def test_an_update_writes_one_new_segment_and_the_catalog(tmp_path, seed_copy):
    """Adding an article, changing one and removing one: every file of the old segment is the same inode in
    the new generation; the only new files are the new segment's and the catalog."""
    write_extra_articles(seed_copy, 30, "extra-", seed=4)
    index = IndexDir(tmp_path / "idx", NEVER)
    index.update(seed_copy, PARAMS, HashingEmbedder())
    before = _inodes(index.live_generation())
    (seed_copy / "zz-new.txt").write_text("Port news\n\nThe ferry terminal will open in October.\n")
    (seed_copy / "extra-003.txt").write_text("Changed\n\nThe mayor resigned on Monday.\n")
    (seed_copy / "extra-004.txt").unlink()
    embedder = HashingEmbedder()
    report = index.update(seed_copy, PARAMS, embedder)
    assert report.added == ["zz-new"] and report.changed == ["extra-003"] and report.removed == ["extra-004"]
    assert len(embedder.encoded) == 4  # two headlines, two sentences
    after = _inodes(index.live_generation())
    kept = {name for name in after if before.get(name, (None,))[0] == after[name][0]}
    assert kept == set(before) - {"catalog.sqlite"}  # every file of the old segment, linked
    new_files = set(after) - kept
    new_segments = {name.split("/")[0] for name in new_files - {"catalog.sqlite"}}
    assert len(new_segments) == 1
    assert new_files == {"catalog.sqlite"} | {name for name in after if name.split("/")[0] in new_segments}
    written = sum(size for name, (_, size) in after.items() if name not in kept)
    assert written < 0.2 * sum(size for _, size in after.values())
    loaded = index.open()
    assert len(loaded.segments) == 2 and loaded.counts["articles"] == 2 + 30
    loaded.close()


def test_deleted_and_changed_articles_are_never_answered(seed_copy, tmp_path):
    """Their old rows stay in the old segment as tombstones: no dense search, BM25 search, filter or article
    list returns them, and the question only they answered is abstained on."""
    assistant = Assistant(corpus=seed_copy, store=IndexDir(tmp_path / "index", NEVER))
    (seed_copy / "port.txt").write_text(
        "Port news\n\nThe harbour master of Tromsø said the new ferry terminal would open in October.\n"
    )
    assistant.ensure_index()
    assert "October" in assistant.ask("When will the ferry terminal in Tromsø open?").text
    (seed_copy / "port.txt").write_text("Port news\n\nThe harbour master of Tromsø retired.\n")
    assistant.close()
    assistant.update_index()
    index = assistant.index
    assert len(index.segments) == 2 and index.vectors.layout.tombstones == 2
    dead = np.flatnonzero(~index.live["sentences"])
    vector = assistant.embedder.encode(["the new ferry terminal would open in October"])[0]
    assert not set(index.dense_sentences(vector, 500)) & set(dead)
    rows, _ = index.bm25_top(["octob", "termin", "ferri"], "sentences", 500)
    assert not set(rows) & set(dead)
    assert [a.id for a in index.articles()].count("port") == 1
    answer = assistant.ask("When will the ferry terminal in Tromsø open?")
    assert "October" not in answer.text
    assert all("October" not in c.sentence for c in answer.citations)
    assistant.close()


def _answers(assistant) -> dict[str, tuple[str, list[tuple[str, int, int]]]]:
    found = {}
    for item in QUESTIONS:
        answer = assistant.ask(item["question"])
        found[item["id"]] = (answer.text, [(c.article_id, c.start, c.end) for c in answer.citations])
    return found


@pytest.mark.parametrize(
    "policy", [MergePolicy(max_segments=2), MergePolicy(share=0.0)], ids=["segments-after-the-first", "full"]
)
def test_merges_keep_answers_identical(seed_copy, tmp_path, policy):
    """One index updated three times (segments and tombstones), copied; one more update to each, the copy's
    under a policy that merges: every seed question gets the same answer and citations from both."""
    write_extra_articles(seed_copy, 6, "extra-", seed=5)
    unmerged = tmp_path / "unmerged"
    assistant = Assistant(corpus=seed_copy, store=IndexDir(unmerged, NEVER))
    assistant.ensure_index()
    for step in range(3):
        (seed_copy / f"extra-00{step}.txt").unlink()
        (seed_copy / f"zz-{step}.txt").write_text(f"Port news {step}\n\nA ferry left Busan with {step} cars.\n")
        assistant.close()
        assistant.update_index()
    merged = tmp_path / "merged"
    shutil.copytree(unmerged, merged)
    (seed_copy / "zz-last.txt").write_text("Weather\n\nRain fell on Seoul on Sunday.\n")
    assistant.close()
    assistant.update_index()
    other = Assistant(corpus=seed_copy, store=IndexDir(merged, policy))
    other.update_index()
    assert len(assistant.index.segments) == 5 and len(other.index.segments) < 5
    assert other.index.counts == assistant.index.counts
    assert _answers(other) == _answers(assistant)
    other.close()
    assistant.close()


def test_merge_policy():
    policy = MergePolicy(max_segments=3, share=0.2)
    first = SegmentInfo("a", 100, 1000, 300)
    small = SegmentInfo("b", 1, 10, 3)
    assert policy.choose([first, small], [1000, 10]) == ([], False)
    assert policy.choose([first, small, small, small], [1000, 10, 10, 10]) == ([1, 2, 3], False)
    assert policy.choose([first, small], [700, 10]) == ([0, 1], False)  # 30% tombstones
    big = SegmentInfo("c", 100, 1200, 300)
    assert policy.choose([first, big], [1000, 1200]) == ([0, 1], False)  # more outside the first than in it
    graph = SegmentInfo("g", 100, 1000, 300, graph=True)
    assert policy.choose([graph, SegmentInfo("d", 30, 300, 90)], [1000, 300])[0] == [0, 1]  # 30% beside it


def test_a_segment_without_sentences_is_searched_as_empty(tmp_path, seed_copy):
    """An update whose only new article has no sentence (a dateline) writes an empty segment; searches skip it."""
    index = IndexDir(tmp_path / "idx", NEVER)
    embedder = HashingEmbedder()
    index.update(seed_copy, PARAMS, embedder)
    (seed_copy / "dateline.txt").write_text("16-Jan-2020 Agency | 6:02 AM\n")
    index.update(seed_copy, PARAMS, embedder)
    loaded = index.open()
    try:
        assert len(loaded.segments) == 2 and loaded.segments[1].info.sentences == 0
        assert loaded.counts["articles"] == 3
        rows = loaded.dense_sentences(embedder.encode(["Harris met Lee"])[0], 5)
        assert len(rows) == 5 and set(loaded.article_ids("sentences")[rows]) <= {
            "000_7e63e6485bed1ddb",
            "004_cffa3cfd4d8230b1",
        }
    finally:
        loaded.close()
