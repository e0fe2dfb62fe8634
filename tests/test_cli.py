"""The command line as a user meets it: exit codes, one-line errors, JSON schema, imports kept lazy."""

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from qa.cli import app
from qa.present.render import JSON_SCHEMA
from tests.conftest import ROOT, SEEDS
from tests.helpers.corpora import PAGE
from tests.helpers.processes import assert_one_line_error, citeqa

runner = CliRunner()


def test_ask_text_cites_the_sentence(seed_index_dir):
    result = runner.invoke(
        app, ["ask", "Who did Unification Minister Lee In-young meet?", "--index", str(seed_index_dir)]
    )
    assert result.exit_code == 0, result.output
    assert "Harry Harris" in result.stdout.splitlines()[0] and "[1]" in result.stdout
    assert "[1] Unification Minister Lee In-young met" in result.stdout
    assert "000_7e63e6485bed1ddb.txt, line 1" in result.stdout


def test_ask_json_schema(seed_index_dir):
    result = runner.invoke(
        app, ["ask", "Where did Pompeo give a speech on Monday?", "--json", "--index", str(seed_index_dir)]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == JSON_SCHEMA and doc["answered"] is True
    assert set(doc) >= {"question", "answer", "citations", "passages", "timings", "mode"}
    citation = doc["citations"][0]
    assert set(citation) == {
        *("n", "article_id", "title", "date", "path", "line", "sentence", "start", "end", "score"),
        *("source", "author", "url", "page", "also_in", "reader"),
    }
    assert "Silicon Valley" in citation["sentence"] and citation["article_id"] == "004_cffa3cfd4d8230b1"
    assert 0.0 < citation["reader"] <= 1.0  # the reader's calibrated probability
    article = (SEEDS / "004_cffa3cfd4d8230b1.txt").read_text(encoding="utf-8")
    assert article[citation["start"] : citation["end"]] == citation["sentence"]
    assert set(doc["timings"]) == {"embed_ms", "search_ms", "answer_ms"}
    assert doc["passages"][0]["rank"] == 1


def test_ask_unanswerable_json(seed_index_dir):
    result = runner.invoke(app, ["ask", "What is the recipe for bibimbap?", "--json", "--index", str(seed_index_dir)])
    doc = json.loads(result.stdout)
    assert doc["answered"] is False and doc["citations"] == [] and doc["answer"] == "The indexed articles do not say."


def test_info(seed_index_dir):
    result = runner.invoke(app, ["info", "--index", str(seed_index_dir), "--json"])
    doc = json.loads(result.stdout)
    assert (doc["articles"], doc["model"]) == (2, "sentence-transformers/all-MiniLM-L6-v2")
    assert doc["sentences"] > doc["chunks"] > 0 and doc["size_bytes"] > 0


def test_ask_builds_the_index_on_first_use(tmp_path, seed_copy):
    (seed_copy / "photo.txt").write_bytes(b"\x89PNG\x00\x00binary")
    (seed_copy / "legacy.txt").write_bytes("Caf\xe9 owners in Seoul protested on Friday.".encode("latin-1"))
    result = citeqa("ask", "Who protested on Friday?", "--corpus", str(seed_copy), "--index", str(tmp_path / "i"))
    assert result.returncode == 0, result.stderr
    assert "Café owners in Seoul protested on Friday. [1]" in result.stdout
    assert "warning: skipped" in result.stderr and "photo.txt: binary content" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", ""], "the question is empty"),
        (["ask", "   "], "the question is empty"),
        (["ask", "x" * 2001], "the limit is 2,000"),
        (["ask", "Who?", "--corpus", "/no/such/folder"], "does not exist"),
        (["index", "/no/such/folder"], "does not exist"),
        (["eval", "/no/such/file.jsonl"], "does not exist"),
        (["chat", "--corpus", "/no/such/folder"], "does not exist"),
        (["ask", "caf\udcff?"], "not valid UTF-8"),
        (["ask", "--bogus", "x"], "No such option: --bogus (Possible options: --corpus) (see 'citeqa ask -h')"),
        (["ask"], "Missing argument 'question'."),
        (["ask", "Who?", "--k", "0"], "Invalid value for '--k' / '-k'"),
        (["nosuch"], "No such command 'nosuch'"),
        (["eval", str(SEEDS / "questions.jsonl"), "--fail-under", "hit@2=0.5"], "no metric 'hit@2'"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, message):
    result = citeqa(*args)
    assert_one_line_error(result, 2)
    assert message in result.stderr


def test_folder_without_articles_exits_1(tmp_path):
    (tmp_path / "blob.txt").write_bytes(b"\x00\x01\x02\x03")
    result = citeqa("index", str(tmp_path), "--index", str(tmp_path / "idx"))
    assert result.returncode == 1 and "no readable articles" in result.stderr
    assert "warning: skipped" in result.stderr and "Traceback" not in result.stderr


def test_corrupt_index_exits_1_with_rebuild_hint(tmp_path, seed_index_dir):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(seed_index_dir, broken)
    generation = broken / (broken / "CURRENT").read_text().strip()
    (metadata,) = generation.glob("seg-*/meta.sqlite")
    metadata.write_bytes(b"garbage" * 10)
    result = citeqa("ask", "Who met Harris?", "--index", str(broken))
    assert_one_line_error(result, 1)
    assert "citeqa index --rebuild" in result.stderr


def test_index_of_another_model_exits_1(tmp_path, seed_index_dir):
    result = citeqa("ask", "Who met Harris?", "--index", str(seed_index_dir), "--model", str(tmp_path / "other"))
    assert_one_line_error(result, 1)
    assert "was built with model 'sentence-transformers/all-MiniLM-L6-v2'" in result.stderr


def test_missing_model_is_a_clear_error(tmp_path):
    result = citeqa("ask", "Who met Harris?", "--model", "no-such-org/no-such-model", "--index", str(tmp_path / "i"))
    assert_one_line_error(result, 1)
    assert "cannot load embedding model 'no-such-org/no-such-model'" in result.stderr
    assert "never downloads" in result.stderr


def test_index_reports_up_to_date(seed_index_dir):
    result = runner.invoke(app, ["index", "--index", str(seed_index_dir)])
    assert result.exit_code == 0 and "Index up to date: 2 article(s)" in result.stdout


def test_light_paths_do_not_import_torch_or_the_service_stack(seed_index_dir):
    """`info`, `index` on an unchanged corpus and BM25 answers never pay for torch or sentence-transformers."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from qa.cli import app\n"
        f"r = CliRunner().invoke(app, ['info', '--index', {str(seed_index_dir)!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        f"r = CliRunner().invoke(app, ['index', '--index', {str(seed_index_dir)!r}])\n"
        "assert r.exit_code == 0 and 'up to date' in r.output, r.output\n"
        f"r = CliRunner().invoke(app, ['ask', 'Who met Harris?', '--mode', 'bm25', '--index', {str(seed_index_dir)!r}"
        "])\n"
        "assert r.exit_code == 0 and 'Harris' in r.output, r.output\n"
        "heavy = ('torch', 'sentence_transformers', 'transformers', 'fastapi', 'pydantic', 'uvicorn', 'mcp')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_python_dash_m_help():
    result = citeqa("--help")
    assert result.returncode == 0 and "ask" in result.stdout and "eval" in result.stdout


def test_unwritable_index_location_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = citeqa("index", "--index", str(blocker / "idx"))
    assert_one_line_error(result, 1)


def test_hostile_article_text_never_reaches_the_terminal_raw(tmp_path):
    """Escape sequences in an article (window title, clear screen, colour) are shown as visible symbols."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "evil\x1b[31mname.txt").write_text(
        "Harbour news\n\nThe ferry to Busan\x1b]0;pwned\x07 left at noon on Friday\x1b[2J with 300 passengers.\n",
        encoding="utf-8",
    )
    result = citeqa(
        "ask", "How many passengers did the Busan ferry carry?", "--corpus", str(corpus), "--index", str(tmp_path / "i")
    )
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout and "\x1b" not in result.stderr
    assert "300 — The ferry to Busan␛]0;pwned␇ left at noon on Friday␛[2J with 300 passengers. [1]" in result.stdout


def test_ask_answers_from_the_index_while_another_process_refreshes_it(tmp_path, seed_copy):
    from filelock import FileLock

    index = tmp_path / "i"
    assert citeqa("index", str(seed_copy), "--index", str(index), "-q").returncode == 0
    (seed_copy / "new.txt").write_text("Harris visited the port city of Busan on Friday.", encoding="utf-8")
    with FileLock(str(index / ".lock")):  # as if another citeqa were writing the index
        result = citeqa("ask", "Who did Lee In-young meet?", "--corpus", str(seed_copy), "--index", str(index))
    assert result.returncode == 0, result.stderr
    assert "Harry Harris" in result.stdout
    assert "warning: the corpus changed but the index" in result.stderr
    assert "another citeqa process is refreshing it; answering from the index as it is" in result.stderr


def test_eval_names_the_file_and_line_of_bad_input(tmp_path):
    good = (
        '{"id": 1, "question": "Who met Harris?", "answers": ["Lee"], "docs": [], "evidence": [], "answerable": true}'
    )
    cases = {
        "latin.jsonl": good.encode() + b"\n" + good.replace("Who", "Qui \xe9").encode("latin-1") + b"\n",
        "empty.jsonl": (good + "\n\n" + good.replace("Who met Harris?", "  ") + "\n").encode(),
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        result = citeqa("eval", str(tmp_path / name))
        assert_one_line_error(result, 1)
        assert f"{tmp_path / name}:" in result.stderr
    assert "latin.jsonl:2: not UTF-8 text" in citeqa("eval", str(tmp_path / "latin.jsonl")).stderr
    assert "empty.jsonl:3: the question is empty" in citeqa("eval", str(tmp_path / "empty.jsonl")).stderr


def test_fail_under_a_metric_the_dataset_cannot_measure_is_refused_before_running(tmp_path):
    only_answerable = tmp_path / "q.jsonl"
    only_answerable.write_text(
        '{"id": 1, "question": "Who met Harris?", "answers": ["Lee"], "docs": [], "evidence": [], "answerable": true}\n'
    )
    result = citeqa("eval", str(only_answerable), "--fail-under", "abstain_recall=0.5", "--index", str(tmp_path / "i"))
    assert_one_line_error(result, 2)
    assert "cannot measure abstain_recall" in result.stderr
    assert not (tmp_path / "i").exists()  # refused before anything was indexed


def test_another_corpus_is_refused_by_an_index_that_holds_one(tmp_path, seed_copy):
    index = tmp_path / "i"
    assert citeqa("index", str(seed_copy), "--index", str(index), "-q").returncode == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "b.txt").write_text("Moon visited Busan on Friday.", encoding="utf-8")
    for args in (["index", str(other)], ["ask", "Who visited Busan?", "--corpus", str(other)]):
        result = citeqa(*args, "--index", str(index))
        assert_one_line_error(result, 1)
        assert f"holds the corpus {seed_copy}, not {other}" in result.stderr
    assert (
        "Harry Harris"
        in citeqa("ask", "Who did Lee In-young meet?", "-c", str(seed_copy), "--index", str(index)).stdout
    )


def test_skip_warnings_once_and_quiet(tmp_path, seed_copy):
    (seed_copy / "photo.txt").write_bytes(b"\x89PNG\x00\x00binary")
    index = ["--corpus", str(seed_copy), "--index", str(tmp_path / "i")]
    first = citeqa("ask", "Who did Lee In-young meet?", *index)
    assert first.stderr.count("photo.txt: binary content") == 1
    again = citeqa("ask", "Who did Lee In-young meet?", *index)
    assert again.returncode == 0 and again.stderr == ""  # not repeated on every ask
    (seed_copy / "photo2.txt").write_bytes(b"\x89PNG\x00\x00binary")
    quiet = citeqa("ask", "Who did Lee In-young meet?", *index, "-q")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_index_check(tmp_path, seed_copy):
    index = tmp_path / "i"
    assert citeqa("index", str(seed_copy), "--index", str(index), "-q").returncode == 0
    ok = citeqa("index", str(seed_copy), "--index", str(index), "--check")
    assert ok.returncode == 0 and ok.stdout.startswith("Index OK: 2 article(s)")
    generation = index / (index / "CURRENT").read_text().strip()
    (metadata,) = generation.glob("seg-*/meta.sqlite")
    data = bytearray(metadata.read_bytes())
    data[len(data) // 2] ^= 0xFF
    metadata.write_bytes(bytes(data))
    assert_one_line_error(citeqa("index", str(seed_copy), "--index", str(index), "--check"), 1)


def test_full_disk_is_one_line_and_the_previous_index_answers(tmp_path, seed_copy):
    """ENOSPC injected into the BM25 write of a real update, in a real CLI process."""
    index = tmp_path / "i"
    assert citeqa("index", str(seed_copy), "--index", str(index), "-q").returncode == 0
    (seed_copy / "new.txt").write_text("Harris visited the port city of Busan on Friday.", encoding="utf-8")
    code = (
        "import errno, sys\n"
        "import qa.index.local.segments\n"
        "def full(*a, **k):\n"
        "    raise OSError(errno.ENOSPC, 'No space left on device', a[0])\n"
        "qa.index.local.segments.write_segment_vectors = full\n"
        "from qa.cli import main\n"
        f"sys.argv = ['citeqa', 'index', {str(seed_copy)!r}, '--index', {str(index)!r}, '-q']\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert_one_line_error(result, 1)
    assert "the disk is full" in result.stderr and "the previous index still answers" in result.stderr
    assert not [p for p in index.iterdir() if p.name.startswith("tmp-")]
    assert (
        "Harry Harris"
        in citeqa("ask", "Who did Lee In-young meet?", "--index", str(index), "-c", str(seed_copy), "-q").stdout
    )


def test_precision_is_recorded_and_an_index_is_only_reused_at_its_precision(tmp_path, seed_copy):
    index = tmp_path / "i"
    built = citeqa("index", str(seed_copy), "--index", str(index), "--precision", "int8", "-q")
    assert built.returncode == 0, built.stderr
    info = json.loads(citeqa("info", "-c", str(seed_copy), "--index", str(index), "--json").stdout)
    assert info["precision"] == "int8"
    asked = citeqa("ask", "Who did Lee In-young meet?", "-c", str(seed_copy), "--index", str(index))
    assert asked.returncode == 0 and "Harry Harris" in asked.stdout  # the index's precision, without asking
    result = citeqa("ask", "Who?", "-c", str(seed_copy), "--index", str(index), "--precision", "fp32")
    assert_one_line_error(result, 1)
    assert "holds int8 vectors, not fp32" in result.stderr and "--rebuild --precision fp32" in result.stderr
    assert_one_line_error(citeqa("ask", "Who?", "--precision", "int4"), 2)


def test_web_pages_and_pdfs_are_cited_with_their_source_and_page(tmp_path):
    from tests.helpers.pdfs import text_pdf

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ferry.html").write_text(PAGE, encoding="utf-8")
    pages = [
        ["Quarterly Report - ACME Corp", "The board met on Monday to discuss the results.", "1"],
        ["Quarterly Report - ACME Corp", "Shareholders will vote on the merger with Globex in March.", "2"],
        ["Quarterly Report - ACME Corp", "The chief executive said jobs would be safe.", "3"],
    ]
    (corpus / "report.pdf").write_bytes(text_pdf(pages, title="ACME merger", created="20200102120000"))
    (corpus / "scan.pdf").write_bytes(text_pdf([[]]))
    index = ["-c", str(corpus), "--index", str(tmp_path / "i")]
    result = citeqa("ask", "When will shareholders vote on the Globex merger?", *index)
    assert result.returncode == 0, result.stderr
    assert "[1] ACME merger (2020-01-02)" in result.stdout and "report.pdf, page 2" in result.stdout
    assert "scan.pdf: no text layer" in result.stderr
    doc = json.loads(citeqa("ask", "How much did the pier repairs cost?", *index, "--json").stdout)
    citation = doc["citations"][0]
    assert (citation["source"], citation["author"], citation["date"]) == ("Coast News", "Jane Reporter", "2021-05-04")
    assert citation["url"] == "https://coast.example/ferry" and citation["page"] is None
    listed = json.loads(citeqa("info", *index, "--articles", "--json").stdout)
    assert [(a["id"], a["source"]) for a in listed] == [("ferry", "Coast News"), ("report", None)]
    again = citeqa("ask", "How much did the pier repairs cost?", *index)
    assert "scan.pdf" not in again.stderr  # reported once, when it was skipped


def test_ask_and_eval_take_filters(seed_index_dir, tmp_path):
    result = citeqa("ask", "Who did Lee In-young meet?", "--index", str(seed_index_dir), "--until", "2020-01", "--json")
    doc = json.loads(result.stdout)
    assert {p["article_id"] for p in doc["passages"]} == {"004_cffa3cfd4d8230b1"}
    assert doc["notes"][0] == "searched 1 of 2 articles (until:2020-01-31)"
    assert_one_line_error(citeqa("ask", "Who?", "--since", "last week"), 2)
    evaluated = citeqa("eval", str(SEEDS / "questions.jsonl"), "--article", "004*", "--json", str(tmp_path / "e.json"))
    assert evaluated.returncode == 0, evaluated.stderr
    results = json.loads((tmp_path / "e.json").read_text())["results"]
    assert all(set(r["ranked_articles"]) <= {"004_cffa3cfd4d8230b1"} for r in results)


def test_index_watch_keeps_the_index_in_step_with_the_folder(tmp_path, seed_copy):
    import queue
    import signal
    import threading

    index = tmp_path / "i"
    watcher = subprocess.Popen(
        [sys.executable, "-m", "qa", "index", str(seed_copy), "--index", str(index), "-q", "--watch"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A suite started in the background by a non-interactive shell (`pytest &`) inherits SIGINT ignored, and
        # so would the watcher, which then never hears the Ctrl+C this test sends: give it the default back.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in watcher.stdout], daemon=True).start()

    def line_with(text: str) -> str:
        while text not in (line := lines.get(timeout=60)):
            pass
        return line

    try:
        line_with("Watching")
        (seed_copy / "busan.txt").write_text("Harris visited the port city of Busan on Friday.", encoding="utf-8")
        assert "1 new, 0 changed, 0 removed" in line_with("updated:")
        (seed_copy / "busan.txt").write_text("Harris visited the port city of Busan on Saturday.", encoding="utf-8")
        assert "0 new, 1 changed, 0 removed" in line_with("updated:")
        (seed_copy / "busan.txt").rename(seed_copy / "port.txt")
        assert "1 new, 0 changed, 1 removed" in line_with("updated:")
        listed = subprocess.run(
            [
                sys.executable,
                "-m",
                "qa",
                "info",
                "--corpus",
                str(seed_copy),
                "--index",
                str(index),
                "--articles",
                "--json",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        ids = {row["id"] for row in json.loads(listed.stdout)}
        assert "port" in ids and "busan" not in ids
        (seed_copy / "port.txt").unlink()
        assert "0 new, 0 changed, 1 removed" in line_with("updated:")
        seeds = sorted(seed_copy.iterdir())
        kept = {path: path.read_bytes() for path in seeds}
        for path in seeds:  # a sync tool's `rm *; cp new/* .`: for a moment the folder is empty
            path.unlink()
        assert f"0 new, 0 changed, {len(seeds)} removed" in line_with("updated:")  # nothing deleted is cited
        seeds[0].write_bytes(kept[seeds[0]])
        assert "1 new, 0 changed, 0 removed" in line_with("updated:")  # and the watcher is still watching
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=30)
    assert watcher.returncode == 0 and "Traceback" not in watcher.stderr.read()
    assert line_with("Stopped").startswith("Stopped watching")  # between updates, or one abandoned


def test_progress_bars_load_rich_only_when_there_is_progress_to_show():
    """An `ask` on an index that is up to date reports nothing, so it does not import rich's progress bars."""
    code = (
        "import sys\n"
        "from qa.present.progress import progress_bars\n"
        "with progress_bars() as report:\n"
        "    pass\n"
        "print('rich.progress' in sys.modules)\n"
        "with progress_bars() as report:\n"
        "    report('embedding', 1, 4)\n"
        "    report('embedding', 4, 4)\n"
    )
    env = {**os.environ, "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1"}  # rich draws as on a terminal
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert "Embedding" in result.stderr and "4/4" in result.stderr
