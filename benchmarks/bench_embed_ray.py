"""Benchmark: the ingest's embedding stage on Ray Data (``embedding.engine = "ray"``) vs in the process, same passages.

In: a folder of reports (default: ../shared/corpora/gov_reports/docs), sampled as ``bench_embed.py`` does (the
exact texts ingest embeds). Out: printed passages/s of ``rag.embed_stage.embed_passages`` with no cache

* locally: the real default embedder, all cores;
* on Ray: a local Ray instance started once with every core, one single-threaded actor per core; each call
  starts its actor pool and loads one model per actor, as one ``rag ingest`` does (both are counted),

interleaved over ``--rounds`` (the machine is shared: only the ratio within one run means anything), with the
median ratio Ray / local, and whether the two gave identical vectors. Asserts nothing.

    .venv/bin/python benchmarks/bench_embed_ray.py [--passages 120] [--rounds 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora" / "gov_reports" / "docs")
    parser.add_argument("--passages", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import numpy as np
    import ray

    from bench_embed import sample_reports
    from embeddings import make_embedder
    from rag.config import load_settings
    from rag.embed_ray import job_runtime_env
    from rag.embed_stage import embed_passages

    local_settings = load_settings()
    ray_settings = load_settings(overrides={"embedding.engine": "ray"})
    files, texts = sample_reports(args.corpus, args.passages, local_settings)
    cores = len(os.sched_getaffinity(0))
    print(f"{len(texts)} passages from {len(files)} reports; {cores} cores; batch {local_settings.embedding.batch_size}")
    embedder = make_embedder(local_settings.embedding)
    embedder.encode_passages(["passage: warm-up"])  # the local model's load is not timed (a served app has it)
    ray.init(num_cpus=cores, include_dashboard=False, logging_level=logging.WARNING, runtime_env=job_runtime_env())
    dim, batch = embedder.describe().dim, local_settings.embedding.batch_size
    ratios, rows = [], []
    try:
        for r in range(args.rounds):
            started = time.perf_counter()
            local, _ = embed_passages(texts, embedder, None, dim, batch)
            local_rate = len(texts) / (time.perf_counter() - started)
            started = time.perf_counter()
            remote, _ = embed_passages(texts, embedder, None, dim, batch, ray_settings=ray_settings.embedding)
            ray_rate = len(texts) / (time.perf_counter() - started)
            same = bool(np.array_equal(local, remote))
            ratios.append(ray_rate / local_rate)
            rows.append((r + 1, local_rate, ray_rate, ratios[-1], same))
            print(f"round {r + 1}: local {local_rate:.2f}/s  ray {ray_rate:.2f}/s  ratio {ratios[-1]:.2f}  identical {same}")
    finally:
        ray.shutdown()
    print(f"median ratio ray / local: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
