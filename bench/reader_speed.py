"""How long the reader takes to read what the answer step gives it, and whether a candidate reads the same alone.

    .venv/bin/python bench/reader_speed.py [--reader DIR ...] [--threads 1] [--rounds 3]

The BBC dev questions are asked once with the shipped reader, recording each batch of candidates (question,
sentences, contexts) the answer step reads. Each reader (default: the shipped one; give --reader more than once,
an earlier export say, to compare) then reads those batches again, the readers alternating round by round so
that they share the machine's state. Printed per reader: the time of one `Reader.read` (p50 and p95 in ms; it
reads each candidate alone, unpadded, --threads at once), and on the same batches the largest move of a
candidate's probability between one run of the padded batch and being read alone, and the share of batches
whose best candidate changes with it: whether the model file makes a candidate depend on the others.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from qa.eval.datasets import load_dataset
from qa.pipeline import Assistant
from qa.reader.encoding import encode
from qa.reader.model import MODEL_DIR, Reader

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "bench"

Batch = tuple[str, list[str], list[str]]


class RecordingReader(Reader):
    """The shipped reader, keeping every batch it is asked to read."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[Batch] = []

    def read(self, question: str, sentences: list[str], contexts: list[str]):
        self.batches.append((question, list(sentences), list(contexts)))
        return super().read(question, sentences, contexts)


def recorded_batches() -> list[Batch]:
    assistant = Assistant(corpus=SHARED / "bbc")
    assistant.ensure_index()
    recording = RecordingReader()
    assistant._reader = recording  # the bench watches what the answer step reads
    for question in load_dataset(SHARED / "bbc-dev.jsonl").questions:
        assistant.ask(question.question)
    return [b for b in recording.batches if len(b[1]) > 1]


def padded_batch(reader: Reader, question: str, sentences: list[str], contexts: list[str]) -> list[float]:
    """The candidates' probabilities from one run of the padded batch: Reader.read runs each row alone, so this is
    what shows whether the model file itself makes a row depend on the others."""
    encoded = encode(reader.tokenizer, [question] * len(sentences), sentences, contexts)
    answer = reader.session.run(None, encoded.feeds())[0]
    calibration = reader.manifest["calibration"]
    return list(1.0 / (1.0 + np.exp(-(calibration["a"] * answer + calibration["b"]))))


def batch_dependence(reader: Reader, batches: list[Batch]) -> tuple[float, float]:
    """The largest probability move between a candidate read in one padded batch and alone; the share of batches
    whose best candidate is another when each is read alone."""
    moved, changed = 0.0, 0
    for question, sentences, contexts in batches:
        together = padded_batch(reader, question, sentences, contexts)
        alone = [r.probability for r in reader.read(question, sentences, contexts)]
        moved = max(moved, max(abs(a - b) for a, b in zip(together, alone, strict=True)))
        changed += int(np.argmax(together) != np.argmax(alone))
    return moved, changed / len(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reader", type=Path, action="append", help="a reader's folder (default: the shipped one)")
    parser.add_argument("--threads", type=int, default=1, help="candidates read at once (a serve worker's share: 1)")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the recorded batches per reader")
    args = parser.parse_args()
    folders = args.reader or [MODEL_DIR]
    batches = recorded_batches()
    readers = [Reader(folder, threads=args.threads) for folder in folders]
    for reader in readers:
        reader.load()
    times: list[list[float]] = [[] for _ in readers]
    for round_ in range(args.rounds):
        order = range(len(readers)) if round_ % 2 == 0 else reversed(range(len(readers)))
        for i in order:
            for question, sentences, contexts in batches:
                started = time.perf_counter()
                readers[i].read(question, sentences, contexts)
                times[i].append((time.perf_counter() - started) * 1000)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{len(batches)} batches of the BBC dev questions, {args.threads} thread(s), load average {load}")
    print(f"{'reader':40} {'p50 ms':>7} {'p95 ms':>7} {'alone vs batch: max move':>25} {'best changes':>13}")
    for folder, reader, taken in zip(folders, readers, times, strict=True):
        moved, changed = batch_dependence(reader, batches)
        name = str(folder)[-40:]
        p50, p95 = np.percentile(taken, 50), np.percentile(taken, 95)
        print(f"{name:40} {p50:7.1f} {p95:7.1f} {moved:25.4f} {changed:13.1%}")


if __name__ == "__main__":
    main()
