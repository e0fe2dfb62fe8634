"""`citeqa serve` and `citeqa mcp`: a real server process on a free loopback port and a real HTTP client, the MCP
server through the SDK's own stdio client."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import ROOT

httpx = pytest.importorskip("httpx", reason="the serve extra is not installed")
pytest.importorskip("fastapi", reason="the serve extra is not installed")

TOKEN = "test-token-0123456789"
QUESTION = "Who did Unification Minister Lee In-young meet?"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`citeqa serve` in its own process; `url` once /healthz answers."""

    def __init__(self, corpus: Path, index: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qa",
                "serve",
                "--corpus",
                str(corpus),
                "--index",
                str(index),
                "--port",
                str(self.port),
                *extra,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        threading.Thread(target=lambda: self.output.extend(self.process.stdout), daemon=True).start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("the server did not start: " + "".join(self.output))

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A server over a copy of the seeds, with a token; its corpus folder and index."""
    from tests.conftest import SEEDS

    root = tmp_path_factory.mktemp("serve")
    corpus = root / "corpus"
    corpus.mkdir()
    for article in SEEDS.glob("*.txt"):
        (corpus / article.name).write_bytes(article.read_bytes())
    server = Server(corpus, root / "index", "--token", TOKEN)
    yield server, corpus, root / "index"
    assert server.stop() == 0


def client(server: Server, token: str | None = TOKEN) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60)


def ready(http: httpx.Client) -> None:
    deadline = time.monotonic() + 120
    while http.get("/v1/status").json().get("ready") is not True:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_every_endpoint_and_the_answer_equals_ask_json(served):
    server, corpus, index = served
    with client(server) as http:
        ready(http)
        answer = http.post("/v1/ask", json={"question": QUESTION}).json()
        cli = subprocess.run(
            [sys.executable, "-m", "qa", "ask", QUESTION, "--corpus", str(corpus), "--index", str(index), "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        expected = json.loads(cli.stdout)
        assert {k: v for k, v in answer.items() if k != "timings"} == {
            k: v for k, v in expected.items() if k != "timings"
        }
        first = answer["citations"][0]
        assert "Harry Harris" in first["sentence"]
        found = http.post("/v1/search", json={"question": QUESTION, "k": 3}).json()
        assert len(found["passages"]) == 3 and found["passages"][0]["article_id"] == first["article_id"]
        listed = http.get("/v1/articles", params={"limit": 1}).json()
        assert listed["total"] == len(list(corpus.glob("*.txt"))) and len(listed["articles"]) == 1
        article = http.get(f"/v1/articles/{first['article_id']}").json()
        assert article["text"][first["start"] : first["end"]] == first["sentence"]  # the offsets check out
        status = http.get("/v1/status").json()
        assert status["ready"] and status["articles"] == listed["total"] and status["model"] and status["generation"]
        assert http.get("/healthz").json() == {"ok": True}
        schema = http.get("/openapi.json").json()
        assert {"/v1/ask", "/v1/search", "/v1/articles", "/v1/status"} <= set(schema["paths"])


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("post", "/v1/ask", {"question": ""}, 400, "bad_request"),
        ("post", "/v1/ask", {"question": "x" * 2001}, 400, "bad_request"),
        ("post", "/v1/ask", {"question": "Who?", "k": 0}, 400, "bad_request"),
        ("post", "/v1/ask", {"question": "Who?", "mode": "fuzzy"}, 400, "bad_request"),
        ("post", "/v1/ask", {"question": "Who?", "since": "2020-13-01"}, 400, "bad_request"),
        ("post", "/v1/ask", {"question": "Who?", "since": "2021", "until": "2020"}, 400, "bad_request"),
        ("post", "/v1/ask", {"question": "Who?", "source": ["x"] * 51}, 400, "bad_request"),
        ("post", "/v1/ask", {"question": "Who?", "unknown": 1}, 400, "bad_request"),
        ("post", "/v1/ask", ["not", "an", "object"], 400, "bad_request"),
        ("post", "/v1/ask", {"question": "Who?" * 20000}, 413, "too_large"),
        ("get", "/v1/articles/no-such-article", None, 404, "not_found"),
        ("get", "/v1/articles/../../etc/passwd", None, 404, "not_found"),
        ("get", "/v1/articles/%2e%2e%2f%2e%2e%2fetc%2fpasswd", None, 404, "not_found"),
        ("get", "/v1/articles", {"limit": 0}, 400, "bad_request"),
        ("get", "/v1/nothing-here", None, 404, "not_found"),
    ],
)
def test_bad_requests_are_json_errors_with_the_right_status(served, method, path, body, status, code):
    server, _, _ = served
    with client(server) as http:
        ready(http)
        response = http.post(path, json=body) if method == "post" else http.get(path, params=body)
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["code"] == code and error["message"] and "\n" not in error["message"]
        assert "Traceback" not in response.text and "/etc/passwd:" not in response.text


def test_a_token_is_required_everywhere_but_healthz(served):
    server, _, _ = served
    for token in (None, "wrong-token-000000000"):
        with client(server, token) as http:
            for path in ("/v1/status", "/v1/articles", "/openapi.json"):
                response = http.get(path)
                assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
            assert http.post("/v1/ask", json={"question": QUESTION}).status_code == 401
            assert http.get("/healthz").status_code == 200


def test_a_port_in_use_is_one_line_before_anything_loads():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "qa", "serve", "--port", str(port)], cwd=ROOT, capture_output=True, text=True
        )
    assert run.returncode == 1 and run.stderr.startswith(f"citeqa: error: cannot listen on 127.0.0.1:{port}")
    assert len(run.stderr.strip().splitlines()) == 1


def test_listening_beyond_loopback_needs_a_token():
    run = subprocess.run(
        [sys.executable, "-m", "qa", "serve", "--host", "0.0.0.0"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 2 and run.stderr.startswith("citeqa: error: listening on 0.0.0.0")
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_burst_of_asks_while_the_corpus_is_updated_loses_none(served):
    """200 asks from 16 clients while files are added and the index republished: every one answered."""
    server, corpus, _ = served
    with client(server) as http:
        ready(http)
        before = http.get("/v1/status").json()
    stop = threading.Event()

    def change_files() -> None:
        n = 0
        while not stop.is_set():
            (corpus / f"burst-{n % 3}.txt").write_text(f"Report {n}: the harbour board met {n} times this year.\n")
            n += 1
            time.sleep(0.7)

    writer = threading.Thread(target=change_files)
    writer.start()

    def ask(i: int) -> int:
        with client(server) as http:
            return http.post(
                "/v1/ask", json={"question": QUESTION if i % 2 else "How often did the harbour board meet?"}
            ).status_code

    try:
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(ask, range(200)))
    finally:
        stop.set()
        writer.join()
    with client(server) as http:
        after = http.get("/v1/status").json()
    assert statuses == [200] * 200
    assert after["updates"] > before["updates"] and after["generation"] != before["generation"]


def test_sigterm_finishes_the_requests_in_flight_and_exits_0(tmp_path, seed_copy):
    server = Server(seed_copy, tmp_path / "index", "--no-watch")
    with client(server, None) as http:
        ready(http)
    results: list[int] = []

    def ask() -> None:
        with client(server, None) as http:
            results.append(http.post("/v1/ask", json={"question": QUESTION}).status_code)

    askers = [threading.Thread(target=ask) for _ in range(8)]
    for thread in askers:
        thread.start()
    time.sleep(0.3)  # the requests are in flight
    code = server.stop()
    for thread in askers:
        thread.join()
    assert code == 0 and results == [200] * 8, (code, results, "".join(server.output)[-2000:])


def test_the_mcp_server_answers_through_the_sdks_stdio_client(tmp_path, seed_copy):
    import anyio

    pytest.importorskip("mcp", reason="the serve extra is not installed")
    from mcp import Client, StdioServerParameters

    async def session() -> tuple:
        parameters = StdioServerParameters(
            command=sys.executable,
            args=["-m", "qa", "mcp", "--corpus", str(seed_copy), "--index", str(tmp_path / "index"), "--no-watch"],
            cwd=str(ROOT),
        )
        async with Client(parameters) as mcp:
            tools = {tool.name for tool in (await mcp.list_tools()).tools}
            deadline = time.monotonic() + 120
            while True:
                answer = await mcp.call_tool("ask", {"question": QUESTION})
                if not answer.is_error or "still being built" not in answer.content[0].text:
                    break
                assert time.monotonic() < deadline
                await anyio.sleep(0.3)
            assert not answer.is_error, answer.content
            first = answer.structured_content["citations"][0]
            article = await mcp.call_tool("read_article", {"article_id": first["article_id"]})
            refused = await mcp.call_tool("read_article", {"article_id": "../../etc/passwd"})
            listed = await mcp.call_tool("list_articles", {"limit": 5})
            return tools, first, article.structured_content, refused, listed.structured_content

    tools, first, article, refused, listed = anyio.run(session)
    assert tools == {"ask", "search", "list_articles", "read_article"}
    assert "Harry Harris" in first["sentence"] and article["text"][first["start"] : first["end"]] == first["sentence"]
    assert refused.is_error and "no article '../../etc/passwd'" in refused.content[0].text
    assert listed["total"] == len(list(seed_copy.glob("*.txt")))


def test_before_the_first_index_is_built_asks_are_503_with_retry_after(tmp_path, seed_copy):
    """The state a server is in while it builds its first index (its Service not started, so it stays there)."""
    from fastapi.testclient import TestClient

    from qa.serve.http import create_app
    from qa.serve.service import Service

    service = Service(seed_copy, str(tmp_path / "index"), watch=False)
    with TestClient(create_app(service)) as http:
        response = http.post("/v1/ask", json={"question": QUESTION})
        status = http.get("/v1/status").json()
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert response.json()["error"]["code"] == "index_building" and status["ready"] is False
    service.stop()


def _ready_service(corpus: Path, index: Path, watch: bool, workers: int):
    """A started Service whose first index is built (or two minutes passed)."""
    from qa.serve.service import Service

    service = Service(corpus, str(index), watch=watch, workers=workers)
    service.start()
    deadline = time.monotonic() + 120
    while not service.state.ready and time.monotonic() < deadline:
        time.sleep(0.2)
    return service


def test_answering_workers_share_one_model_and_answer_as_one_does(tmp_path, seed_copy):
    """Two answering Assistants hold one encoder and one reader, and concurrent answers equal a lone one's."""
    from qa.cores import usable_cores
    from qa.serve.service import AskRequest

    service = _ready_service(seed_copy, tmp_path / "index", watch=False, workers=2)
    try:
        alone = service.ask(AskRequest(QUESTION))
        with ThreadPoolExecutor(8) as pool:
            together = list(pool.map(lambda _: service.ask(AskRequest(QUESTION)), range(16)))
        holders = [*service.answerers, service.writer]
        assert len({id(a.embedder) for a in holders}) == 1 and len({id(a.reader) for a in holders}) == 1
        # each worker reads on its share of the cores, not on a pool of a thread per core that both contend for
        assert service.answerer.reader.threads == max(1, usable_cores() // 2)
        assert service.status()["workers"] == 2
    finally:
        service.stop()

    def without_timings(document: dict) -> dict:
        return {key: value for key, value in document.items() if key != "timings"}

    assert all(without_timings(d) == without_timings(alone) for d in together)


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own niceness is Linux's")
def test_the_writer_gives_way_to_the_answering_threads(tmp_path, seed_copy):
    """The index writer runs at BACKGROUND_NICENESS, and so do the threads it starts (an onnxruntime pool); the
    answering workers run as the process does: on busy cores a question comes before an update."""
    import os

    from qa.cores import BACKGROUND_NICENESS, run_in_background
    from qa.serve.service import AskRequest

    def niceness(thread_id: int = 0) -> int:
        return os.getpriority(os.PRIO_PROCESS, thread_id)

    seen: dict[str, int] = {}

    def background() -> None:
        seen["lowered"] = run_in_background()
        child = threading.Thread(target=lambda: seen.update(child=niceness(threading.get_native_id())))
        child.start()
        child.join()
        seen["self"] = niceness(threading.get_native_id())

    thread = threading.Thread(target=background)
    thread.start()
    thread.join()
    assert seen == {"lowered": True, "child": max(niceness(), BACKGROUND_NICENESS), "self": seen["child"]}

    service = _ready_service(seed_copy, tmp_path / "index", watch=True, workers=1)
    try:
        writer = niceness(service._background.native_id)  # watching the folder: alive
        answerer = service.run(lambda _: niceness(threading.get_native_id()))
        assert service.ask(AskRequest(QUESTION))["answered"]
    finally:
        service.stop()
    assert writer == max(niceness(), BACKGROUND_NICENESS) and answerer == niceness() < BACKGROUND_NICENESS


@pytest.mark.parametrize("workers", [1, 2])
def test_questions_are_answered_in_the_order_they_came_each_worker_on_its_own_thread(tmp_path, seed_copy, workers):
    """A question never waits behind later ones (a free worker taken by whoever wakes first starved some for
    seconds), and each answering Assistant is only ever used from one thread (its SQLite connections are its)."""
    import threading

    from qa.serve.service import Service

    service = Service(seed_copy, str(tmp_path / "index"), watch=False, workers=workers)
    service.state.ready = True  # the jobs below only record who ran them; no index is read
    busy, release, order, used = threading.Semaphore(0), threading.Event(), [], set()
    try:
        hold = lambda a: (busy.release(), release.wait(30))  # noqa: E731
        blockers = [threading.Thread(target=service.run, args=(hold,)) for _ in range(workers)]
        for blocker in blockers:
            blocker.start()
            assert busy.acquire(timeout=30)  # every worker is busy before the others are queued
        waiting = []
        for n in range(8):
            job = lambda a, n=n: (order.append(n), used.add((threading.get_ident(), id(a))))  # noqa: E731
            waiting.append(threading.Thread(target=service.run, args=(job,)))
            waiting[-1].start()
            while service._pool._work_queue.qsize() < n + 1:  # queued before the next one is sent
                time.sleep(0.001)
        release.set()
        for thread in (*blockers, *waiting):
            thread.join(30)
    finally:
        service.stop()
    # one worker takes them strictly in turn; two take them in turn too, but may finish two neighbours either way
    assert order == list(range(8)) if workers == 1 else sorted(order) == list(range(8))
    threads_of = {}
    for thread_id, answerer in used:
        threads_of.setdefault(answerer, set()).add(thread_id)
    assert all(len(ids) == 1 for ids in threads_of.values()) and len({i for i, _ in used}) == len(threads_of)


def test_a_long_running_assistant_remembers_only_the_latest_question_vectors(monkeypatch, seed_copy):
    """A server asked ever new questions keeps a bounded number of their vectors, forgetting the least recent;
    a remembered question is not embedded again (the tiny hashing embedder counts what it encodes)."""
    import qa.pipeline
    from qa.pipeline import Assistant
    from tests.helpers.fakes import HashingEmbedder

    monkeypatch.setattr(qa.pipeline, "REMEMBERED_QUESTIONS", 3)
    assistant = Assistant(seed_copy)
    embedder = HashingEmbedder(assistant.model_id)
    embedder.precision = assistant.precision  # taken for the model the Assistant would load
    assistant._embedder = embedder
    first = assistant._encode_questions(["a?", "b?", "a?"])
    assistant._encode_questions(["c?", "d?"])  # "b?" is the least recent now, and goes
    assistant._encode_questions(["a?"])
    assert embedder.encoded == ["a?", "b?", "c?", "d?"]
    assert list(assistant._question_vectors) == ["c?", "d?", "a?"] and (first[0] == first[2]).all()
    assistant._encode_questions(["b?"])
    assert embedder.encoded[-1] == "b?" and list(assistant._question_vectors) == ["d?", "a?", "b?"]


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 2), (16, 2)])
def test_by_default_two_workers_answer_and_no_more_than_the_cores(monkeypatch, tmp_path, seed_copy, cores, workers):
    import qa.serve.service
    from qa.serve.service import Service

    monkeypatch.setattr(qa.serve.service, "usable_cores", lambda: cores)
    service = Service(seed_copy, str(tmp_path / "index"), watch=False)
    try:
        assert len(service.answerers) == workers
        assert service.answerer.settings.threads == (None if workers == 1 else max(1, cores // workers))
    finally:
        service.stop()
