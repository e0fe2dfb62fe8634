"""`citeqa serve` under load: N concurrent clients, a fixed count of asks, while another process changes files.

    .venv/bin/python bench/serve_load.py [--corpus seeds|bbc] [--clients 8] [--requests 400] [--workers 1,2]
        [--repeats 2] [--no-changes]

Starts a server on a free 127.0.0.1 port over a copy of the corpus (BBC: ../shared/bench/bbc, its index built
first, outside the timing), waits for its first answer (the startup figure), then sends the requests from N
client threads (questions of the corpus's question file, round robin) while a second process writes a new
article into the copy every second, so that the server re-indexes and switches generations under load. The loop
is bounded in count and in time (--max-seconds). Prints a table: answered questions per second, latency
percentiles, errors, and how many updates the server applied meanwhile; then the server's own split of a
question's time (embed, search, answer) from the answers' `timings`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "bench"
CORPORA = {
    "seeds": (ROOT / "seeds", ROOT / "seeds" / "questions.jsonl"),
    "bbc": (SHARED / "bbc", SHARED / "bbc-dev.jsonl"),
}
CHANGER = """
import sys, time
from pathlib import Path
folder, n = Path(sys.argv[1]), 0
while True:
    (folder / f"load-{n % 5}.txt").write_text(f"Load report {n}\\n\\nThe harbour board met {n} times this year.\\n")
    n += 1
    time.sleep(1.0)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Run:
    """One server's figures under load."""

    workers: int
    answered_per_s: float
    latencies_ms: np.ndarray
    sent_s: np.ndarray  # when each request was sent, from the run's start
    errors: int
    updates: int
    startup_s: float
    timings: list[dict]


def run_server(base: Path, workers: int, questions: list[str], args) -> Run:
    """A server with `workers` answering threads over the indexed corpus in `base`, under the load; the files
    the load wrote are removed after it (an index holds its corpus's path, so the runs share one folder, and each
    server's first update removes the previous run's files)."""
    corpus, index = base / "corpus", base / "index"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    command = [sys.executable, "-m", "qa", "serve", "--corpus", str(corpus), "--store", str(index), "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workers", str(workers)],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    changer = None
    try:
        with httpx.Client(base_url=url, timeout=60) as http:
            while True:
                try:
                    if http.post("/v1/ask", json={"question": questions[0]}).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.perf_counter() - started > args.max_seconds:
                    raise SystemExit(f"the server did not answer (exit status {server.poll()})")
                time.sleep(0.05)
            startup = time.perf_counter() - started
            updates_before = http.get("/v1/status").json()["updates"]
        if not args.no_changes:
            changer = subprocess.Popen([sys.executable, "-c", CHANGER, str(corpus)])
        latencies: list[float] = []
        sent: list[float] = []
        statuses: list[int] = []
        timings: list[dict] = []
        deadline = time.monotonic() + args.max_seconds
        lock = threading.Lock()
        # each client thread keeps one connection, as a program calling the service does; a new client per
        # request spent the shared cores on connection and TLS-context setup instead of on the server
        clients, opened = threading.local(), []

        def ask(i: int) -> None:
            if time.monotonic() > deadline:
                return
            if not hasattr(clients, "http"):
                clients.http = httpx.Client(base_url=url, timeout=60)
                with lock:
                    opened.append(clients.http)
            t = time.perf_counter()
            try:
                response = clients.http.post("/v1/ask", json={"question": questions[i % len(questions)]})
                status, body = response.status_code, response.json()
            except httpx.HTTPError:
                status, body = 0, {}
            elapsed = time.perf_counter() - t
            with lock:
                latencies.append(elapsed)
                sent.append(t - run_started)
                statuses.append(status)
                timings.append(body.get("timings", {}) if status == 200 else {})

        run_started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(ask, range(args.requests)))
        wall = time.perf_counter() - run_started
        for http in opened:
            http.close()
        with httpx.Client(base_url=url, timeout=60) as http:
            updates = http.get("/v1/status").json()["updates"] - updates_before
    finally:
        if changer is not None:
            changer.terminate()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        for written in corpus.glob("load-*.txt"):
            written.unlink()
    ok = sum(1 for s in statuses if s == 200)
    return Run(
        workers, ok / wall, np.array(latencies) * 1000, np.array(sent), len(statuses) - ok, updates, startup, timings
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="seeds")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--workers", default="2", help="answering workers to compare, e.g. 1,2 (runs alternate)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each worker count, alternating")
    parser.add_argument("--no-changes", action="store_true", help="no file changes during the run")
    parser.add_argument("--keep", type=Path, help="copy and index the corpus here, and reuse them in the next run")
    parser.add_argument("--slowest", type=int, default=5, help="list the slowest requests of each run")
    args = parser.parse_args()
    source, questions_file = CORPORA[args.corpus]
    questions = [json.loads(line)["question"] for line in questions_file.read_text().splitlines() if line.strip()]
    base = args.keep or Path(tempfile.mkdtemp(prefix="citeqa-serve-load-"))
    if not (base / "corpus").exists():
        shutil.copytree(source, base / "corpus", ignore=shutil.ignore_patterns("*.jsonl", "*.TXT"))
    index = [sys.executable, "-m", "qa", "index", str(base / "corpus"), "--store", str(base / "index"), "-q"]
    subprocess.run(index, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    counts = [int(w) for w in args.workers.split(",")]
    try:
        runs = [run_server(base, w, questions, args) for _ in range(args.repeats) for w in counts]
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    load = os.getloadavg()[0]
    print(f"corpus {args.corpus}, {args.clients} clients, {args.requests} asks a run, load average {load:.1f}")
    print("| workers | answered/s | p50 ms | p95 ms | p99 ms | errors | updates applied | startup to first answer s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        ms = r.latencies_ms
        print(
            f"| {r.workers} | {r.answered_per_s:.1f} | {np.percentile(ms, 50):.0f} | {np.percentile(ms, 95):.0f} "
            f"| {np.percentile(ms, 99):.0f} | {r.errors} | {r.updates} | {r.startup_s:.2f} |"
        )
    for r in runs:
        keys = sorted({k for t in r.timings for k in t})
        split = ", ".join(f"{k} {np.median([t[k] for t in r.timings if k in t]):.1f}" for k in keys)
        print(f"{r.workers} workers: server time per question (median ms): {split}")
    for n, r in enumerate(runs, 1):
        slowest = np.argsort(-r.latencies_ms)[: args.slowest]
        listed = "; ".join(
            f"sent at {r.sent_s[i]:.1f} s, {r.latencies_ms[i]:.0f} ms (server {sum(r.timings[i].values()):.0f} ms)"
            for i in slowest
        )
        print(f"run {n} ({r.workers} workers), slowest: {listed}")


if __name__ == "__main__":
    main()
