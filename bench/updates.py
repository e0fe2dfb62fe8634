"""What an update of the BBC index costs: fresh, unchanged, 10 files touched, 5 articles modified, 10 added.

    .venv/bin/python bench/updates.py [--corpus ../shared/bench/bbc] [--rounds 3]

The corpus is copied to a temporary folder (the originals are never touched) and indexed with the bundled
model, fp32, as `citeqa index` does; each later step changes the copy and updates the index, --rounds times
(the fresh index once). Prints the median seconds of each step, the part of them spent in the encoder (which
no storage layout can save: new text has to be embedded), what it embedded, and the index's segments after it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from qa.pipeline import Assistant

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "bench" / "bbc")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        corpus = Path(scratch) / "corpus"
        shutil.copytree(args.corpus, corpus)
        files = sorted(corpus.rglob("*.txt"))
        assistant = Assistant(corpus=corpus, index_dir=Path(scratch) / "index", precision="fp32")
        assistant.load_model()
        encoder = assistant.embedder
        encode = encoder.encode
        encoding = [0.0]

        def timed_encode(*args, **kwargs):
            started = time.perf_counter()
            try:
                return encode(*args, **kwargs)
            finally:
                encoding[0] += time.perf_counter() - started

        encoder.encode = timed_encode
        steps: dict[str, list[tuple[float, float, int, int]]] = {}

        def step(label: str) -> None:
            encoding[0] = 0.0
            started = time.perf_counter()
            report = assistant.update_index()
            seconds = time.perf_counter() - started
            segments = assistant.index.describe()["segments"]
            steps.setdefault(label, []).append((seconds, encoding[0], report.embedded, segments))
            assistant.close()

        step("fresh index")
        for round_ in range(args.rounds):
            step("unchanged")
            for path in files[:10]:
                os.utime(path)
            step("10 files touched")
            for path in files[10 + 5 * round_ : 15 + 5 * round_]:
                with open(path, "a", encoding="utf-8") as handle:
                    handle.write(f"\nThe figures were revised on day {round_} of the review.\n")
            step("5 articles modified")
            for i, path in enumerate(files[100 + 10 * round_ : 110 + 10 * round_]):
                shutil.copy(path, corpus / f"added-{round_}-{i}.txt")
                with open(corpus / f"added-{round_}-{i}.txt", "a", encoding="utf-8") as handle:
                    handle.write(f"\nThis copy was filed as report {round_}-{i} of the desk.\n")
            step("10 articles added")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nBBC updates, {len(files):,} articles, median of {args.rounds}, {os.cpu_count()} CPUs, load {load}")
    print("| step | seconds | of which encoding | sentences embedded | segments after |\n|---|---|---|---|---|")
    for label, runs in steps.items():
        seconds, encoding_s = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f"| {label} | {seconds:.2f} | {encoding_s:.2f} | {runs[0][2]:,} | {runs[-1][3]} |")


if __name__ == "__main__":
    main()
