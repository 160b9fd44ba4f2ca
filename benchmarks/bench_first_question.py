"""Benchmark: the first question the local model reads after start, with and without ``Assistant.warm``.

Each run is a fresh process (the model is loaded once per process): it builds the assistant over the bundled
reports, optionally warms it (as the chat server does in a background thread at start; here waited for, and
timed apart), then asks the dev questions in order until the model reads one, and prints that question's time.
Prints figures; asserts nothing. Needs the local model (bash scripts/install_llm.sh).
    .venv/bin/python benchmarks/bench_first_question.py [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
QUESTIONS = ROOT / "tests" / "data" / "extra_questions.jsonl"


def one_run(warm: bool, index_dir: str) -> dict:
    from rag.config import load_settings
    from rag.pipeline import Assistant

    assistant = Assistant.from_dir(ROOT / "data" / "reports", Path(index_dir), load_settings())
    warm_s = 0.0
    if warm:
        t = time.perf_counter()
        assistant.warm()
        warm_s = time.perf_counter() - t
    for line in QUESTIONS.read_text(encoding="utf-8").splitlines():
        question = json.loads(line)["question"]
        t = time.perf_counter()
        answer = assistant.ask(question)
        took = time.perf_counter() - t
        if any(n.startswith("verifier=") for n in answer.notes):
            return {"warm": warm, "warm_s": round(warm_s, 2), "first_read_s": round(took, 2), "question": question}
    return {"warm": warm, "warm_s": round(warm_s, 2), "first_read_s": None, "question": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--child", choices=("cold", "warm"), help=argparse.SUPPRESS)
    parser.add_argument("--index", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_run(args.child == "warm", args.index), ensure_ascii=False))
        return
    with tempfile.TemporaryDirectory() as tmp:
        one_run(False, tmp)  # builds the index once, so that no run pays for it (this process's model is not reused)
        rows = []
        for _ in range(args.runs):
            for mode in ("cold", "warm"):  # interleaved: a machine slowing down costs both alike
                out = subprocess.run([sys.executable, __file__, "--child", mode, "--index", tmp], capture_output=True, text=True, check=True)
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(json.dumps(rows[-1], ensure_ascii=False))
    for mode in (False, True):
        times = sorted(r["first_read_s"] for r in rows if r["warm"] == mode and r["first_read_s"] is not None)
        if times:
            print(f"{'warmed at start' if mode else 'not warmed':16s} first question the model reads: median {times[len(times) // 2]:.2f} s over {len(times)} runs")


if __name__ == "__main__":
    main()
