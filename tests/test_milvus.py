"""The Milvus backend on the real engine (Milvus Lite, embedded from PyPI), with the real bundled model."""

import json
import os

import pytest
from typer.testing import CliRunner

from qa.cli import app
from tests.helpers.processes import assert_one_line_error, citeqa

pytest.importorskip("pymilvus", reason="the milvus extra is not installed")

QUESTION = "Who did Unification Minister Lee In-young meet?"


def _ask(store, corpus, question=QUESTION):
    result = CliRunner().invoke(app, ["ask", question, "--corpus", str(corpus), "--store", str(store), "--json", "-q"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_index_ask_update_delete_and_reopen_on_milvus_lite(tmp_path, seed_copy):
    store = tmp_path / "milvus" / "citeqa.db"
    runner = CliRunner()
    built = runner.invoke(app, ["index", str(seed_copy), "--store", str(store), "-q"])
    assert built.exit_code == 0 and "2 new" in built.output

    answer = _ask(store, seed_copy)
    assert "Harry Harris" in answer["citations"][0]["sentence"]
    first = answer["citations"][0]
    article = (seed_copy / f"{first['article_id']}.txt").read_text(encoding="utf-8")
    assert article[first["start"] : first["end"]] == first["sentence"]  # offsets into the stored text
    assert answer["answer_span"]["text"] == "Ambassador Harry Harris"
    assert first["reader"] > 0.5  # the reader ranks and answers on this backend too

    (seed_copy / "busan.txt").write_text("Harris visited the port city of Busan on Friday.\n", encoding="utf-8")
    original = (seed_copy / "000_7e63e6485bed1ddb.txt").read_text(encoding="utf-8")
    (seed_copy / "000_7e63e6485bed1ddb.txt").write_text(original.replace("Harry Harris", "Philip Goldberg"))
    updated = runner.invoke(app, ["index", str(seed_copy), "--store", str(store), "-q"])
    assert "1 new, 1 changed, 0 removed" in updated.output
    assert "Philip Goldberg" in _ask(store, seed_copy)["citations"][0]["sentence"]
    assert _ask(store, seed_copy, "Which port city did Harris visit?")["answer_span"]["text"] == "Busan"

    (seed_copy / "busan.txt").unlink()
    removed = runner.invoke(app, ["index", str(seed_copy), "--store", str(store), "-q"])
    assert "0 new, 0 changed, 1 removed" in removed.output
    unchanged = runner.invoke(app, ["index", str(seed_copy), "--store", str(store), "-q"])
    assert "up to date" in unchanged.output.lower()
    touched = seed_copy / "004_cffa3cfd4d8230b1.txt"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    retouched = runner.invoke(app, ["index", str(seed_copy), "--store", str(store), "-q"])
    assert retouched.exit_code == 0 and "up to date" in retouched.output.lower()  # re-dated, not read again
    rebuilt = runner.invoke(app, ["index", str(seed_copy), "--store", str(store), "--rebuild", "-q"])
    assert rebuilt.exit_code == 0 and "2 new" in rebuilt.output, rebuilt.output  # a rebuild reads every file
    assert "Philip Goldberg" in _ask(store, seed_copy)["citations"][0]["sentence"]

    info = json.loads(runner.invoke(app, ["info", "--corpus", str(seed_copy), "--store", str(store), "--json"]).output)
    assert runner.invoke(app, ["index", str(seed_copy), "--store", str(tmp_path / "local"), "-q"]).exit_code == 0
    local = json.loads(
        runner.invoke(app, ["info", "--corpus", str(seed_copy), "--store", str(tmp_path / "local"), "--json"]).output
    )
    assert info["generation"] == "milvus" and local["generation"].startswith("gen-")
    assert {k: info[k] for k in ("articles", "chunks", "sentences")} == {
        k: local[k] for k in ("articles", "chunks", "sentences")
    }
    checked = runner.invoke(app, ["index", str(seed_copy), "--store", str(store), "--check"])
    assert checked.exit_code == 0, checked.output


def test_a_rebuild_interrupted_before_writing_leaves_the_corpus_answering(tmp_path, seed_copy, monkeypatch):
    """Milvus has no transactions: a rebuild reads, embeds and prepares every article before it deletes a row."""
    store = tmp_path / "milvus" / "citeqa.db"
    runner = CliRunner()
    assert runner.invoke(app, ["index", str(seed_copy), "--store", str(store), "-q"]).exit_code == 0

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt  # Ctrl+C while the model embeds the corpus

    monkeypatch.setattr("qa.index.milvus.store.embed_sentences", interrupted)
    rebuilt = runner.invoke(app, ["index", str(seed_copy), "--store", str(store), "--rebuild", "-q"])
    assert rebuilt.exit_code != 0
    monkeypatch.undo()
    info = json.loads(runner.invoke(app, ["info", "--corpus", str(seed_copy), "--store", str(store), "--json"]).output)
    assert info["articles"] == 2 and info["sentences"] > 0  # (an ask would index the folder again first)


def test_two_corpora_in_one_store_answer_from_both(tmp_path, seed_copy):
    store = tmp_path / "shared.db"
    other = tmp_path / "wire"
    other.mkdir()
    (other / "busan.txt").write_text("Harris visited the port city of Busan on Friday.\n", encoding="utf-8")
    runner = CliRunner()
    for corpus in (seed_copy, other):
        assert runner.invoke(app, ["index", str(corpus), "--store", str(store), "-q"]).exit_code == 0
    answer = _ask(store, seed_copy, "Which port city did Harris visit?")
    assert answer["answer_span"]["text"] == "Busan"
    assert answer["citations"][0]["article_id"] == "wire:busan"  # another corpus's article, named by its folder
    assert "Harry Harris" in _ask(store, other)["citations"][0]["sentence"]


def test_a_store_of_another_model_and_an_unreachable_server_are_one_line_errors(tmp_path, seed_copy):
    store = tmp_path / "m.db"
    assert citeqa("index", str(seed_copy), "--store", str(store), "-q").returncode == 0
    refused = citeqa("index", str(seed_copy), "--store", str(store), "--precision", "int8", "-q")
    assert_one_line_error(refused, 1)
    assert "were built with model" in refused.stderr
    unreachable = citeqa("ask", QUESTION, "--store", "milvus://127.0.0.1:9", "-q")
    assert_one_line_error(unreachable, 1)
    assert "Milvus at milvus://127.0.0.1:9" in unreachable.stderr


def test_processes_share_one_milvus_server_over_milvus_uri(tmp_path, seed_copy):
    """A Milvus server (Milvus Lite's own gRPC server, a separate process): one citeqa process indexes the seeds,
    another a second folder, a third answers from both, through `milvus://HOST:PORT`."""
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(tmp_path / "server"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        store = f"milvus://127.0.0.1:{port}"
        wire = tmp_path / "wire"
        wire.mkdir()
        (wire / "busan.txt").write_text("Harris visited the port city of Busan on Friday.\n", encoding="utf-8")
        assert citeqa("index", str(seed_copy), "--store", store, "-q").returncode == 0
        assert citeqa("index", str(wire), "--store", store, "-q").returncode == 0
        asked = citeqa(
            "ask", "Which port city did Harris visit?", "--corpus", str(seed_copy), "--store", store, "--json"
        )
        assert asked.returncode == 0, asked.stderr
        assert json.loads(asked.stdout)["answer_span"]["text"] == "Busan"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_store_written_by_an_older_citeqa_is_refused_in_one_line(tmp_path, seed_copy):
    """Schema 1 kept no folded terms or typed expressions per sentence: updating it is refused, never half-done.
    Every step is its own process: Milvus Lite lets one process at a time hold the file."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    store = tmp_path / "old.db"
    assert citeqa("index", str(seed_copy), "--store", str(store), "-q").returncode == 0
    downgrade = (
        "import sys; from qa.index.milvus import MilvusStore; s = MilvusStore(sys.argv[1]); "
        "s.set_meta('index', {**s.meta('index'), 'schema': 1}); s.close()"
    )
    subprocess.run([sys.executable, "-c", downgrade, str(store)], check=True, cwd=ROOT, timeout=120)
    (seed_copy / "busan.txt").write_text("Harris visited the port city of Busan on Friday.\n", encoding="utf-8")
    result = citeqa("index", str(seed_copy), "--store", str(store), "-q")
    assert_one_line_error(result, 1)
    assert "older citeqa (schema 1" in result.stderr


def test_a_second_writer_is_refused_while_the_first_holds_the_lease(tmp_path, seed_copy):
    """Milvus has no locks: the writer lease in the meta collection keeps a second writer out, in one line, while
    its holder lives; a lease whose process died is taken over, and a writer removes its own when done. Every step
    is its own process (Milvus Lite lets one at a time hold the file); the holder is a sleeping one of this host."""
    import socket
    import subprocess
    import sys

    store = tmp_path / "leased.db"
    assert citeqa("index", str(seed_copy), "--store", str(store), "-q").returncode == 0

    def lease(code: str) -> str:
        script = "from qa.index.milvus.lease import LEASE; from qa.index.milvus.store import MilvusStore\n"
        script += f"store = MilvusStore({str(store)!r})\n{code}\nstore.close()"
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        taken = {"token": "t", "host": socket.gethostname(), "pid": holder.pid, "since": "now", "until": 2e9}
        lease(f"store.set_meta(LEASE, {taken!r})")
        (seed_copy / "late.txt").write_text("Harris visited the port city of Busan on Friday.\n", encoding="utf-8")
        refused = citeqa("index", str(seed_copy), "--store", str(store), "-q")
        assert_one_line_error(refused, 1)
        assert f"another citeqa process (pid {holder.pid} on {socket.gethostname()}" in refused.stderr
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert citeqa("index", str(seed_copy), "--store", str(store), "-q").returncode == 0
    assert lease("print(store.meta(LEASE))") == "None"
    assert _ask(store, seed_copy, "Which port city did Harris visit?")["answer_span"]["text"] == "Busan"


def test_a_lease_keeps_others_out_until_its_time_runs_out_or_its_process_dies():
    import os
    import socket

    from qa.index.milvus.lease import holder_is_live

    elsewhere = {"host": "another-machine", "pid": 1, "until": 1000.0}
    assert holder_is_live(elsewhere, now=999.0) and not holder_is_live(elsewhere, now=1001.0)
    here = {"host": socket.gethostname(), "pid": os.getpid(), "until": 1000.0}
    assert holder_is_live(here, now=999.0)
    assert not holder_is_live({**here, "pid": 2**22 + 12345}, now=999.0)  # no such process
