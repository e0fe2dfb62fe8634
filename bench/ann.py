"""Approximate nearest-neighbour search on real sentence vectors: which index, with which settings, and above
which size citeqa should use it instead of exact (flat) search.

    .venv/bin/python bench/ann.py [--corpus ../shared/bench/bbc] [--sizes 43882,200000,1000000]

Vectors: every sentence of the corpus's citeqa index (built first if missing, fp32). Queries: the BBC dev
questions and, to have more, 380 of the corpus's sentences, each encoded by the bundled model. For each index
it prints the build time, recall@10 and recall@300 against exact search (citeqa asks FAISS for the 300 nearest
sentences), and single-query search p50/p95. Then, for the sizes given, exact search and the chosen
approximate index on vectors grown from the real ones (each a real vector plus a mix of another and noise,
normalised), to show where exact search gets too slow.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from qa.index.local.vectors import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "bench"
NEAREST = 300  # what qa.retrieve.retriever asks the dense index for


def real_vectors(corpus: Path):
    """The corpus's sentence vectors from its citeqa index, 380 of its sentences, and the Assistant."""
    from qa.pipeline import Assistant

    assistant = Assistant(corpus=corpus, precision="fp32")
    assistant.ensure_index()
    index = assistant.index
    rows = np.arange(index.counts["sentences"])
    texts = [s.text for s in index.sentences(rows[:: max(1, len(rows) // 380)][:380])]
    return index.sentence_matrix(rows).astype(np.float32), texts, assistant


def queries(assistant, sample_sentences: list[str]) -> np.ndarray:
    questions = [json.loads(line)["question"] for line in (SHARED / "bbc-dev.jsonl").read_text().splitlines()]
    return assistant.embedder.encode(questions + sample_sentences).astype(np.float32)


def filtered_rows(assistant, share: float, seed: int = 3) -> np.ndarray:
    """The sentence rows of a random set of articles holding about `share` of the sentences, as a filter by
    source or date would allow."""
    article_of = assistant.index.article_ids("sentences")
    articles = np.unique(article_of)
    chosen = np.random.default_rng(seed).choice(articles, int(share * len(articles)), replace=False)
    return np.flatnonzero(np.isin(article_of, chosen))


def grown(vectors: np.ndarray, size: int, seed: int = 5) -> np.ndarray:
    """`size` unit vectors near the real ones: a real vector, a fifth of another, a little noise."""
    rng = np.random.default_rng(seed)
    if size <= len(vectors):
        return vectors[:size]
    out = np.empty((size, vectors.shape[1]), dtype=np.float32)
    out[: len(vectors)] = vectors
    for start in range(len(vectors), size, 50_000):
        n = min(50_000, size - start)
        a, b = rng.integers(0, len(vectors), n), rng.integers(0, len(vectors), n)
        mixed = vectors[a] + 0.2 * vectors[b] + rng.normal(0, 0.02, (n, vectors.shape[1])).astype(np.float32)
        out[start : start + n] = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
    return out


def exact(vectors: np.ndarray):
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


def hnsw(vectors: np.ndarray, m: int, ef_construction: int):
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    index.add(vectors)
    return index


def ivf(vectors: np.ndarray, lists: int):
    import faiss

    quantizer = faiss.IndexFlatIP(vectors.shape[1])
    index = faiss.IndexIVFFlat(quantizer, vectors.shape[1], lists, faiss.METRIC_INNER_PRODUCT)
    index.train(vectors[np.random.default_rng(1).choice(len(vectors), min(len(vectors), lists * 64), replace=False)])
    index.add(vectors)
    return index


def search(index, questions: np.ndarray, params=None) -> tuple[np.ndarray, list[float]]:
    """Row ids of the NEAREST nearest per question, and each single query's seconds."""
    found, seconds = [], []
    for q in questions:
        started = time.perf_counter()
        _, rows = index.search(q.reshape(1, -1), NEAREST, params=params)
        seconds.append(time.perf_counter() - started)
        found.append(rows[0])
    return np.array(found), seconds


def recall(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth, strict=True)]))


def row(label: str, build: float, found, seconds, truth) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    return (
        f"| {label} | {build:.1f} | {recall(found, truth, 10):.3f} | {recall(found, truth, NEAREST):.3f} "
        f"| {statistics.median(ms):.2f} | {p95:.2f} |"
    )


def main() -> None:
    import faiss

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=SHARED / "bbc")
    parser.add_argument("--sizes", default="43882,200000,1000000")
    parser.add_argument("--skip-settings", action="store_true", help="only the sizes table")
    args = parser.parse_args()
    vectors, sample, assistant = real_vectors(args.corpus)
    questions = queries(assistant, sample)
    header = "| index | build s | recall@10 | recall@300 | p50 ms | p95 ms |\n|---|---|---|---|---|---|"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    if not args.skip_settings:
        print(f"\n{len(vectors):,} real sentence vectors, {len(questions)} queries, load {load}\n{header}")
        started = time.perf_counter()
        flat = exact(vectors)
        build = time.perf_counter() - started
        truth, seconds = search(flat, questions)
        print(row("flat (exact)", build, truth, seconds, truth))
        for m, ef_construction in ((16, 80), (32, 80), (32, 200)):
            started = time.perf_counter()
            index = hnsw(vectors, m, ef_construction)
            build = time.perf_counter() - started
            for ef_search in (64, 128, 320, 512):
                found, seconds = search(index, questions, faiss.SearchParametersHNSW(efSearch=ef_search))
                label = f"HNSW M={m} efConstruction={ef_construction} efSearch={ef_search}"
                print(row(label, build, found, seconds, truth))
        started = time.perf_counter()
        index = hnsw(vectors, HNSW_M, HNSW_EF_CONSTRUCTION)
        build = time.perf_counter() - started
        print(f"\nFiltered: a share of the articles allowed, HNSW M={HNSW_M} as citeqa builds it\n{header}")
        for share in (0.1, 0.3, 0.6):
            allowed = filtered_rows(assistant, share)
            selector_ids = np.asarray(allowed, dtype=np.int64)
            subset = exact(vectors[allowed])
            allowed_truth = allowed[search(subset, questions)[0]]  # exact search over the allowed sentences
            for effort in (HNSW_EF_SEARCH, int(HNSW_EF_SEARCH / share)):
                params = faiss.SearchParametersHNSW(efSearch=effort, sel=faiss.IDSelectorBatch(selector_ids))
                found, seconds = search(index, questions, params)
                label = f"{share:.0%} of the articles ({len(allowed):,} sentences), efSearch {effort}"
                print(row(label, build, found, seconds, allowed_truth))
        lists = int(4 * np.sqrt(len(vectors)))
        started = time.perf_counter()
        index = ivf(vectors, lists)
        build = time.perf_counter() - started
        for probes in (8, 16, 32, 64):
            found, seconds = search(index, questions, faiss.SearchParametersIVF(nprobe=probes))
            print(row(f"IVF lists={lists} nprobe={probes}", build, found, seconds, truth))
    print(f"\nBy size (grown from the real vectors), load {load}\n{header}")
    for size in (int(s) for s in args.sizes.split(",")):
        data = grown(vectors, size)
        started = time.perf_counter()
        flat = exact(data)
        build = time.perf_counter() - started
        truth, seconds = search(flat, questions)
        print(row(f"{size:,}: flat (exact)", build, truth, seconds, truth), flush=True)
        started = time.perf_counter()
        index = hnsw(data, 32, 80)
        build = time.perf_counter() - started
        found, seconds = search(index, questions, faiss.SearchParametersHNSW(efSearch=320))
        print(row(f"{size:,}: HNSW M=32 efConstruction=80 efSearch=320", build, found, seconds, truth), flush=True)
        del flat, index, data


if __name__ == "__main__":
    main()
