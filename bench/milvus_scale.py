"""A million sentence vectors in Milvus Lite against FAISS flat, the local backend's index: insert time, search
p50/p95 for a question (the 300 nearest sentences, as citeqa asks) and peak memory, in one process.

    .venv/bin/python bench/milvus_scale.py [--vectors 1000000] [--queries 100] [--index FLAT|HNSW]

The vectors are synthetic (random unit vectors of dimension 384, the bundled model's), which is what this
measures: the vector part at scale, not answer quality. Searches alternate between the two engines.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

DIM = 384
BATCH = 10_000
LIMIT = 300


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIM), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--index", default="FLAT", choices=("FLAT", "HNSW"))
    args = parser.parse_args()
    import faiss
    from pymilvus import DataType, MilvusClient

    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as folder:
        client = MilvusClient(str(Path(folder) / "scale.db"))
        schema = MilvusClient.create_schema(auto_id=False)
        schema.add_field("row", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
        index = client.prepare_index_params()
        params = {"M": 32, "efConstruction": 200} if args.index == "HNSW" else {}
        index.add_index(field_name="vector", index_type=args.index, metric_type="IP", params=params)
        client.create_collection("scale", schema=schema, index_params=index)
        milvus_insert = faiss_insert = 0.0
        for start in range(0, args.vectors, BATCH):
            block = unit_vectors(np.random.default_rng(start), min(BATCH, args.vectors - start))
            began = time.perf_counter()
            client.insert("scale", [{"row": start + i, "vector": v} for i, v in enumerate(block.tolist())])
            milvus_insert += time.perf_counter() - began
        began = time.perf_counter()
        client.flush("scale")
        client.load_collection("scale")
        milvus_insert += time.perf_counter() - began
        milvus_rss = current_rss_mib()
        flat = faiss.IndexFlatIP(DIM)
        for start in range(0, args.vectors, BATCH):  # the same vectors again, from the same seeds
            block = unit_vectors(np.random.default_rng(start), min(BATCH, args.vectors - start))
            began = time.perf_counter()
            flat.add(block)
            faiss_insert += time.perf_counter() - began
        queries = unit_vectors(rng, args.queries)
        search_params = {"params": {"ef": 512}} if args.index == "HNSW" else None
        warm = [queries[0].tolist()]
        client.search("scale", data=warm, anns_field="vector", limit=LIMIT, search_params=search_params)
        times: dict[str, list[float]] = {"Milvus Lite": [], "FAISS flat": []}
        recall = []
        for query in queries:
            began = time.perf_counter()
            hits = client.search(
                "scale", data=[query.tolist()], anns_field="vector", limit=LIMIT, search_params=search_params
            )
            times["Milvus Lite"].append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            _, exact = flat.search(query.reshape(1, -1), LIMIT)
            times["FAISS flat"].append((time.perf_counter() - began) * 1000)
            found = {h["row"] if "row" in h else h["id"] for h in hits[0]}
            recall.append(len(found & set(exact[0].tolist())) / LIMIT)
        client.close()
    print(f"{args.vectors:,} vectors of dimension {DIM}, Milvus Lite index {args.index}, {args.queries} queries")
    print(f"{'engine':<12} {'insert s':>9} {'search p50 ms':>14} {'p95 ms':>8}")
    for engine, spent in (("Milvus Lite", milvus_insert), ("FAISS flat", faiss_insert)):
        p95 = statistics.quantiles(times[engine], n=20)[-1]
        print(f"{engine:<12} {spent:>9.1f} {statistics.median(times[engine]):>14.1f} {p95:>8.1f}")
    print(f"Milvus Lite recall of FAISS's {LIMIT} nearest: {statistics.mean(recall):.3f}")
    print(f"memory: {milvus_rss:,.0f} MiB with Milvus Lite loaded; peak {peak_rss_mib():,.0f} MiB with FAISS too")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
