"""One-shot latency and memory of the CLI on the seeds, each command in a fresh process as a user runs it.

    .venv/bin/python bench/latency.py [--runs 5]

Prints a table: wall time (median of --runs, plus min and max) and peak resident memory of the process.
"A new machine" starts with an empty cache: citeqa loads sentence-transformers, exports the model to ONNX
and builds the index; every later process encodes with the export.
Timings on shared machines are noisy; read them as ratios within one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Who did Unification Minister Lee In-young meet?"


def run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one `python -m qa …` process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "qa", *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"citeqa {' '.join(args)} failed: {process.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


def measure(label: str, args: list[str], env: dict[str, str], runs: int, fresh: list[Path] = ()):
    times, memory = [], []
    for _ in range(runs):
        for path in fresh:
            shutil.rmtree(path, ignore_errors=True)
        elapsed, peak = run(args, env)
        times.append(elapsed)
        memory.append(peak)
    return label, statistics.median(times), min(times), max(times), max(memory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        index, cache = Path(scratch) / "index", Path(scratch) / "cache"
        env = {**os.environ, "CITEQA_INDEX": str(index), "XDG_CACHE_HOME": str(cache)}
        ask = ["ask", QUESTION, "-q"]
        rows = [
            measure("first ask on a new machine", ask, env, max(1, args.runs // 2), fresh=[index, cache]),
            measure("ask, fresh index (builds it)", ask, env, args.runs, fresh=[index]),
            measure("ask, index exists (cold process)", ask, env, args.runs),
            measure("  same, without the ONNX fast path", ask, {**env, "CITEQA_ONNX": "0"}, args.runs),
            measure("ask --mode bm25 (no model)", ["ask", QUESTION, "--mode", "bm25"], env, args.runs),
            measure("index, seeds unchanged", ["index", "-q"], env, args.runs),
            measure("info", ["info"], env, args.runs),
        ]
    print(f"citeqa CLI on the seeds, {args.runs} runs each, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"{'command':<36} {'median s':>9} {'min s':>7} {'max s':>7} {'peak MiB':>9}")
    for label, median, low, high, peak in rows:
        print(f"{label:<36} {median:9.2f} {low:7.2f} {high:7.2f} {peak:9.0f}")


if __name__ == "__main__":
    main()
