"""Benchmark: cold ingest of the bundled reports, restart (load) time, warm query latency, incremental add.

Prints figures; asserts nothing (speed targets live here, not in tests).
    .venv/bin/python benchmarks/bench_core.py [--reports DIR] [--questions FILE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", default=str(ROOT / "data" / "reports"))
    parser.add_argument("--questions", default=str(ROOT / "tests" / "data" / "extra_questions.jsonl"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from embeddings import make_embedder
    from rag.config import load_settings
    from rag.ingest import ingest
    from rag.pipeline import Assistant

    settings = load_settings()
    embedder = make_embedder(settings.embedding)
    embedder.encode_queries(["warm up"])  # model load is not ingest time
    work = Path(tempfile.mkdtemp())
    try:
        reports = work / "reports"
        shutil.copytree(args.reports, reports)
        files = sorted(reports.glob("*"))
        held_out = files[-1]
        held_out.rename(work / held_out.name)

        t = time.perf_counter()
        full = ingest(args.reports, work / "full-index", settings, embedder)
        full_s = time.perf_counter() - t
        t = time.perf_counter()
        cold = ingest(reports, work / "index", settings, embedder)
        cold_s = time.perf_counter() - t
        shutil.move(str(work / held_out.name), reports / held_out.name)
        t = time.perf_counter()
        inc = ingest(reports, work / "index", settings, embedder)
        inc_s = time.perf_counter() - t
        t = time.perf_counter()
        noop = ingest(reports, work / "index", settings, embedder)
        noop_s = time.perf_counter() - t

        t = time.perf_counter()
        assistant = Assistant(work / "index", settings, embedder)
        load_s = time.perf_counter() - t
        questions = [json.loads(l)["question"] for l in Path(args.questions).read_text(encoding="utf-8").splitlines() if l.strip()]
        assistant.ask(questions[0])  # jieba and caches warm
        latencies = []
        for _ in range(args.repeat):
            for q in questions:
                t = time.perf_counter()
                assistant.ask(q)
                latencies.append(time.perf_counter() - t)
        latencies.sort()
        p50 = statistics.median(latencies)
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        chars = sum(len(d.text) for d in assistant.store.docs)
        print(f"corpus: {len(assistant.store.docs)} reports, {chars} characters, {len(assistant.store.chunks)} passages")
        print(f"cold ingest of all {len(full.added)} reports: {full_s:.1f} s ({full.embedded_chunks} passages embedded)")
        print(f"cold ingest of {len(cold.added)} reports: {cold_s:.1f} s ({cold.embedded_chunks} passages embedded)")
        print(f"add 1 report: {inc_s:.1f} s ({inc.embedded_chunks} passages embedded, {len(inc.unchanged)} reports untouched)")
        print(f"re-ingest, nothing changed: {noop_s:.2f} s ({noop.embedded_chunks} embedded)")
        print(f"restart (load index): {load_s:.2f} s")
        print(f"warm ask latency over {len(latencies)} questions: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
