"""Cold one-shot `citeqa ask` on the seeds, and its parts, each in fresh processes as a user runs it.

    .venv/bin/python bench/cold_start.py [--runs 7]

Two measurements alternate, run by run:
- `citeqa ask` as a user runs it (`python -m qa ask QUESTION -q`), wall time from launch to exit;
- the same steps in a driver process that stamps the time between them: the interpreter (`python -c pass`,
  measured apart), the CLI's imports, the corpus check (is the index up to date?), opening the index (FAISS,
  BM25 and SQLite, with their imports), the encoder session (onnxruntime, tokenizer), and the question
  itself (encode, retrieve, choose the sentences, render).
The whole process also pays for its exit, which the parts leave out. Medians of --runs.
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
import json, sys, time
stamps = [time.perf_counter()]
import qa.cli, qa.retrieve.filters, qa.pipeline, qa.text.questions, qa.present.render
stamps.append(time.perf_counter())
assistant = qa.cli._assistant(None, None, None, None)
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
        asks, interpreters, parts = [], [], {name: [] for name in PARTS}
        for _ in range(args.runs):
            asks.append(wall(["-m", "qa", "ask", QUESTION, "-q"], env)[0])
            interpreters.append(wall(["-c", "pass"], env)[0])
            seconds = json.loads(wall(["-c", DRIVER, QUESTION], env)[1])
            for name, value in zip(PARTS, seconds, strict=True):
                parts[name].append(value)
    load = os.getloadavg()
    print(f"cold `citeqa ask` on the seeds, {args.runs} runs, {os.cpu_count()} CPUs, load {load[0]:.2f} {load[1]:.2f}")
    print(f"{'':<28} {'median s':>9} {'min s':>7} {'max s':>7}")
    rows = [("citeqa ask (whole process)", asks), ("  interpreter start", interpreters), *parts.items()]
    for label, values in rows:
        label = label if label.startswith(("citeqa", "  ")) else f"  {label}"
        print(f"{label:<28} {statistics.median(values):9.3f} {min(values):7.3f} {max(values):7.3f}")
    total = statistics.median(interpreters) + sum(statistics.median(v) for v in parts.values())
    print(f"{'  sum of the parts':<28} {total:9.3f}")


if __name__ == "__main__":
    main()
