"""One contract for every storage backend (haystack's document-store tests and txtai's `runTests` are the
model): the same corpus history — build, update, delete, touch, rebuild, reopen — applied to the local backend
and to Milvus Lite (the real engine), with the real bundled model. After every step both hold the same
articles, counts, document frequencies (IDF), copies of one story and answers with their citations, and a
rebuild holds exactly what the updates before it did."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import SEEDS

BACKENDS = ("local", "milvus-lite")
SEED_A, SEED_B = "000_7e63e6485bed1ddb", "004_cffa3cfd4d8230b1"
QUESTIONS = [json.loads(line)["question"] for line in (SEEDS / "questions.jsonl").read_text().splitlines()]
B_QUESTION = "According to Harry Harris, how must progress in inter-Korean relations take place?"
PROBE_TERMS = (
    "Unification Minister Lee In-young met with US Ambassador Harry Harris in Seoul; Pompeo said sanctions on "
    "North Korea stay. Harris visited the port city of Busan on Friday. The working group met."
)


def _location(backend: str, root: Path) -> str:
    return str(root / "index") if backend == "local" else str(root / "milvus" / "citeqa.db")


def observe(assistant) -> dict:
    """What a backend holds and answers, in a form two backends can be compared in."""
    from qa.text.lexical import terms

    index = assistant.index
    probe = sorted(set(terms(PROBE_TERMS)))
    groups: dict[str, set[str]] = {}
    for article_id, group in index.copy_groups().items():
        groups.setdefault(group, set()).add(article_id)
    answers = {}
    for question in QUESTIONS:
        answer = assistant.ask(question)
        answers[question] = [(c.article_id, c.sentence, c.start, c.end) for c in answer.citations] + [
            answer.span.text if answer.span else None
        ]
    return {
        "counts": dict(index.counts),
        "idf": {c: {t: round(v, 9) for t, v in index.idf(probe, c).items()} for c in ("chunks", "sentences")},
        "articles": sorted((a.id, a.title, a.date, Path(a.path).name, a.sha256, a.size) for a in index.articles()),
        "mtimes": {a.id: a.mtime_ns for a in index.articles()},  # of this backend's copy of the corpus
        "copies": sorted(sorted(g) for g in groups.values()),
        "sentence_fields_kept": all(
            s.terms is not None and s.mentions is not None for s in index.article_sentences(SEED_A)
        ),
        "answers": answers,
    }


def run_history(backend: str, root: Path) -> list[tuple[str, dict, object]]:
    """The corpus history applied through the seam; (step, observation, update report) after each step."""
    from qa.pipeline import Assistant
    from qa.retrieve.filters import make_filter

    corpus = root / "corpus"
    corpus.mkdir()
    for article in SEEDS.glob("*.txt"):
        shutil.copy(article, corpus / article.name)
    location = _location(backend, root)
    steps = []

    def step(name: str, rebuild: bool = False, reopen: bool = False) -> None:
        nonlocal assistant
        if reopen:
            assistant.close()
            assistant = Assistant(corpus, location)
        report = None if reopen else assistant.update_index(rebuild=rebuild)
        steps.append((name, observe(assistant), report))

    assistant = Assistant(corpus, location)
    try:
        step("build")
        (corpus / "busan.txt").write_text("Harris visited the port city of Busan on Friday.\n", encoding="utf-8")
        original = (corpus / f"{SEED_B}.txt").read_text(encoding="utf-8")
        (corpus / f"{SEED_B}.txt").write_text(original.replace("Pompeo", "Mike Pompeo", 1), encoding="utf-8")
        shutil.copy(corpus / f"{SEED_A}.txt", corpus / "wire-copy.txt")
        step("update")
        (corpus / "busan.txt").unlink()
        step("delete")
        touched = corpus / f"{SEED_A}.txt"
        os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
        step("touch")
        step("rebuild", rebuild=True)
        step("reopen", reopen=True)
        to_b = make_filter(None, None, (), (f"{SEED_B}*",))
        elsewhere = assistant.ask(QUESTIONS[0], only=to_b)  # its answer is in SEED_A
        inside = assistant.ask(B_QUESTION, only=to_b)
        cited = {"elsewhere": sorted({c.article_id for c in elsewhere.citations})}
        cited["inside"] = sorted({c.article_id for c in inside.citations})
        steps.append(("filter", cited, None))
    finally:
        assistant.close()
    return steps


@pytest.fixture(scope="module")
def histories(tmp_path_factory) -> dict[str, list]:
    """Each backend's history, run once for the module (Milvus Lite's where the milvus extra is installed)."""
    try:
        import pymilvus  # noqa: F401
    except ImportError:
        backends = ("local",)
    else:
        backends = BACKENDS
    return {b: run_history(b, tmp_path_factory.mktemp(b)) for b in backends}


@pytest.fixture(params=BACKENDS)
def history(request, histories) -> list:
    if request.param not in histories:
        pytest.skip("the milvus extra is not installed")
    return histories[request.param]


def test_each_update_reports_what_changed(history):
    steps = history
    reports = {name: report for name, _, report in steps}
    assert sorted(reports["build"].added) == [SEED_A, SEED_B]
    assert sorted(reports["update"].added) == ["busan", "wire-copy"] and reports["update"].changed == [SEED_B]
    assert reports["delete"].removed == ["busan"] and not reports["delete"].added
    assert reports["touch"].up_to_date and reports["touch"].embedded == 0  # re-dated, not read again
    assert sorted(reports["rebuild"].added) == [SEED_A, SEED_B, "wire-copy"]


def test_a_rebuild_holds_what_the_updates_did(history):
    """Counts, document frequencies, copies and answers after a rebuild equal those of the updates before it."""
    steps = history
    observed = {name: observation for name, observation, _ in steps}
    assert observed["rebuild"] == observed["touch"]
    assert observed["reopen"] == observed["rebuild"]


def test_copies_and_filters(history):
    steps = history
    observed = {name: observation for name, observation, _ in steps}
    assert observed["update"]["copies"] == [[SEED_A, "wire-copy"]]
    assert set(observed["filter"]["elsewhere"]) <= {SEED_B}  # nothing outside the filter is cited
    assert observed["filter"]["inside"] == [SEED_B]


def test_touching_a_file_leaves_the_index_fresh(history):
    steps = history
    observed = {name: observation for name, observation, _ in steps}
    assert observed["touch"]["mtimes"][SEED_A] == observed["delete"]["mtimes"][SEED_A] + 10**9  # recorded


def test_both_backends_hold_and_answer_the_same_after_every_step(histories):
    if "milvus-lite" not in histories:
        pytest.skip("the milvus extra is not installed")
    local, milvus = histories["local"], histories["milvus-lite"]
    for (name, mine, _), (_, theirs, _) in zip(local, milvus, strict=True):
        for key in mine.keys() - {"mtimes"}:  # each backend indexed its own copy of the corpus
            assert mine[key] == theirs[key], (name, key)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_file_found_unreadable_is_not_read_again_and_a_no_op_update_loads_no_model(
    backend, tmp_path, seed_copy, monkeypatch
):
    """A page without an article is parsed once and warned about once; an update with nothing new to embed opens
    no model session (the Milvus backend used to re-parse such files and to load the model on every update)."""
    if backend == "milvus-lite":
        pytest.importorskip("pymilvus", reason="the milvus extra is not installed")
    import warnings

    import qa.index.update
    from qa.ingest.corpus import SkippedFile
    from qa.pipeline import Assistant

    (seed_copy / "menu.html").write_text("<html><body><nav><a href='/'>Home</a></nav></body></html>")
    parsed: list[str] = []
    real = qa.index.update.parse_article
    monkeypatch.setattr(qa.index.update, "parse_article", lambda source: parsed.append(source.id) or real(source))
    location = _location(backend, tmp_path)
    with warnings.catch_warnings(record=True) as first:
        warnings.simplefilter("always")
        assistant = Assistant(seed_copy, location)
        assistant.update_index()
        assistant.close()
    touched = seed_copy / f"{SEED_B}.txt"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    parsed.clear()
    with warnings.catch_warnings(record=True) as second:
        warnings.simplefilter("always")
        assistant = Assistant(seed_copy, location)
        report = assistant.update_index()
        loaded = "session" in vars(assistant.embedder)
        assistant.close()
    assert [w for w in first if w.category is SkippedFile and "menu.html" in str(w.message)]
    assert not [w for w in second if w.category is SkippedFile] and parsed == []
    assert report.up_to_date and report.skipped == 1 and not loaded


def test_both_backends_keep_what_the_answer_step_reads_of_each_sentence(history):
    """The folded terms and typed expressions of every sentence are stored, not found again per question."""
    assert all(observation["sentence_fields_kept"] for name, observation, _ in history if name != "filter")
