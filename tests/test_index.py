"""Index behaviour with the tiny hashing embedder: what gets embedded, atomic writes, damage, locks."""

import os
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from filelock import FileLock

import qa.index.local.segments
from qa.errors import CiteqaError, IndexUnusableError
from qa.index.local.generations import Generations
from qa.index.local.store import IndexDir, IndexParams
from qa.ingest.corpus import SkippedFile
from tests.conftest import ROOT
from tests.helpers.fakes import HashingEmbedder

PARAMS = IndexParams(model_id="test/hashing-64")


def _build(index_dir, corpus, embedder=None, **kw):
    embedder = embedder or HashingEmbedder()
    return IndexDir(index_dir).update(corpus, kw.pop("params", PARAMS), embedder, **kw), embedder


def test_first_build_embeds_every_sentence(tmp_path, seed_copy):
    report, embedder = _build(tmp_path / "idx", seed_copy)
    loaded = IndexDir(tmp_path / "idx").open()
    assert sorted(report.added) == ["000_7e63e6485bed1ddb", "004_cffa3cfd4d8230b1"]
    assert len(embedder.encoded) == loaded.counts["sentences"] == report.embedded
    assert loaded.counts["articles"] == 2 and loaded.counts["chunks"] >= 2
    loaded.close()


def test_incremental_update_embeds_only_what_changed(tmp_path, seed_copy):
    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    (seed_copy / "new.txt").write_text("Harris visited Busan. He met the mayor there.", encoding="utf-8")
    changed = seed_copy / "000_7e63e6485bed1ddb.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\nA final added sentence.\n", encoding="utf-8")
    (seed_copy / "004_cffa3cfd4d8230b1.txt").unlink()

    report, embedder = _build(index_dir, seed_copy)
    assert report.added == ["new"] and report.changed == ["000_7e63e6485bed1ddb"]
    assert report.removed == ["004_cffa3cfd4d8230b1"] and report.unchanged == 0
    loaded = IndexDir(index_dir).open()
    expected = len(loaded.article_sentences("new")) + len(loaded.article_sentences("000_7e63e6485bed1ddb"))
    assert len(embedder.encoded) == expected
    assert [a.id for a in loaded.articles()] == ["000_7e63e6485bed1ddb", "new"]
    loaded.close()


def test_unchanged_articles_keep_their_vectors(tmp_path, seed_copy):
    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    before = IndexDir(index_dir).open()
    old = {s.text: before.sentence_matrix([s.row])[0] for s in before.article_sentences("004_cffa3cfd4d8230b1")}
    before.close()
    (seed_copy / "aaa.txt").write_text("An article sorting first shifts every row.", encoding="utf-8")
    report, embedder = _build(index_dir, seed_copy)
    assert report.added == ["aaa"] and embedder.encoded == ["An article sorting first shifts every row."]
    after = IndexDir(index_dir).open()
    for sentence in after.article_sentences("004_cffa3cfd4d8230b1"):
        assert (after.sentence_matrix([sentence.row])[0] == old[sentence.text]).all()
    for chunk in after.chunks(np.flatnonzero(after.article_ids("chunks") == "004_cffa3cfd4d8230b1")):
        first, last = after.sentences([chunk.first_sentence_row, chunk.last_sentence_row])
        assert first.article_id == last.article_id == "004_cffa3cfd4d8230b1"
    after.close()


def test_a_reader_of_the_next_generation_shares_the_unchanged_segments(tmp_path, seed_copy):
    """Opened with the previous generation's reader, a new one reads only the segment the update added: the kept
    ones share their vectors and term counts, and it answers as a reader opened afresh, also once the previous
    one is closed."""
    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    before = IndexDir(index_dir).open()
    question = HashingEmbedder().encode(["Pompeo spoke in Silicon Valley"])[0]
    before.dense_sentences(question, 5)
    before.bm25_top(["pompeo"], "chunks", 5)
    (seed_copy / "new.txt").write_text("Harris visited Busan. He met the mayor there.", encoding="utf-8")
    _build(index_dir, seed_copy)
    after = IndexDir(index_dir).open(previous=before)
    kept, added = after.segments[: len(before.segments)], after.segments[len(before.segments) :]
    assert [s.info for s in kept] == [s.info for s in before.segments] and len(added) == 1
    for old, new in zip(before.segments, kept, strict=True):
        assert (
            new._vectors is old._vectors and new.terms("chunks") is old.terms("chunks") and new.store is not old.store
        )
    assert added[0]._vectors is not None and added[0]._vectors not in [s._vectors for s in before.segments]
    before.close()
    fresh = IndexDir(index_dir).open()
    try:
        for terms in (["pompeo"], ["busan", "mayor"]):
            assert np.array_equal(after.bm25_top(terms, "chunks", 5)[0], fresh.bm25_top(terms, "chunks", 5)[0])
        assert np.array_equal(after.dense_sentences(question, 5), fresh.dense_sentences(question, 5))
        assert [s.text for s in after.article_sentences("new")] == ["Harris visited Busan.", "He met the mayor there."]
    finally:
        fresh.close()
        after.close()


def test_unchanged_corpus_writes_nothing(tmp_path, seed_copy):
    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    generation = IndexDir(index_dir).live_generation()
    report, embedder = _build(index_dir, seed_copy)
    assert report.up_to_date and embedder.encoded == []
    assert IndexDir(index_dir).live_generation() == generation
    assert not IndexDir(index_dir).is_stale(seed_copy)
    (seed_copy / "x.txt").write_text("More news.", encoding="utf-8")
    assert IndexDir(index_dir).is_stale(seed_copy)


def test_touched_files_rewrite_only_the_metadata(tmp_path, seed_copy):
    """An update that changed no article (files touched) links every segment file of the live generation
    (same inodes: nothing rewritten) and writes only a new catalog with the new file facts; the index checks
    clean and answers the same."""
    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    before = IndexDir(index_dir).open()
    old_generation, old_rows = before.directory, {a.id: a for a in before.articles()}
    old_inodes = {name: (before.directory / name).stat().st_ino for name in before.manifest["files"]}
    before.close()
    touched = seed_copy / "000_7e63e6485bed1ddb.txt"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    report, embedder = _build(index_dir, seed_copy)
    assert report.up_to_date and embedder.encoded == []
    after = IndexDir(index_dir).open()
    assert after.directory != old_generation
    new_inodes = {name: (after.directory / name).stat().st_ino for name in after.manifest["files"]}
    assert new_inodes.keys() == old_inodes.keys()
    assert [name for name in new_inodes if new_inodes[name] != old_inodes[name]] == ["catalog.sqlite"]
    rows = {a.id: a for a in after.articles()}
    assert rows["000_7e63e6485bed1ddb"].mtime_ns == touched.stat().st_mtime_ns
    assert rows["004_cffa3cfd4d8230b1"] == old_rows["004_cffa3cfd4d8230b1"]
    after.close()
    assert IndexDir(index_dir).check()["articles"] == 2
    assert not IndexDir(index_dir).is_stale(seed_copy)


def test_an_update_reads_only_files_whose_stat_changed(tmp_path, seed_copy, monkeypatch):
    """Files the index holds with the same path, size and modification time are not read or hashed again."""
    import pathlib

    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    touched = seed_copy / "000_7e63e6485bed1ddb.txt"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    (seed_copy / "new.txt").write_text("Harris visited Busan. He met the mayor there.", encoding="utf-8")
    read = []
    real_read_bytes = pathlib.Path.read_bytes
    monkeypatch.setattr(pathlib.Path, "read_bytes", lambda path: read.append(path.name) or real_read_bytes(path))
    report, _ = _build(index_dir, seed_copy)
    assert report.added == ["new"] and report.unchanged == 2
    assert sorted(read) == ["000_7e63e6485bed1ddb.txt", "new.txt"]


def test_interrupted_write_leaves_previous_index_usable(tmp_path, seed_copy, monkeypatch):
    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    generation = IndexDir(index_dir).live_generation()
    (seed_copy / "new.txt").write_text("Harris visited Busan.", encoding="utf-8")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # as if Ctrl+C arrived while the new generation was being written

    monkeypatch.setattr(qa.index.local.segments, "write_segment_vectors", crash)
    with pytest.raises(KeyboardInterrupt):
        _build(index_dir, seed_copy)
    monkeypatch.undo()
    assert IndexDir(index_dir).live_generation() == generation
    loaded = IndexDir(index_dir).open()
    assert loaded.counts["articles"] == 2
    loaded.close()
    report, _ = _build(index_dir, seed_copy)  # the next write succeeds and clears the leftovers
    assert report.added == ["new"]
    assert [p.name for p in index_dir.iterdir() if p.name.startswith("tmp-")] == []


def test_killed_writer_leaves_previous_index_usable(tmp_path, seed_copy):
    """SIGKILL during embedding: nothing of the half-written generation is visible."""
    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    generation = IndexDir(index_dir).live_generation()
    for i in range(40):
        (seed_copy / f"extra{i}.txt").write_text(f"Article {i} about talks in Seoul. " * 20, encoding="utf-8")
    script = textwrap.dedent(f"""
        import time, sys
        sys.path[:0] = [{str(ROOT)!r}]
        from pathlib import Path
        from qa.index.local.store import IndexDir, IndexParams
        from tests.helpers.fakes import HashingEmbedder
        class Slow(HashingEmbedder):
            def encode(self, texts, progress=None):
                print("embedding", flush=True)
                time.sleep(60)
        IndexDir(Path({str(index_dir)!r})).update(Path({str(seed_copy)!r}), IndexParams("test/hashing-64"), Slow())
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "embedding"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert IndexDir(index_dir).live_generation() == generation
    loaded = IndexDir(index_dir).open()
    assert loaded.counts["articles"] == 2
    loaded.close()


def test_truncated_index_file_gives_a_clear_error(tmp_path, seed_copy):
    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    (vectors,) = IndexDir(index_dir).live_generation().glob("seg-*/vectors.npy")
    vectors.write_bytes(vectors.read_bytes()[:100])
    with pytest.raises(IndexUnusableError, match=r"truncated or damaged; rebuild with `citeqa index --rebuild`"):
        IndexDir(index_dir).open()
    report, _ = _build(index_dir, seed_copy, rebuild=True)
    assert len(report.added) == 2
    IndexDir(index_dir).open().close()


def test_corrupt_metadata_gives_a_clear_error(tmp_path, seed_copy):
    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    manifest = IndexDir(index_dir).live_generation() / "manifest.json"
    manifest.write_text("{not json")
    with pytest.raises(IndexUnusableError, match=r"manifest .* is damaged"):
        IndexDir(index_dir).open()


def test_index_built_with_another_model_is_refused(tmp_path, seed_copy):
    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    with pytest.raises(IndexUnusableError, match=r"built with model 'test/hashing-64', not 'other/model'.*--rebuild"):
        IndexDir(index_dir).open("other/model")
    with pytest.raises(IndexUnusableError, match="built with other model"):
        _build(index_dir, seed_copy, params=IndexParams(model_id="other/model"))


def test_concurrent_writer_is_locked_out(tmp_path, seed_copy):
    index_dir = tmp_path / "idx"
    Generations(index_dir).claim()  # as the other citeqa process did before it took the lock
    with FileLock(str(index_dir / ".lock")), pytest.raises(IndexUnusableError, match="another citeqa process"):
        _build(index_dir, seed_copy)


def test_corpus_without_articles(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "blob.txt").write_bytes(b"\x00\x01\x02")
    with pytest.warns(UserWarning, match="blob.txt"), pytest.raises(CiteqaError, match="no readable articles"):
        _build(tmp_path / "idx", tmp_path / "corpus")


def test_removing_an_article_embeds_nothing(tmp_path, seed_copy):
    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    (seed_copy / "000_7e63e6485bed1ddb.txt").unlink()
    report, embedder = _build(index_dir, seed_copy)
    assert report.removed == ["000_7e63e6485bed1ddb"] and embedder.encoded == []
    loaded = IndexDir(index_dir).open()
    assert [a.id for a in loaded.articles()] == ["004_cffa3cfd4d8230b1"]
    assert loaded.vectors.count == loaded.counts["sentences"] > 0
    loaded.close()


def test_articles_without_sentences(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "dateline.txt").write_text("16-Jan-2020 Agency | 6:02 AM\n")
    with pytest.raises(CiteqaError, match="contain no sentences"):
        _build(tmp_path / "idx", tmp_path / "corpus")


def test_reader_that_loses_the_race_opens_the_new_generation(tmp_path, seed_copy, monkeypatch):
    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    stale = IndexDir(index_dir).live_generation()
    (seed_copy / "new.txt").write_text("Harris visited Busan.", encoding="utf-8")
    _build(index_dir, seed_copy)
    assert not stale.exists()  # the writer removed the generation the reader had just looked up
    answers = iter([stale])
    current = IndexDir.live_generation
    monkeypatch.setattr(IndexDir, "live_generation", lambda self: next(answers, None) or current(self))
    loaded = IndexDir(index_dir).open()
    assert loaded.counts["articles"] == 3
    loaded.close()


def test_readers_never_fail_while_a_writer_rebuilds(tmp_path, seed_copy):
    """A reader opens the live generation and queries it in a loop while another process rebuilds the index
    again and again (each rebuild switches CURRENT and removes the old generation)."""
    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(ROOT)!r}]
        from pathlib import Path
        from qa.index.local.store import IndexDir, IndexParams
        from tests.helpers.fakes import HashingEmbedder
        for _ in range(15):
            IndexDir(Path({str(index_dir)!r})).update(
                Path({str(seed_copy)!r}), IndexParams("test/hashing-64"), HashingEmbedder(), rebuild=True
            )
    """)
    writer = subprocess.Popen([sys.executable, "-c", script])
    reads = failures = 0
    try:
        while writer.poll() is None or reads < 50:
            try:
                loaded = IndexDir(index_dir).open()
                rows, _ = loaded.bm25_top(["harri"], "chunks", 5)
                assert len(rows) > 0
                assert loaded.article_text("000_7e63e6485bed1ddb")
                loaded.close()
            except IndexUnusableError:
                failures += 1
            reads += 1
    finally:
        writer.wait(timeout=120)
    assert writer.returncode == 0
    assert failures == 0 and reads >= 50


def test_an_index_of_one_corpus_refuses_another(tmp_path, seed_copy):
    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    other = tmp_path / "other"
    other.mkdir()
    (other / "b.txt").write_text("Moon visited Busan on Friday.", encoding="utf-8")
    with pytest.raises(IndexUnusableError, match=rf"holds the corpus {seed_copy}, not {other}"):
        _build(index_dir, other)
    loaded = IndexDir(index_dir).open()
    assert loaded.counts["articles"] == 2  # the first corpus's articles are still there
    with pytest.raises(IndexUnusableError, match="holds the corpus"):
        loaded.require_corpus(other)
    loaded.close()
    report, _ = _build(index_dir, other, rebuild=True)  # replacing it is an explicit choice
    assert report.added == ["b"]


def _skip_warnings(index_dir, corpus) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _build(index_dir, corpus)
    return [str(w.message) for w in caught if issubclass(w.category, SkippedFile)]


def test_skipped_files_are_reported_once_and_do_not_make_the_index_stale(tmp_path, seed_copy):
    index_dir = tmp_path / "idx"
    (seed_copy / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert _skip_warnings(index_dir, seed_copy) == [f"skipped {seed_copy / 'image.txt'}: binary content"]
    assert not IndexDir(index_dir).is_stale(seed_copy)
    (seed_copy / "new.txt").write_text("Harris visited Busan.", encoding="utf-8")
    assert _skip_warnings(index_dir, seed_copy) == []  # reported when it was skipped, not on every update
    assert IndexDir(index_dir).open().skipped[0].reason == "binary content"
    (seed_copy / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR2")  # changed: look again
    assert IndexDir(index_dir).is_stale(seed_copy)
    assert len(_skip_warnings(index_dir, seed_copy)) == 1


def test_a_full_disk_leaves_no_partial_generation(tmp_path, seed_copy, monkeypatch):
    import errno

    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    generation = IndexDir(index_dir).live_generation()
    (seed_copy / "new.txt").write_text("Harris visited Busan.", encoding="utf-8")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(qa.index.local.segments, "write_segment_vectors", full)
    with pytest.raises(OSError, match="No space left"):
        _build(index_dir, seed_copy)
    assert sorted(p.name for p in index_dir.iterdir() if p.is_dir()) == [generation.name]
    assert IndexDir(index_dir).live_generation() == generation


def test_check_verifies_every_file(tmp_path, seed_copy):
    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    assert IndexDir(index_dir).check()["articles"] == 2
    (vectors,) = IndexDir(index_dir).live_generation().glob("seg-*/vectors.npy")
    data = bytearray(vectors.read_bytes())
    data[-10] ^= 0xFF  # one flipped byte inside a vector: same size, loads fine, only the checksum knows
    vectors.write_bytes(bytes(data))
    IndexDir(index_dir).open().close()
    with pytest.raises(IndexUnusableError, match=r"vectors\.npy is missing, truncated or damaged"):
        IndexDir(index_dir).check()


def test_damaged_bm25_arrays_are_caught_on_open(tmp_path, seed_copy):
    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    (array,) = IndexDir(index_dir).live_generation().glob("seg-*/terms-chunks/documents.npy")
    data = bytearray(array.read_bytes())
    data[-4:] = b"\xff\xff\xff\x7f"  # an out-of-range term id: would fail mid-question
    array.write_bytes(bytes(data))
    with pytest.raises(IndexUnusableError, match="terms-chunks/documents"):
        IndexDir(index_dir).open()


def test_an_index_of_an_older_format_is_rebuilt_on_update(tmp_path, seed_copy):
    import json

    index_dir = tmp_path / "idx"
    _build(index_dir, seed_copy)
    manifest = IndexDir(index_dir).live_generation() / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format": 1}))
    with pytest.raises(IndexUnusableError, match="has format 1"):
        IndexDir(index_dir).open()
    assert IndexDir(index_dir).is_stale(seed_copy)
    report, _ = _build(index_dir, seed_copy)
    assert len(report.added) == 2
    IndexDir(index_dir).open().close()
