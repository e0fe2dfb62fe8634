"""Encoding throughput on SQuAD sentences, in one process, same texts: sentence-transformers, and the ONNX
export with fp32 and with int8 weights, in alternating rounds (the machine is shared and noisy), against the
fp32 compute floor measured in the same rounds.

.venv/bin/python bench/embed_throughput.py [--sentences 1000] [--rounds 3]

The floor: this machine's fp32 matrix-multiply rate (a 2048 x 2048 product with numpy's BLAS on every core,
timed between the encoders) divided by the model's FLOPs per sentence, counted from its config for the
sentences' real token counts (no padding): per token and layer 8d^2 for the attention projections, 4di for the
feed-forward, 4Ld for attention over L tokens. An fp32 encoder cannot beat it; int8 can, its products being
integer ones.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from embeddings import DEFAULT_MODEL, load_embedder
from embeddings.base import model_location
from embeddings.sentence_transformer import SentenceTransformerEmbedder
from qa.paths import cache_root
from qa.text.sentences import split_sentences

SQUAD = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "squad-v1.1-dev-half.json"


def matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    """The best fp32 GFLOP/s of numpy's matrix product over a few repeats."""
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((size, size), dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def flops_per_sentence(token_counts: list[int]) -> float:
    """The model's mean forward-pass FLOPs per sentence, from its config (BERT-style encoder)."""
    config = json.loads((Path(model_location(DEFAULT_MODEL)) / "config.json").read_text())
    d, inner, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    per_sentence = [layers * n * (8 * d * d + 4 * d * inner + 4 * n * d) for n in token_counts]
    return float(np.mean(per_sentence))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = json.loads(SQUAD.read_text(encoding="utf-8"))
    texts = [s.text for a in data["data"] for p in a["paragraphs"] for s in split_sentences(p["context"])]
    texts = texts[: args.sentences]
    backends = {
        "sentence-transformers (torch)": SentenceTransformerEmbedder(DEFAULT_MODEL),
        "ONNX fp32": load_embedder(export_root=cache_root() / "onnx", precision="fp32"),
        "ONNX int8": load_embedder(export_root=cache_root() / "onnx", precision="int8"),
    }
    rates: dict[str, list[float]] = {label: [] for label in backends}
    floor = "fp32 compute floor"
    rates[floor] = []
    for embedder in backends.values():
        embedder.encode(texts[:8])  # load and warm up outside the timing
    tokens = [n + 2 for n in backends["ONNX fp32"].count_tokens(texts)]  # with [CLS] and [SEP]
    flops = flops_per_sentence(tokens)
    for _ in range(args.rounds):
        for label, embedder in backends.items():
            started = time.perf_counter()
            embedder.encode(texts)
            rates[label].append(len(texts) / (time.perf_counter() - started))
        rates[floor].append(matmul_gflops() * 1e9 / flops)
    print(
        f"{len(texts)} SQuAD sentences, {sum(map(len, texts)) / len(texts):.0f} characters on average, "
        f"{args.rounds} alternating rounds, {os.cpu_count()} CPUs; {np.mean(tokens):.1f} tokens and "
        f"{flops / 1e6:.0f} MFLOP a sentence"
    )
    print(f"{'backend':<32} {'sentences/s (median)':>21} {'rounds':>24}")
    for label, values in rates.items():
        print(f"{label:<32} {statistics.median(values):21.1f} {' '.join(f'{v:.0f}' for v in values):>24}")
    print("load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
