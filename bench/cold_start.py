"""Cold one-shot `citeqa ask` on the seeds, and its parts, each in fresh processes as a user runs it.

    .venv/bin/python bench/cold_start.py [--runs 7]

Two measurements alternate, run by run:
- `citeqa ask` as a user runs it (`python -m qa ask QUESTION -q`), wall time from launch to exit;
- the same steps in a driver process that stamps the time between them: the interpreter (`python -c pass`,
  measured apart), the CLI's imports, the corpus check (is the index up to date?), opening the index (FAISS,
  BM25 and SQLite, with their imports), the encoder session (onnxruntime, tokenizer), and the question
  itself (encode, retrieve, choose the sentences, render).
The whole process also pays for its exit, which the parts leave out. Medians of --runs. Then the yardstick of
the reader issue: a process that only imports onnxruntime, numpy, tokenizers and faiss, timed in the same
alternation, and the peak memory (RSS) of `citeqa ask` against that process's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Who did Unification Minister Lee In-young meet?"
PARTS = ("imports", "corpus check", "index open", "encoder session", "question")
DRIVER = r"""
import json, os, sys, time
stamps = [time.perf_counter()]
import qa.cli, qa.retrieve.filters, qa.pipeline, qa.text.questions, qa.present.render
stamps.append(time.perf_counter())
assistant = qa.cli.shared.make_assistant(None, os.environ["CITEQA_INDEX"], None, None)
assistant.ensure_index()
stamps.append(time.perf_counter())
assistant.index
stamps.append(time.perf_counter())
assistant.embedder.session, assistant.embedder.tokenizer
stamps.append(time.perf_counter())
qa.present.render.answer_to_text(assistant.ask(sys.argv[1]))
stamps.append(time.perf_counter())
print(json.dumps([b - a for a, b in zip(stamps, stamps[1:])]))
"""


BASELINE = "import onnxruntime, numpy, tokenizers, faiss"
PEAK_RSS = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_mb(args: list[str], env: dict[str, str]) -> float:
    """The peak resident memory of one fresh `python ARGS` process, in MB."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return int(done.stdout) / 1024


def wall(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "CITEQA_INDEX": str(Path(scratch) / "index")}
        wall(["-m", "qa", "ask", QUESTION, "-q"], env)  # builds the index (and the export, if missing)
        wall(["-m", "qa", "ask", QUESTION, "-q"], env)  # writes what the first load saves
        asks, interpreters, baselines, parts = [], [], [], {name: [] for name in PARTS}
        for _ in range(args.runs):
            asks.append(wall(["-m", "qa", "ask", QUESTION, "-q"], env)[0])
            interpreters.append(wall(["-c", "pass"], env)[0])
            baselines.append(wall(["-c", BASELINE], env)[0])
            seconds = json.loads(wall(["-c", DRIVER, QUESTION], env)[1])
            for name, value in zip(PARTS, seconds, strict=True):
                parts[name].append(value)
        ask_mb, baseline_mb = peak_mb(["-m", "qa", "ask", QUESTION, "-q"], env), peak_mb(["-c", BASELINE], env)
    load = os.getloadavg()
    print(f"cold `citeqa ask` on the seeds, {args.runs} runs, {os.cpu_count()} CPUs, load {load[0]:.2f} {load[1]:.2f}")
    print(f"{'':<28} {'median s':>9} {'min s':>7} {'max s':>7}")
    rows = [("citeqa ask (whole process)", asks), ("  interpreter start", interpreters), *parts.items()]
    for label, values in rows:
        label = label if label.startswith(("citeqa", "  ")) else f"  {label}"
        print(f"{label:<28} {statistics.median(values):9.3f} {min(values):7.3f} {max(values):7.3f}")
    total = statistics.median(interpreters) + sum(statistics.median(v) for v in parts.values())
    print(f"{'  sum of the parts':<28} {total:9.3f}")
    ratio = statistics.median(asks) / statistics.median(baselines)
    median, low, high = statistics.median(baselines), min(baselines), max(baselines)
    print(f"{'imports only (yardstick)':<28} {median:9.3f} {low:7.3f} {high:7.3f}")
    print(
        f"citeqa ask / yardstick: {ratio:.2f}x time; peak memory {ask_mb:.0f} MB against {baseline_mb:.0f} MB "
        f"({ask_mb - baseline_mb:+.0f} MB)"
    )


if __name__ == "__main__":
    main()
