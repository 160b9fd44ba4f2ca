"""Approximate dense search: the recall@10 an HNSW index keeps against the exact (flat) index, and the time per
query of each, on real passages and questions; then how search time grows with the corpus. Prints; asserts
nothing.

    .venv/bin/python benchmarks/bench_ann.py --index var/eval/<gov_reports index> \
        --questions data/questions/bank_test.jsonl [--sizes 100000,300000,1000000]

Part 1 (real): the vectors of a built index and the questions of a question file, embedded with the default
model. The exact index is the baseline, run in the same process: recall@10 = the share of the exact top 10
that HNSW returns, per efSearch. Part 2 (synthetic, for scale): the real vectors tiled with small Gaussian noise
and renormalised up to each size; it measures time (the shape of the data matters little for a flat scan and
somewhat for HNSW), and its recall is printed for reference only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.index.faiss_dense import HNSW_EF_CONSTRUCTION, HNSW_M  # noqa: E402

EF_SEARCH = (16, 32, 64, 128, 256)
K = 10


def per_query_ms(index, queries: np.ndarray, params=None) -> tuple[float, np.ndarray]:
    """Mean ms per query, one query at a time (as the chat asks), and the ids found."""
    ids = np.empty((len(queries), K), dtype=np.int64)
    start = time.perf_counter()
    for i, q in enumerate(queries):
        _, found = index.search(q[None, :], K, params=params) if params is not None else index.search(q[None, :], K)
        ids[i] = found[0]
    return (time.perf_counter() - start) * 1000 / len(queries), ids


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e)) / K for f, e in zip(found, exact)]))


def compare(vectors: np.ndarray, queries: np.ndarray, label: str) -> None:
    import faiss

    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    flat_ms, exact = per_query_ms(flat, queries)
    start = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    hnsw.add(vectors)
    build_s = time.perf_counter() - start
    print(f"\n{label}: {len(vectors):,} vectors, {len(queries)} queries; flat {flat_ms:.2f} ms/query "
          f"(the baseline); HNSW M={HNSW_M} built in {build_s:.1f} s")
    print(f"{'efSearch':>9}{'recall@10':>11}{'ms/query':>10}{'speed-up vs flat':>18}")
    for ef in EF_SEARCH:
        ms, found = per_query_ms(hnsw, queries, faiss.SearchParametersHNSW(efSearch=ef))
        print(f"{ef:>9}{recall(found, exact):>11.3f}{ms:>10.2f}{flat_ms / ms:>17.1f}x")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--index", required=True, help="a built index folder (rag ingest / rag eval)")
    p.add_argument("--questions", required=True, help="a .jsonl with a 'question' field per line")
    p.add_argument("--sizes", default="100000,300000,1000000", help="synthetic corpus sizes (comma-separated)")
    p.add_argument("--threads", type=int, default=1, help="FAISS threads (1: one query per core, as a server)")
    args = p.parse_args()

    import faiss

    from embeddings import make_embedder
    from rag.config import load_settings
    from rag.index import load_index

    faiss.omp_set_num_threads(args.threads)
    store = load_index(args.index)
    vectors = store.dense.vectors(range(store.dense.ntotal))
    questions = [json.loads(line)["question"] for line in Path(args.questions).read_text(encoding="utf-8").splitlines() if line.strip()]
    queries = make_embedder(load_settings().embedding).encode_queries(questions)
    compare(vectors, queries, f"real passages ({Path(args.index).name})")
    rng = np.random.default_rng(0)
    for size in (int(s) for s in args.sizes.split(",") if s):
        tiles = -(-size // len(vectors))
        big = np.vstack([vectors + rng.normal(0, 0.02, vectors.shape).astype(np.float32) for _ in range(tiles)])[:size]
        big /= np.linalg.norm(big, axis=1, keepdims=True)
        compare(np.ascontiguousarray(big, dtype=np.float32), queries, "synthetic (real vectors tiled with noise)")


if __name__ == "__main__":
    main()
