"""Encoding throughput of the two backends on SQuAD sentences, in one process, same texts.

.venv/bin/python bench/embed_throughput.py [--sentences 1000]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from embeddings import DEFAULT_MODEL, load_embedder
from embeddings.onnx import OnnxEmbedder
from embeddings.sentence_transformer import SentenceTransformerEmbedder
from qa.sentences import split_sentences

SQUAD = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "squad-v1.1-dev-half.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=1000)
    args = parser.parse_args()
    data = json.loads(SQUAD.read_text(encoding="utf-8"))
    texts = [s.text for a in data["data"] for p in a["paragraphs"] for s in split_sentences(p["context"])]
    texts = texts[: args.sentences]
    backends = [("sentence-transformers (torch)", SentenceTransformerEmbedder(DEFAULT_MODEL))]
    onnx = load_embedder()
    if isinstance(onnx, OnnxEmbedder):
        backends.append(("ONNX export (onnxruntime)", onnx))
    print(f"{len(texts)} SQuAD sentences, {sum(map(len, texts)) / len(texts):.0f} characters on average")
    print(f"{'backend':<32} {'seconds':>8} {'sentences/s':>12}")
    for label, embedder in backends:
        embedder.encode(texts[:8])  # load and warm up outside the timing
        started = time.perf_counter()
        embedder.encode(texts)
        elapsed = time.perf_counter() - started
        print(f"{label:<32} {elapsed:8.2f} {len(texts) / elapsed:12.1f}")


if __name__ == "__main__":
    main()
