"""The reader at question time: the exported model (qa/reader/model/reader.onnx) run with onnxruntime and
tokenizers, no torch. It is not part of the index: a new reader never forces a re-index.

The answer logit is calibrated by the manifest's Platt scaling (fitted on the training data's validation split),
so `Reading.probability` is the reader's estimate that the sentence answers the question.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path

import numpy as np

from qa.cores import usable_cores
from qa.errors import CiteqaError, first_line
from qa.reader.encoding import (
    Encoded,
    best_span,
    can_read_with,
    encode,
    join_context,
    load_tokenizer,
    tokenizer_digest,
)

MODEL_DIR = Path(__file__).parent / "model"
MANIFEST_FORMAT = 1
# How the saved optimized graph is made; a new one saves the copies again: since 2026-12-04 the weights are unsigned
# where this CPU's int8 products saturate (qa.reader.quantize.exact_on_this_cpu)
COPY_FORMAT = b"exact products"
RETRAIN_HINT = "reinstall citeqa (bash scripts/setup.sh) or rebuild it with `python -m qa.reader.train`"


class ReaderError(CiteqaError):
    """The reader's model files are missing or damaged."""


@dataclass(frozen=True)
class Reading:
    """The reader's verdict on one candidate sentence."""

    probability: float  # calibrated: how likely the sentence answers the question
    logit: float
    span: tuple[int, int]  # the most likely answer, as characters of the sentence
    span_score: float  # its start + end logit


def context_text(context: tuple[str, ...], headline: bool) -> str:
    """What the reader sees before a candidate, as in training (qa.reader.data.context_of): the headline and the
    sentence before it; nothing for the headline itself."""
    if headline or not context:
        return ""
    title, earlier = context[0], context[1:]
    previous = earlier[-1] if earlier and earlier[-1].strip() != title.strip() else ""
    return join_context(title, previous)


def _stamp(path: Path) -> str:
    status = path.stat()
    return f"{status.st_size} {status.st_mtime_ns}"


def _write_atomic(path: Path, text: str) -> None:
    """Best effort: a cache file this user cannot write is only not remembered."""
    staged = path.with_name(f".{path.name}-{os.getpid()}")
    with suppress(OSError):
        staged.write_text(text, encoding="ascii")
        os.replace(staged, path)


def _forget_other_copies(kept: Path) -> None:
    """Remove the optimized graphs of other readers (23 MB each) beside `kept`: a new reader's first use is an
    upgrade's, and a reader used again (CITEQA_READER) saves its copy again in a tenth of a second."""
    import shutil

    for other in kept.parent.glob("optimized-*"):
        if other != kept:
            shutil.rmtree(other, ignore_errors=True)


class Reader:
    """Loads on first use; one instance serves every question of a process."""

    def __init__(
        self, directory: Path | None = None, threads: int | None = None, loaded_tokenizer: Callable | None = None
    ) -> None:
        """`directory` holds reader.onnx, tokenizer.json and manifest.json; default: $CITEQA_READER (a reader
        retrained elsewhere), else the one shipped in the package. `threads`: those of one reading (None: one
        per core; a server answering several questions at once gives each a share). `loaded_tokenizer`: gives
        a tokenizer the process has already loaded (the encoder's), or None; the reader reads with it when it
        is the reader's own tokenizer (a cold `ask` then parses one tokenizer file instead of two, 55 ms)."""
        self.directory = directory or Path(os.environ.get("CITEQA_READER") or MODEL_DIR)
        self.threads = threads
        self.loaded_tokenizer = loaded_tokenizer
        # Candidates one reading reads at once: `threads`, else one a core. The pool has a thread a core, so
        # readings of several questions at once (a server's workers sharing this reader) each get theirs.
        cores = usable_cores()
        self.parallel = threads or cores
        self._pool = ThreadPoolExecutor(cores, thread_name_prefix="citeqa-reader")  # threads start on use

    def _damaged(self, what: str) -> ReaderError:
        return ReaderError(f"the reader model in {self.directory} is {what}; {RETRAIN_HINT}")

    @cached_property
    def manifest(self) -> dict:
        path = self.directory / "manifest.json"
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            calibration = manifest["calibration"]
            float(calibration["a"]), float(calibration["b"])
        except FileNotFoundError:
            raise self._damaged("missing (no manifest.json)") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise self._damaged(f"damaged (manifest.json: {first_line(exc)})") from None
        if manifest.get("format") != MANIFEST_FORMAT:
            raise self._damaged(f"of another format ({manifest.get('format')!r}, not {MANIFEST_FORMAT})")
        return manifest

    @cached_property
    def session(self):
        from embeddings.onnx import saved_optimized_session
        from qa.reader.quantize import exact_on_this_cpu

        path = self.directory / self.manifest.get("model", "reader.onnx")
        if not path.is_file():
            raise self._damaged(f"missing ({path.name} not found)")
        if path.stat().st_size != self.manifest.get("bytes", path.stat().st_size):
            raise self._damaged(f"damaged ({path.name} is {path.stat().st_size} bytes, not {self.manifest['bytes']})")
        copy = self._optimized_copy()
        first_use = not copy.exists()
        try:
            # rows run in parallel, each on one thread
            session = saved_optimized_session(path, copy, spinning=False, threads=1, prepare=exact_on_this_cpu)
        except Exception as exc:  # onnxruntime raises several types for an unreadable model
            raise self._damaged(f"damaged ({path.name}: {first_line(exc)})") from None
        if first_use and copy.exists():
            _forget_other_copies(copy)
        return session

    def _optimized_copy(self) -> Path:
        """Where this machine keeps the reader's optimized graph (embeddings.onnx.saved_optimized_session: a cold
        `ask` opens it in a third of the time), named by the manifest, which a new reader changes, and by how the
        copy is made (COPY_FORMAT)."""
        from qa.paths import cache_root

        key = hashlib.sha256((self.directory / "manifest.json").read_bytes() + COPY_FORMAT).hexdigest()[:16]
        return cache_root() / "reader" / f"optimized-{key}"

    @cached_property
    def tokenizer(self):
        path = self.directory / "tokenizer.json"
        offered = self.loaded_tokenizer() if self.loaded_tokenizer else None
        # this reader's tokenizer_digest, once found, for its tokenizer.json of this size and time
        remembered = self._optimized_copy() / "tokenizer.sha256"
        if offered is not None and can_read_with(offered):
            with suppress(OSError):
                if remembered.read_text(encoding="ascii") == f"{tokenizer_digest(offered)} {_stamp(path)}":
                    return offered
        try:
            own = load_tokenizer(path)
        except Exception as exc:  # tokenizers raises its own exception type for a bad file
            raise self._damaged(f"missing or damaged (tokenizer.json: {first_line(exc)})") from None
        if remembered.parent.is_dir():  # made with the optimized graph, which the first reading saves
            _write_atomic(remembered, f"{tokenizer_digest(own)} {_stamp(path)}")
        return own

    def load(self) -> None:
        """Open the model now (the chat and servers do, so that the first question does not wait)."""
        self.read("warm-up", ["A sentence."], [""])

    def read(self, question: str, sentences: list[str], contexts: list[str]) -> list[Reading]:
        """A Reading for each candidate sentence (with its context, "" for none), in the order given. Each is read
        in a run of its own, unpadded and on one thread, `parallel` at once: on two cores 22.7 against 41.5 ms
        p50 for one padded batch of six on two threads, and on one thread a fifth less time than the batch.
        Activations are quantized per token, so a sentence reads the same either way (tested)."""
        if not sentences:
            return []
        session = self.session  # first: opening it saves the folder the tokenizer's digest is kept in
        encoded = encode(self.tokenizer, [question] * len(sentences), sentences, contexts)
        run = partial(_run_row, session, encoded)
        rows = range(len(sentences))
        shares = [rows[k :: self.parallel] for k in range(min(self.parallel, len(rows)))]
        if len(shares) > 1:
            outputs: list = [None] * len(rows)
            for share, done in zip(shares, self._pool.map(lambda share: [run(r) for r in share], shares), strict=True):
                for r, output in zip(share, done, strict=True):
                    outputs[r] = output
        else:
            outputs = [run(r) for r in rows]
        calibration = self.manifest["calibration"]
        readings = []
        for r, (answer, start, end) in zip(rows, outputs, strict=True):
            probability = 1.0 / (1.0 + np.exp(-(calibration["a"] * answer + calibration["b"])))
            first, offsets = int(encoded.sentence_first[r]), encoded.offsets[r]
            if offsets:
                i, j, score = best_span(start[first : first + len(offsets)], end[first : first + len(offsets)])
                span = (offsets[i][0], offsets[j][1])
            else:
                span, score = (0, 0), float("-inf")
            readings.append(Reading(float(probability), answer, span, score))
        return readings


def _run_row(session, encoded: Encoded, row: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Row `row` of a padded batch read alone, without its padding: its answer logit and start and end logits."""
    length = int(encoded.attention_mask[row].sum())
    feeds = {name: rows[row : row + 1, :length] for name, rows in encoded.feeds().items()}
    answer, start, end = session.run(None, feeds)
    return float(answer[0]), start[0], end[0]
