"""The fast path: the same model exported to ONNX once, then run with onnxruntime and tokenizers.

Importing sentence-transformers costs seconds (torch, transformers); onnxruntime and tokenizers load in a
fraction of one. The first time a model is loaded through sentence-transformers, citeqa exports it here,
checks the export against the original on probe texts, and keeps it only if they agree to 1e-4. Every later
process encodes with the export, so a one-shot `citeqa ask` does not pay for torch at all.
Only local model folders with mean or CLS pooling take this path; anything else stays on sentence-transformers,
with a one-line ExportRefused warning that says why.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
import warnings
from collections.abc import Callable, Sequence
from contextlib import suppress
from functools import cached_property
from pathlib import Path

import numpy as np

from embeddings import offline
from embeddings.base import ProgressFn, token_batches
from embeddings.errors import ExportRefused

EXPORT_FORMAT = 1
TOLERANCE = 1e-4
PRECISIONS = ("fp32", "int8")
MODEL_FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}
# int8 cannot match fp32 to 1e-4; it must agree where it matters, by margins no near-tie can flip (see
# `int8_disagreement`). Measured with onnxruntime 1.32.0 on the probes below: a faithful quantization (per-channel
# scales) has every vector at cosine >= 0.990 from fp32's, question-passage scores within 0.026 of fp32's and a
# rank correlation of 0.990; per-tensor scales, which lose too much, 0.938 and 0.962.
INT8_MIN_COSINE = 0.98
# Where fp32's best passage for a question leads its runner-up by this much, int8's best must be the same one.
# Scores move by at most 0.026 under a faithful quantization, so a lead of 0.1 cannot be overturned by one; a
# closer race is a near-tie that either answer may win, and it is judged by the rank correlation alone.
INT8_CLEAR_LEAD = 0.1
# Spearman's correlation between fp32's and int8's scores over every (question, passage) pair of the probes.
INT8_MIN_RANK_CORRELATION = 0.97
RETRIEVAL_PASSAGES = (
    "The central bank raised interest rates by half a percentage point on Thursday.",
    "Shares in the carmaker fell 8% after it warned that profits would be lower this year.",
    "The striker scored twice as the home side won the cup final 3-1.",
    "Heavy rain flooded hundreds of homes in the north of the country.",
    "The minister said the new law would cut hospital waiting lists within two years.",
    "Astronomers found water vapour in the atmosphere of a distant planet.",
    "The film won best picture at the awards ceremony in Los Angeles.",
    "Unions called a national strike over pay and pensions for next month.",
    "The software company agreed to buy its rival for $6bn in cash.",
    "Police arrested three men after a bank robbery in the city centre.",
    "The band announced a world tour to mark its 20th anniversary.",
    "Scientists warned that the glacier is melting faster than expected.",
)
RETRIEVAL_QUESTIONS = (
    "How much did interest rates go up?",
    "Why did the carmaker's shares drop?",
    "Who won the cup final?",
    "What did the astronomers discover?",
    "How much will the software company pay for its rival?",
    "When will the national strike take place?",
)
# Small batches of length-sorted texts measured fastest on 2 CPU cores (71 sentences/s at 8, 57 at 32, 44 at 128);
# batches are cut by tokens (rows x longest text), so short texts go in more rows, long ones in fewer.
BATCH_SIZE = 16
BATCH_TOKENS = 256
PROBES = (
    "Who did Unification Minister Lee In-young meet?",
    "A short one.",
    "Despite a rising controversy over the possible violation of global sanctions, key officials have "
    "reaffirmed the President’s pro-engagement policy with North Korea this year. " * 3,
)
_POOLING = {"mean", "cls"}
# sentence-transformers 3.x-5.x describe pooling with one flag per mode; 6.x with a `pooling_mode` name.
_POOLING_FLAGS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}


def fast_path_enabled() -> bool:
    return os.environ.get("CITEQA_ONNX", "1") != "0"


def pooling_of(config: dict) -> tuple[str | None, int | None]:
    """The pooling mode and output dimension from a Pooling module's config, in either generation's keys."""
    mode = config.get("pooling_mode")
    if mode is None:
        modes = [name for flag, name in _POOLING_FLAGS.items() if config.get(flag)]
        mode = "+".join(modes) or None
    dim = config.get("embedding_dimension") or config.get("word_embedding_dimension")
    return mode, (int(dim) if dim else None)


def export_dir(root: Path, model_id: str, location: str) -> Path | None:
    """Where under `root` the export of a local model folder lives; keyed by the folder's files so edits
    invalidate it. None for a model that is not a local folder."""
    folder = Path(location)
    if not folder.is_dir():
        return None
    facts = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file())
    key = hashlib.sha1(json.dumps([EXPORT_FORMAT, model_id, str(folder), facts]).encode()).hexdigest()[:16]
    return root / key


class OnnxEmbedder:
    """Encodes with an exported model: fp32 gives sentence-transformers' vectors (checked at export time); int8
    the quantized copy's, checked against fp32 when it was made (see `ensure_int8`)."""

    def __init__(self, model_id: str, directory: Path, precision: str = "fp32", model_file: str | None = None) -> None:
        self.model_id = model_id
        self.directory = directory
        self.precision = precision
        self.model_file = model_file or MODEL_FILES[precision]
        self.config = json.loads((directory / "config.json").read_text())

    @cached_property
    def session(self):
        """The session for a few texts (a question): its idle threads sleep. A spinning pool took the CPU from
        the search that follows a question's encoding on two cores (exact search of BBC's vectors 6 ms alone,
        18 ms right after a run)."""
        return self._load_session(spinning=False)

    @cached_property
    def bulk_session(self):
        """The session for many texts (indexing): its threads spin between runs, 8% more sentences a second
        on two cores (195 → 212). A second session costs little: the weights are mapped, not copied."""
        return self._load_session(spinning=True)

    def _load_session(self, spinning: bool):
        """The session of the export's model, through its saved optimized copy (`optimized-PRECISION/`); a model
        being checked (`ensure_int8`) is loaded as it is."""
        model = self.directory / self.model_file
        if self.model_file != MODEL_FILES[self.precision]:
            return _session(model, offline.onnxruntime().GraphOptimizationLevel.ORT_ENABLE_EXTENDED, spinning)
        return saved_optimized_session(model, self.directory / f"optimized-{self.precision}", spinning)

    def _load_tokenizer(self, truncate: bool):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.directory / "tokenizer.json"))
        tokenizer.no_padding()
        if truncate:  # as sentence-transformers does: the special tokens stay, the text is cut
            tokenizer.enable_truncation(self.max_tokens)
        else:
            tokenizer.no_truncation()
        return tokenizer

    @cached_property
    def tokenizer(self):
        """For encoding: truncates to the model's limit."""
        return self._load_tokenizer(truncate=True)

    def loaded_tokenizer(self):
        """The encoding tokenizer if it is loaded already, else None (without loading it): the reader may share it."""
        return self.__dict__.get("tokenizer")

    @cached_property
    def counting_tokenizer(self):
        """For chunk budgets: counts every token of the text."""
        return self._load_tokenizer(truncate=False)

    @property
    def dim(self) -> int:
        return int(self.config["dim"])

    @property
    def max_tokens(self) -> int:
        return int(self.config["max_tokens"])

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self.counting_tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def encode(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray:
        """L2-normalised float32 rows in the order given. Texts are tokenized first and batched by token count,
        so that a batch holds texts of nearly one length and little compute goes to padding."""
        encodings = self.tokenizer.encode_batch(list(texts))
        out = np.zeros((len(encodings), self.dim), dtype=np.float32)
        session = self.bulk_session if len(texts) > BATCH_SIZE else self.session
        for rows in token_batches([len(e.ids) for e in encodings], BATCH_TOKENS, BATCH_SIZE):
            out[rows] = self._encode_batch(session, [encodings[i] for i in rows])
            if progress:
                progress(len(rows))
        return out

    def _encode_batch(self, session, encodings: list) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        pads = {"input_ids": self.config["pad_id"], "attention_mask": 0, "token_type_ids": 0}
        columns = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}
        feeds = {
            name: np.array(
                [getattr(e, columns[name]) + [pads[name]] * (width - len(e.ids)) for e in encodings], dtype=np.int64
            )
            for name in self.config["inputs"]
        }
        mask = np.array([[1] * len(e.ids) + [0] * (width - len(e.ids)) for e in encodings], dtype=np.float32)
        hidden = session.run(None, feeds)[0]
        if self.config["pooling"] == "cls":
            pooled = hidden[:, 0]
        else:
            pooled = (hidden * mask[..., None]).sum(axis=1) / np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
        # citeqa's Embedder contract is unit vectors, whether or not the model ends in a Normalize module
        return (pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)).astype(np.float32)


def saved_optimized_session(
    model: Path, saved: Path, spinning: bool, threads: int | None = None, prepare: Callable | None = None
):
    """A session of `model` that loads fast: onnxruntime rewrites the graph (fusing attention, layer norms, GELU)
    and copies the weights out of the model file each time it loads one, 0.05–0.2 s of what a one-shot `ask` waits
    for. So the first load saves the rewritten graph with its weights in a separate file in the folder `saved`;
    later loads take the graph as it is and map the weights from the page cache. The rewrite is the one
    onnxruntime does online anyway (tests check the outputs), and `saved` is this machine's. Without room or
    permission to save, the session is made the slow way. `threads`: the threads of one run (None: one per
    core). `prepare(model)`: the model to optimize instead of the file (a path or serialized bytes), called only
    when there is no saved copy to load: the reader's weights made exact for this CPU."""
    onnxruntime = offline.onnxruntime()
    if (saved / "model.onnx").exists():
        try:
            disabled = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
            return _session(saved / "model.onnx", disabled, spinning, threads=threads)
        except Exception:  # a damaged copy (onnxruntime raises several types): made again below
            shutil.rmtree(saved, ignore_errors=True)
    level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    model = prepare(model) if prepare else model
    staged = saved.parent / f".{saved.name}-{uuid.uuid4().hex[:8]}"
    try:
        staged.mkdir(parents=True)
        session = _session(model, level, spinning, save_to=staged / "model.onnx", threads=threads)
    except Exception:  # a folder this user cannot write, or no room: this process goes without the saved copy
        shutil.rmtree(staged, ignore_errors=True)
        return _session(model, level, spinning, threads=threads)
    with suppress(OSError):  # atomic; fails when another process saved its copy first, which is as good
        staged.rename(saved)
    shutil.rmtree(staged, ignore_errors=True)  # left only when the rename failed
    return session


def _session(model: Path | str | bytes, level, spinning: bool, save_to: Path | None = None, threads: int | None = None):
    """An onnxruntime CPU session of a model file or a serialized model at an optimization level, its idle threads
    spinning or not, with `threads` threads a run (None: one per core), optionally saving the optimized graph."""
    onnxruntime = offline.onnxruntime()
    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    options.graph_optimization_level = level
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    if save_to is not None:  # the weights go to a file of their own, which later loads map instead of copying
        options.optimized_model_filepath = str(save_to)
        options.add_session_config_entry("session.optimized_model_external_initializers_file_name", "weights.data")
        options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    source = model if isinstance(model, bytes) else str(model)
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def ensure_int8(directory: Path, model_id: str) -> bool:
    """Make the int8 copy of an fp32 export once (dynamic, per-channel weights, MatMul only: per-tensor scales
    lose too much), and keep it only if it agrees with fp32; no torch is needed. False, with an ExportRefused
    warning saying why, when it does not."""
    target = directory / MODEL_FILES["int8"]
    if target.exists():
        return True
    staged = f".int8-{uuid.uuid4().hex[:8]}.onnx"
    try:
        quantize(directory / MODEL_FILES["fp32"], directory / staged)
        reason = int8_disagreement(OnnxEmbedder(model_id, directory), OnnxEmbedder(model_id, directory, "int8", staged))
        if reason is None:
            os.replace(directory / staged, target)
            return True
    except Exception as exc:  # onnxruntime's quantizer raises many types; each means "no int8 here"
        reason = f"quantization failed ({type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:160]})"
    finally:
        (directory / staged).unlink(missing_ok=True)
    warnings.warn(f"int8 encoder not set up for {model_id}: {reason}", ExportRefused, stacklevel=2)
    return False


def quantize(source: Path, target: Path, per_channel: bool = True) -> None:
    """Dynamic int8 quantization of the MatMul weights (per channel unless asked otherwise)."""
    offline.stay_offline()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # the quantizer logs advice to the root logger, i.e. the user's terminal
    try:
        quantize_dynamic(
            source, target, op_types_to_quantize=["MatMul"], per_channel=per_channel, weight_type=QuantType.QInt8
        )
    finally:
        logging.disable(logging.NOTSET)


def int8_disagreement(fp32: OnnxEmbedder, int8: OnnxEmbedder) -> str | None:
    """Why the int8 encoder cannot stand in for fp32, or None. Three criteria, none of which turns on a near-tie:
    every probe vector at cosine >= INT8_MIN_COSINE from fp32's; the same best passage for every probe question
    whose best passage leads by INT8_CLEAR_LEAD under fp32; and a rank correlation of all question-passage scores
    of at least INT8_MIN_RANK_CORRELATION (the order of near-random low scores may shuffle a little, not much)."""
    texts = [*PROBES, *RETRIEVAL_PASSAGES, *RETRIEVAL_QUESTIONS]
    exact, quantized = fp32.encode(texts), int8.encode(texts)
    cosine = float(np.min(np.sum(exact * quantized, axis=1)))
    if cosine < INT8_MIN_COSINE:
        return f"a probe's vector is at cosine {cosine:.3f} from fp32's (at least {INT8_MIN_COSINE} needed)"
    passages = slice(len(PROBES), len(PROBES) + len(RETRIEVAL_PASSAGES))
    questions = slice(passages.stop, None)
    before, after = (v[questions] @ v[passages].T for v in (exact, quantized))
    ordered = np.sort(before, axis=1)
    clear = ordered[:, -1] - ordered[:, -2] >= INT8_CLEAR_LEAD
    moved = clear & (before.argmax(axis=1) != after.argmax(axis=1))
    if moved.any():
        return f"it retrieves another best passage for {int(moved.sum())} probe question(s) that fp32 answers clearly"
    correlation = _rank_correlation(before.ravel(), after.ravel())
    if correlation < INT8_MIN_RANK_CORRELATION:
        return f"its passage scores rank at {correlation:.3f} from fp32's (at least {INT8_MIN_RANK_CORRELATION} needed)"
    return None


def _rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho (float scores: ties do not occur in practice, and would only lower it by a hair)."""
    ranks_a, ranks_b = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


def export(model, model_id: str, target: Path) -> bool:
    """Export a loaded SentenceTransformer to `target`; False (nothing written, an ExportRefused warning saying
    why) when it cannot be done faithfully: an unusual module stack, a slow tokenizer, or vectors that disagree."""
    reason = _unsupported(model)
    if reason is None:
        try:
            reason = _export(model, model_id, target)
        except Exception as exc:  # torch.onnx and onnxruntime raise many types; each means "no fast path"
            reason = f"the export failed ({type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:160]})"
    if reason is not None:
        warnings.warn(
            f"ONNX fast path not set up for {model_id}: {reason}; encoding with sentence-transformers",
            ExportRefused,
            stacklevel=2,
        )
        return False
    return True


def _unsupported(model) -> str | None:
    """Why a model's module stack cannot be exported faithfully, or None."""
    modules = list(model)
    pooling, dim = pooling_of(modules[1].get_config_dict()) if len(modules) > 1 else (None, None)
    if len(modules) not in (2, 3) or type(modules[0]).__name__ != "Transformer":
        return f"its modules are {', '.join(type(m).__name__ for m in modules)}, not Transformer and Pooling"
    if len(modules) == 3 and type(modules[2]).__name__ != "Normalize":
        return f"its third module is {type(modules[2]).__name__}, not Normalize"
    if pooling not in _POOLING or dim is None:
        return f"its pooling is {pooling or 'unknown'} (the fast path does {' and '.join(sorted(_POOLING))})"
    if not hasattr(model.tokenizer, "backend_tokenizer"):
        return "its tokenizer is not a fast (Rust) tokenizer"
    return None


def _export(model, model_id: str, target: Path) -> str | None:
    """Write and verify the export; the reason it was not kept, or None once it is in place."""
    import torch

    modules = list(model)
    pooling, dim = pooling_of(modules[1].get_config_dict())
    inputs = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in model.tokenizer.model_input_names]
    transformer = modules[0].auto_model

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *tensors):
            return self.transformer(**dict(zip(inputs, tensors, strict=True))).last_hidden_state

    sample = model.tokenizer(list(PROBES[:2]), padding=True, return_tensors="pt")
    temp = target.with_name(f"tmp-{uuid.uuid4().hex[:8]}")
    temp.mkdir(parents=True)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                LastHiddenState().eval(),
                tuple(sample[n] for n in inputs),
                str(temp / "model.onnx"),
                input_names=inputs,
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*inputs, "last_hidden_state"]},
                opset_version=17,
                dynamo=False,
            )
        model.tokenizer.backend_tokenizer.save(str(temp / "tokenizer.json"))
        config = {
            "format": EXPORT_FORMAT,
            "model": model_id,
            "pooling": pooling,
            "pad_id": int(model.tokenizer.pad_token_id or 0),
            "dim": dim,
            "max_tokens": int(model.max_seq_length),
            "inputs": inputs,
        }
        (temp / "config.json").write_text(json.dumps(config, indent=2))
        expected = model.encode(list(PROBES), normalize_embeddings=True, convert_to_numpy=True)
        difference = float(np.abs(OnnxEmbedder(model_id, temp).encode(list(PROBES)) - expected).max())
        if difference > TOLERANCE:
            return f"its vectors differ from sentence-transformers' by {difference:.1e} (more than {TOLERANCE:g})"
        os.rename(temp, target)
        return None
    finally:
        shutil.rmtree(temp, ignore_errors=True)
