"""The fault matrix: the real CLI under kill -9, concurrent writers, a full disk, damaged files, hostile text
and fuzzed input. Every case must end in an answer or a one-line message, never a traceback, and never lose
the index that was answering before. The counts go to the `fault_matrix` fixture and are printed at the end of
the run (see conftest)."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from qa.cli import app
from qa.index.local.store import IndexDir
from qa.ingest.corpus import SourceFile, decode, looks_binary, parse_article
from qa.ingest.formats import Unreadable
from qa.pipeline import Assistant
from qa.text.sentences import MAX_SENTENCE_CHARS
from tests.conftest import ROOT
from tests.helpers.corpora import write_extra_articles
from tests.helpers.processes import citeqa

QUESTION = "Who did Unification Minister Lee In-young meet?"


def record(matrix: dict[str, list[int]], group: str, clean: bool) -> None:
    cases = matrix.setdefault(group, [0, 0])
    cases[0] += 1
    cases[1] += int(clean)


def run_main(args: list[str], capsys) -> tuple[int, str, str]:
    """The real entry point in this process (model already warm): exit code, stdout, stderr. An exception
    that escapes `main` is a traceback a user would have seen, and fails the test."""
    from qa.cli import main

    argv = sys.argv
    sys.argv = ["citeqa", *args]
    code = 0
    try:
        with warnings.catch_warnings():
            main()
    except SystemExit as stop:
        code = stop.code or 0
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(code: int, err: str) -> bool:
    lines = [line for line in err.splitlines() if line.strip()]
    return code != 0 and len(lines) == 1 and lines[0].startswith("citeqa: error: ") and "Traceback" not in err


@pytest.mark.slow
def test_kill_9_at_random_points_of_index(fault_matrix, tmp_path, seed_copy):
    """24 runs of `citeqa index` killed with SIGKILL at random moments (model loading, reading, embedding,
    writing, publishing); after each, the index opens consistent and answers."""
    index = tmp_path / "i"
    assert citeqa("index", str(seed_copy), "--index", str(index), "-q").returncode == 0
    rng = random.Random(20261123)
    assistant = Assistant(corpus=seed_copy, index_dir=index)
    for kill in range(24):
        write_extra_articles(seed_copy, 3, f"k{kill:02d}-", seed=kill)
        writer = subprocess.Popen(
            [sys.executable, "-m", "qa", "index", str(seed_copy), "--index", str(index), "-q"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.05, 3.5))
        writer.kill()
        writer.wait()
        assistant.close()  # reopen the live generation, whichever it is now
        loaded = assistant.index
        consistent = loaded.vectors.count == loaded.counts["sentences"] and loaded.counts["articles"] >= 2
        answer = assistant.ask(QUESTION)
        record(fault_matrix, "kill -9 during index", consistent and "Harry Harris" in answer.text)
    assistant.close()
    assert fault_matrix["kill -9 during index"] == [24, 24]
    assert citeqa("index", str(seed_copy), "--index", str(index), "-q").returncode == 0
    leftovers = [p.name for p in index.iterdir() if p.is_dir()]
    assert len(leftovers) == 1 and leftovers[0].startswith("gen-")  # no tmp-… or old generations pile up


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::qa.errors.StaleIndexWarning")  # expected: the writer holds the lock
def test_asks_never_fail_while_another_process_rebuilds_and_updates(fault_matrix, tmp_path, seed_copy):
    """A second process runs `citeqa index --rebuild` and real updates (files added, changed, removed) in a
    loop; meanwhile `citeqa ask` runs again and again against the same index: no ask may fail."""
    index = tmp_path / "i"
    write_extra_articles(seed_copy, 10, "base", seed=1)
    assert citeqa("index", str(seed_copy), "--index", str(index), "-q").returncode == 0
    writes: list[int] = []
    asks_during_writes = [0]

    def writer() -> None:
        round_no = 0
        while round_no < 8 or asks_during_writes[0] < 200:
            if round_no % 2:
                write_extra_articles(seed_copy, 4, f"w{round_no}-", seed=round_no)
                for path in sorted(seed_copy.glob(f"w{round_no - 2}-*.txt"))[:2]:
                    path.unlink()
                args = ["index", str(seed_copy), "--index", str(index), "-q"]
            else:
                args = ["index", str(seed_copy), "--index", str(index), "-q", "--rebuild"]
            result = citeqa(*args)
            busy = "another citeqa process is writing" in result.stderr  # an ask got the lock first: fine
            writes.append(0 if result.returncode == 0 or busy else 1)
            round_no += 1

    thread = threading.Thread(target=writer)
    thread.start()
    runner = CliRunner()
    failures = 0
    try:
        while thread.is_alive():
            mode = ("hybrid", "bm25")[asks_during_writes[0] % 2]
            result = runner.invoke(
                app, ["ask", QUESTION, "-c", str(seed_copy), "--index", str(index), "--mode", mode, "-q", "--json"]
            )
            ok = result.exit_code == 0 and "Harry Harris" in result.stdout
            failures += not ok
            record(fault_matrix, "asks during rebuilds and updates", ok)
            asks_during_writes[0] += 1
    finally:
        thread.join(timeout=600)
    assert set(writes) == {0} and len(writes) >= 8
    assert asks_during_writes[0] >= 200 and failures == 0


def _tmpfs(path: Path, size_kib: int) -> bool:
    """Mount a small tmpfs at `path` (root only); False where that is not allowed."""
    path.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(path)], capture_output=True, timeout=30
    )
    return result.returncode == 0


def test_disk_full_keeps_the_previous_index_answering(fault_matrix, tmp_path, seed_copy):
    """A real full disk (a 700 KiB tmpfs) when one can be mounted, else ENOSPC injected into the BM25 write."""
    disk = tmp_path / "disk"
    real = _tmpfs(disk, 700)
    index = disk / "i"
    try:
        assert citeqa("index", str(seed_copy), "--index", str(index), "-q").returncode == 0
        before = IndexDir(index).live_generation()
        write_extra_articles(seed_copy, 60, "big", seed=3)
        if real:
            result = citeqa("index", str(seed_copy), "--index", str(index), "-q")
        else:
            code = (
                "import errno, sys, qa.index.local.segments\n"
                "def full(*a, **k):\n"
                "    raise OSError(errno.ENOSPC, 'No space left on device', str(a[0]))\n"
                "qa.index.local.segments.write_segment_vectors = full\n"
                "from qa.cli import main\n"
                f"sys.argv = ['citeqa', 'index', {str(seed_copy)!r}, '--index', {str(index)!r}, '-q']\n"
                "main()\n"
            )
            result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
        clean = one_line_error(result.returncode, result.stderr) and "the disk is full" in result.stderr
        clean &= IndexDir(index).live_generation() == before
        clean &= not [p for p in index.iterdir() if p.name.startswith("tmp-")]
        asked = citeqa("ask", QUESTION, "-c", str(seed_copy), "--index", str(index))
        clean &= asked.returncode == 0 and "Harry Harris" in asked.stdout
        clean &= "was not refreshed: it cannot be written" in asked.stderr
        record(fault_matrix, "disk full" + (" (tmpfs)" if real else " (injected)"), clean)
        assert clean, (result.stderr, asked.stdout, asked.stderr)
    finally:
        if real:
            subprocess.run(["umount", str(disk)], timeout=30)


DAMAGES = {
    "truncated": lambda data: data[: len(data) // 2],
    "emptied": lambda data: b"",
    "corrupted": lambda data: bytes(b ^ 0x5A if i % 7 == 0 else b for i, b in enumerate(data)),
}


def test_every_index_file_truncated_emptied_and_corrupted(fault_matrix, tmp_path, seed_index_dir, capsys):
    """Each file of the index (CURRENT and every file of the generation), damaged three ways: `ask` answers
    or says in one line that the index is damaged; `index --check` finds every damage to a data file."""
    generation_name = (seed_index_dir / "CURRENT").read_text().strip()
    generation = seed_index_dir / generation_name
    files = [
        "CURRENT",
        *sorted(
            f"{generation_name}/{p.relative_to(generation).as_posix()}" for p in generation.rglob("*") if p.is_file()
        ),
    ]
    assert len(files) >= 13
    for name in files:
        for damage, apply in DAMAGES.items():
            index = tmp_path / f"case-{len(os.listdir(tmp_path))}"
            shutil.copytree(seed_index_dir, index)
            target = index / name
            target.write_bytes(apply(target.read_bytes()))
            code, out, err = run_main(["ask", QUESTION, "--index", str(index), "-q"], capsys)
            answered = code == 0 and "Harry Harris" in out and not err
            told = one_line_error(code, err) and ("rebuild" in err or "no index" in err)
            check_code, _, check_err = run_main(["index", "--check", "--index", str(index)], capsys)
            found = one_line_error(check_code, check_err)
            data_file = name.startswith(generation_name) and not name.endswith("manifest.json")
            record(fault_matrix, "damaged index files", (answered or told) and (found or not data_file))
            assert answered or told, (name, damage, code, out, err)
            assert found or not data_file, (name, damage, check_err)


HOSTILE = (
    "Harbour news\x1b]0;pwned\x07\n\n"
    "The ferry\x9b31m to Busan\x1b[2J left at noon\u202e on Friday with 300 passengers.\x1b[0m\n"
)
RAW = ("\x1b", "\x07", "\x9b")


def test_hostile_text_through_ask_info_and_json(fault_matrix, tmp_path, capsys):
    corpus = tmp_path / "corp\x1b[31mus"
    corpus.mkdir()
    (corpus / "evil\x1b]0;x\x07.txt").write_text(HOSTILE, encoding="utf-8")
    with open(os.fsencode(corpus) + b"/caf\xe9.txt", "wb") as handle:
        handle.write(b"Caf\xe9 owners in Busan said the ferry was late.")
    index = ["--corpus", str(corpus), "--index", str(tmp_path / "i")]
    code, out, err = run_main(["ask", "How many passengers did the Busan ferry carry?", *index], capsys)
    clean = code == 0 and "300" in out and not any(c in out + err for c in RAW)
    record(fault_matrix, "hostile text", clean)
    assert clean, (out, err)
    code, out, err = run_main(["ask", "How many passengers did the Busan ferry carry?", *index, "--json"], capsys)
    out.encode("utf-8")
    sentence = json.loads(out)["citations"][0]["sentence"]
    exact = "\x1b[2J" in sentence and "\x9b31m" in sentence and "\u202e" in sentence  # the text as it is
    clean = code == 0 and exact and not any(c in out for c in (*RAW, "\u202e"))
    record(fault_matrix, "hostile text", clean)
    assert clean, out
    code, out, err = run_main(["ask", "Who said the ferry was late?", *index, "--json"], capsys)
    record(fault_matrix, "hostile text", code == 0 and "caf\\\\xe9" in out)
    assert "caf\\\\xe9" in out  # the undecodable file-name byte, escaped as text
    code, out, err = run_main(["info", *index], capsys)
    clean = code == 0 and "␛[31mus" in out and not any(c in out + err for c in RAW)
    record(fault_matrix, "hostile text", clean)
    assert clean, out


async def test_hostile_text_in_the_chat(fault_matrix, tmp_path):
    from tui.app import CiteqaApp
    from tui.widgets.conversation import ConversationView
    from tui.widgets.question_input import QuestionInput

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "evil.txt").write_text(HOSTILE, encoding="utf-8")
    app = CiteqaApp(Assistant(corpus=corpus, index_dir=tmp_path / "i"), export_dir=tmp_path)
    async with app.run_test(size=(110, 34)) as pilot:
        while not app.chat.is_ready:
            await pilot.pause(0.05)
        app.query_one(QuestionInput).value = "How many passengers did the Busan ferry carry?"
        await pilot.press("enter")
        while not app.chat.answers():
            await pilot.pause(0.05)
        shown = app.query_one(ConversationView).views[-1].render().plain
        exported = app.chat.action_export().read_text(encoding="utf-8")
    clean = "300" in shown and not any(c in shown for c in RAW)
    record(fault_matrix, "hostile text", clean)
    assert clean, shown
    clean = "300" in exported and "␛" in exported and not any(c in exported for c in RAW)  # `cat` of it is safe
    record(fault_matrix, "hostile text", clean)
    assert clean, exported


ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "cp1252", "latin-1")


def _parse(tmp_path: Path, data: bytes, suffix: str = ".txt"):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    return parse_article(SourceFile("fuzz", path, data, len(data), 0))


def _sound(article) -> bool:
    return all(
        article.text[s.start : s.end] == s.text and 0 < len(s.text) <= MAX_SENTENCE_CHARS for s in article.sentences
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4000), suffix=st.sampled_from([".txt", ".md", ".html", ".pdf"]))
def test_fuzz_ingestion_with_random_bytes(fault_matrix, tmp_path, data, suffix):
    """Random bytes under every supported suffix: an article whose offsets hold, or Unreadable (skipped)."""
    text = decode(data)
    looks_binary(text)
    try:
        article = _parse(tmp_path, data, suffix)
    except Unreadable:
        assert suffix in (".html", ".pdf")
    else:
        assert _sound(article)
    record(fault_matrix, "fuzzed inputs", True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(alphabet=st.characters(codec="latin-1", exclude_categories=("Cs", "Cc")), min_size=1, max_size=800),
    encoding=st.sampled_from(ENCODINGS),
)
def test_fuzz_ingestion_with_text_in_many_encodings(fault_matrix, tmp_path, text, encoding):
    data = text.encode(encoding)
    decoded = decode(data)
    if encoding in ("utf-8", "utf-8-sig", "utf-16", "utf-32", "latin-1") and not (
        encoding == "latin-1" and not text.isascii()
    ):
        assert decoded == text  # a byte-order mark, or plain ASCII/UTF-8, is decoded exactly
    assert _sound(_parse(tmp_path, data))
    record(fault_matrix, "fuzzed inputs", True)


# A resolver on 127.0.0.1 that logs every name asked for and answers that none exists.
LOGGING_RESOLVER = """
import socket, sys
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(("127.0.0.1", 53))
log = open(sys.argv[1], "a", buffering=1)
while True:
    query, client = server.recvfrom(4096)
    i, labels = 12, []
    while i < len(query) and query[i]:
        labels.append(query[i + 1 : i + 1 + query[i]].decode("ascii", "replace"))
        i += 1 + query[i]
    print(".".join(labels), file=log)
    server.sendto(query[:2] + b"\\x81\\x83" + query[4:6] + bytes(6) + query[12 : i + 5], client)
"""
CONTROL_NAME = "resolver-control.example"


def _network_namespace_allowed() -> bool:
    if not (shutil.which("unshare") and shutil.which("ip") and shutil.which("getent")):
        return False
    return subprocess.run(["unshare", "-m", "-n", "true"], capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _network_namespace_allowed(), reason="this machine allows no network namespace (needs root)")
def test_a_long_running_watch_makes_no_lookup_and_writes_only_its_own_folders(fault_matrix, tmp_path, seed_copy):
    """`index --watch` for 45 s in a network namespace whose only resolver logs every lookup: none is made
    (onnxruntime 1.32 sent telemetry from long-lived processes), and nothing is written under HOME but
    citeqa's cache. A lookup of a control name after it shows that the resolver was listening."""
    home, log, resolver = tmp_path / "home", tmp_path / "lookups.log", tmp_path / "resolver.py"
    home.mkdir()
    resolver.write_text(LOGGING_RESOLVER)
    (tmp_path / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    script = f"""
        ip link set lo up && mount --bind {tmp_path}/resolv.conf /etc/resolv.conf || exit 3
        {sys.executable} {resolver} {log} &
        sleep 0.5
        cd {ROOT} && env -u XDG_CACHE_HOME HOME={home} HF_HUB_OFFLINE= timeout -s INT 45 \\
            {sys.executable} -m qa index {seed_copy} --index {tmp_path / "index"} --watch -q
        getent hosts {CONTROL_NAME}
        kill %1
    """
    run = subprocess.run(["unshare", "-m", "-n", "bash", "-c", script], capture_output=True, text=True, timeout=180)
    lookups = log.read_text().split() if log.exists() else []
    written = [p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file()]
    clean = set(lookups) == {CONTROL_NAME} and all(p.startswith(".cache/citeqa/") for p in written)
    record(fault_matrix, "trust boundaries", clean)
    assert lookups and lookups[-1] == CONTROL_NAME, (run.returncode, run.stderr[-2000:])
    assert set(lookups) == {CONTROL_NAME}, lookups  # getent asks for IPv4 and IPv6 addresses
    assert all(p.startswith(".cache/citeqa/") for p in written), written


def test_an_index_location_that_is_not_citeqas_is_refused_and_left_as_it_was(
    fault_matrix, tmp_path, seed_copy, capsys, monkeypatch
):
    """`--index ~/Documents` once adopted the folder and removed its `gen-*` and `tmp-*` folders."""
    documents = tmp_path / "Documents"
    for name in ("gen-2019 photos", "gen-1", "tmp-0a1b2c3d"):
        (documents / name).mkdir(parents=True)
        (documents / name / "keep.txt").write_text("mine")
    (documents / "CURRENT").write_text("gen-1")  # not even this makes it an index
    before = sorted(p.relative_to(documents).as_posix() for p in documents.rglob("*"))
    code, _out, err = run_main(["ask", QUESTION, "--corpus", str(seed_copy), "--index", str(documents)], capsys)
    after = sorted(p.relative_to(documents).as_posix() for p in documents.rglob("*"))
    clean = one_line_error(code, err) and "is not empty and is not a citeqa index" in err and before == after
    record(fault_matrix, "trust boundaries", clean)
    assert clean, (code, err, after)

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for folder in ("/", str(home)):  # refused even when empty: an index's files would sit among the user's
        code, _out, err = run_main(["index", str(seed_copy), "--index", folder], capsys)
        clean = one_line_error(code, err) and "root or the home folder" in err and not list(home.iterdir())
        record(fault_matrix, "trust boundaries", clean)
        assert clean, (folder, err)


def test_an_index_is_marked_and_its_clean_up_removes_only_what_it_made(fault_matrix, tmp_path, seed_copy, capsys):
    index = tmp_path / "index"
    code, out, err = run_main(["index", str(seed_copy), "--index", str(index), "-q"], capsys)
    assert code == 0 and (index / ".citeqa-index").is_file()
    (index / "gen-notes").mkdir()  # not a name citeqa gives: kept
    (index / "tmp-12345678").mkdir()  # a write that died: removed
    (index / ".citeqa-index").unlink()  # an index of an earlier citeqa: recognised by its live generation
    (seed_copy / "extra.txt").write_text("The harbour master said the new pier opens in June.")
    code, out, err = run_main(
        ["ask", "When does the new pier open?", "--corpus", str(seed_copy), "--index", str(index)], capsys
    )
    clean = (
        code == 0
        and "June" in out
        and (index / "gen-notes").is_dir()
        and not (index / "tmp-12345678").exists()
        and (index / ".citeqa-index").is_file()
    )
    record(fault_matrix, "trust boundaries", clean)
    assert clean, (code, err, sorted(p.name for p in index.iterdir()))


@pytest.mark.slow
def test_a_db_file_that_is_not_milvus_lite_is_refused_and_left_as_it_was(fault_matrix, tmp_path, seed_copy):
    pytest.importorskip("pymilvus", reason="the milvus extra is not installed")
    notes = tmp_path / "notes.db"
    notes.write_bytes(b"SQLite format 3\x00 my notes, not an index")
    before = notes.read_bytes()
    run = citeqa("ask", QUESTION, "--corpus", str(seed_copy), "--store", str(notes), "-q")
    clean = one_line_error(run.returncode, run.stderr) and "not a Milvus Lite database" in run.stderr
    clean = clean and notes.read_bytes() == before and sorted(tmp_path.iterdir()) == [seed_copy, notes]
    record(fault_matrix, "trust boundaries", clean)
    assert clean, (run.stderr, sorted(tmp_path.iterdir()))


PRIVATE = "The private ledger shows the harbour fund paid 9,310 euros to the pilot."


@pytest.mark.parametrize("store", ["folder", pytest.param("milvus", marks=pytest.mark.slow)])
def test_links_that_lead_out_of_the_corpus_are_skipped_unless_followed(
    fault_matrix, tmp_path, seed_copy, capsys, store
):
    if store == "milvus":
        pytest.importorskip("pymilvus", reason="the milvus extra is not installed")
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "ledger.txt").write_text(PRIVATE)
    (seed_copy / "ledger.txt").symlink_to(outside / "ledger.txt")
    (seed_copy / "archive").symlink_to(outside, target_is_directory=True)
    (seed_copy / "inside.txt").symlink_to(next(p for p in sorted(seed_copy.glob("*.txt")) if not p.is_symlink()))
    location = str(tmp_path / ("index" if store == "folder" else "index.db"))
    question = ["ask", "How much did the harbour fund pay the pilot?", "--corpus", str(seed_copy), "--index", location]
    code, out, err = run_main([*question, "--json"], capsys)
    cited = {c["article_id"] for c in json.loads(out)["citations"]} if code == 0 else set()
    warned = [line for line in err.splitlines() if "outside the corpus" in line]
    clean = code == 0 and "9,310" not in out and len(warned) == 2 and not cited & {"ledger", "archive/ledger"}
    record(fault_matrix, "trust boundaries", clean)
    assert clean, (code, out[:300], err)
    code, out, err = run_main([*question, "--follow-links", "--json"], capsys)
    clean = code == 0 and json.loads(out)["citations"][0]["sentence"] == PRIVATE  # followed when asked
    record(fault_matrix, "trust boundaries", clean)
    assert clean, (code, out[:300], err)


def _poison_files() -> dict[str, bytes]:
    """One file of each kind that once broke a whole corpus (a traceback on index and on every ask) or took
    minutes and gigabytes: each must cost one skipped file, or be read without its metadata."""
    from tests.helpers.pdfs import repeated_page_tree, text_pdf

    body = "<p>The pier on the north shore reopened on Tuesday after a month of repairs by the harbour board.</p>"
    deep_json = "[" * 200_000 + "]" * 200_000
    alias_bomb = 'title: x\na: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
        f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n"
        for i in range(8)
    )
    prose = "\n\nThe ferry to the islands now leaves at seven, the harbour board said on Monday.\n"
    line = "A page of text that says nothing new, over and over again, for many pages."
    return {
        "json-ld.html": f'<html><head><script type="application/ld+json">{deep_json}</script></head>'
        f"<body><article>{body * 3}</article></body></html>".encode(),
        "deep-divs.html": ("<html><body>" + "<div>" * 100_000 + body + "</div>" * 100_000 + "</body></html>").encode(),
        "count-lie.pdf": text_pdf([[line]], claimed_pages=50),
        "page-bomb.pdf": repeated_page_tree(5, 10, line),
        "deep.toml.md": ("+++\na = " + "[" * 100_000 + "]" * 100_000 + "\n+++" + prose).encode(),
        "deep.yaml.md": ("---\na: " + "[" * 100_000 + "]" * 100_000 + "\n---" + prose).encode(),
        "deeper.yaml.md": ("---\na: " + "[" * 20_000 + "]" * 20_000 + "\n---" + prose).encode(),  # under 64 KB
        "alias-bomb.md": f"---\n{alias_bomb}---{prose}".encode(),
    }


def test_one_poisoned_file_is_one_skipped_file(fault_matrix, tmp_path, seed_copy, capsys):
    for name, data in _poison_files().items():
        (seed_copy / name).write_bytes(data)
    index = ["--corpus", str(seed_copy), "--index", str(tmp_path / "i")]
    started = time.perf_counter()
    code, out, err = run_main(["ask", QUESTION, *index], capsys)
    seconds = time.perf_counter() - started
    skipped = sorted(
        line.split("skipped ")[1].split(":")[0].rsplit("/", 1)[1] for line in err.splitlines() if "skipped" in line
    )
    clean = code == 0 and "Harris" in out and skipped == ["count-lie.pdf", "deep-divs.html", "page-bomb.pdf"]
    record(fault_matrix, "poisoned files", clean)
    assert clean, (code, err, seconds)
    code, out, err = run_main(["ask", "When does the ferry to the islands leave?", *index, "--json"], capsys)
    cited = json.loads(out)["citations"]
    clean = code == 0 and "skipped" not in err and cited and "seven" in cited[0]["sentence"]  # warned once
    record(fault_matrix, "poisoned files", clean)
    assert clean, (err, cited[:1])
    code, out, err = run_main(["ask", "When did the pier on the north shore reopen?", *index, "--json"], capsys)
    clean = code == 0 and "Tuesday" in out  # the page is read; only its JSON-LD is not
    record(fault_matrix, "poisoned files", clean)
    assert clean, out[:400]


def test_any_parser_failure_skips_the_file_with_its_reason(fault_matrix, tmp_path, monkeypatch):
    import qa.ingest.formats

    def broken(data: bytes):
        raise MemoryError("lxml ran out of room")

    monkeypatch.setattr(qa.ingest.formats, "extract_html", broken)
    path = tmp_path / "page.html"
    path.write_bytes(b"<html><body><p>Text.</p></body></html>")
    with pytest.raises(Unreadable, match=r"could not be read \(MemoryError: lxml ran out of room\)"):
        parse_article(SourceFile("page", path, path.read_bytes(), 10, 0))
    record(fault_matrix, "poisoned files", True)


def test_copy_detection_grows_linearly_with_near_identical_articles(fault_matrix):
    """1,800 identical tiny files took 3.8 GB (every pair of an LSH bucket); now the peak grows with the count."""
    import tracemalloc

    from qa.ingest.duplicates import copy_groups, fingerprint

    one = fingerprint("The council said the road would close on Monday for repairs to the bridge.")
    peaks = {}
    for count in (600, 1800):
        tracemalloc.start()
        groups = copy_groups({f"a{i:05d}": one for i in range(count)})
        peaks[count] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert len(groups) == count and len(set(groups.values())) == 1  # still one story
    clean = peaks[1800] < 4.5 * peaks[600]  # three times the articles: about three times the memory, not nine
    record(fault_matrix, "poisoned files", clean)
    assert clean, peaks


def test_names_stay_on_their_line_and_spans_never_come_from_control_sequences(fault_matrix, tmp_path, capsys):
    from qa.text.mentions import find_mentions

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    forged = "evil.txt, line 1\n    “The minister resigned.”\n[2] x"
    (corpus / f"{forged}.txt").write_text("The ferry to Busan carried 300 passengers on Friday.\n")
    code, out, _err = run_main(
        [
            "ask",
            "How many passengers did the Busan ferry carry?",
            "--corpus",
            str(corpus),
            "--index",
            str(tmp_path / "i"),
        ],
        capsys,
    )
    clean = (
        code == 0 and "300" in out and not any(line.lstrip().startswith("“The minister") for line in out.splitlines())
    )
    record(fault_matrix, "hostile text", clean)
    assert clean and "␊" in out, out
    texts = [m.text for m in find_mentions("It cost \x1b[31m£40\x1b[0m in 2020, said\x9b1;31m Lee.")]
    clean = "£40" in texts and "2020" in texts and not any("31" in t or "0m" in t for t in texts)
    record(fault_matrix, "hostile text", clean)
    assert clean, texts
