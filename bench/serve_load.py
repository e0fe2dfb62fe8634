"""`citeqa serve` under load: N concurrent clients, a fixed count of asks, while another process changes files.

    .venv/bin/python bench/serve_load.py [--corpus seeds|bbc] [--clients 8] [--requests 400] [--no-changes]

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="seeds")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--no-changes", action="store_true", help="no file changes during the run")
    args = parser.parse_args()
    source, questions_file = CORPORA[args.corpus]
    questions = [json.loads(line)["question"] for line in questions_file.read_text().splitlines() if line.strip()]
    work = Path(tempfile.mkdtemp(prefix="citeqa-serve-load-"))
    corpus, index = work / "corpus", work / "index"
    shutil.copytree(source, corpus, ignore=shutil.ignore_patterns("*.jsonl", "*.TXT"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "qa", "index", str(corpus), "--index", str(index), "-q"], check=True, env=env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "qa", "serve", "--corpus", str(corpus), "--index", str(index), "--port", str(port)],
        cwd=ROOT,
        env=env,
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
                time.sleep(0.05)
            startup = time.perf_counter() - started
            updates_before = http.get("/v1/status").json()["updates"]
        if not args.no_changes:
            changer = subprocess.Popen([sys.executable, "-c", CHANGER, str(corpus)])
        latencies: list[float] = []
        statuses: list[int] = []
        timings: list[dict] = []
        deadline = time.monotonic() + args.max_seconds
        lock = threading.Lock()

        def ask(i: int) -> None:
            if time.monotonic() > deadline:
                return
            with httpx.Client(base_url=url, timeout=60) as http:
                t = time.perf_counter()
                try:
                    response = http.post("/v1/ask", json={"question": questions[i % len(questions)]})
                    status, body = response.status_code, response.json()
                except httpx.HTTPError:
                    status, body = 0, {}
                elapsed = time.perf_counter() - t
            with lock:
                latencies.append(elapsed)
                statuses.append(status)
                if status == 200:
                    timings.append(body["timings"])

        run_started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(ask, range(args.requests)))
        wall = time.perf_counter() - run_started
        with httpx.Client(base_url=url, timeout=60) as http:
            updates = http.get("/v1/status").json()["updates"] - updates_before
    finally:
        if changer is not None:
            changer.terminate()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    ms = np.array(latencies) * 1000
    ok = sum(1 for s in statuses if s == 200)
    load = os.getloadavg()[0]
    print(f"corpus {args.corpus}, {args.clients} clients, {len(statuses)} asks, load average {load:.1f}")
    print("| answered/s | p50 ms | p95 ms | p99 ms | errors | updates applied | startup to first answer s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {ok / wall:.1f} | {np.percentile(ms, 50):.0f} | {np.percentile(ms, 95):.0f} | {np.percentile(ms, 99):.0f} "
        f"| {len(statuses) - ok} | {updates} | {startup:.2f} |"
    )
    keys = sorted({k for t in timings for k in t})
    print(
        "\nserver time per question (median ms): "
        + ", ".join(f"{k} {np.median([t.get(k, 0) for t in timings]):.1f}" for k in keys)
    )


if __name__ == "__main__":
    main()
