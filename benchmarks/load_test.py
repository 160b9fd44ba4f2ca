"""Load test: many chat clients at once on loopback, mixed normal and 2,000-character questions, an upload in
progress. Prints p50/p95 latency per kind of request and the error count; asserts nothing.

In: the bundled reports (copied to a temporary library), the server started as users start it (`rag serve`).
Out: a table on stdout (RELIABILITY.md quotes it).

    .venv/bin/python benchmarks/load_test.py [--clients 20] [--seconds 60] [--heavy-share 0.2] [--no-upload]

The baseline is the same server with one client asking normal questions (run first, same process). Two
figures, each as a ratio against it: how much one user's burst (several 2,000-character questions at once from
one session) slows another user's normal question — the fair gate's promise is at most 2× — and how much a crowd
of clients slows it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "tests" / "data" / "extra_questions.jsonl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(work: Path) -> tuple[subprocess.Popen, str]:
    library = work / "library"
    shutil.copytree(ROOT / "data" / "reports", library)
    port = free_port()
    cmd = [sys.executable, "-m", "rag.cli", "serve", "--reports", str(library), "--index", str(work / "index"), "--port", str(port)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"))
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 600
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"server exited: see {work / 'server.log'}")
            time.sleep(1)
    from gradio_client import Client

    for _ in range(120):  # the port opens before the app answers
        try:
            Client(url, verbose=False).predict("低保户", "", api_name="/ask")
            return proc, url
        except Exception:
            time.sleep(2)
    raise SystemExit("server never answered")


def heavy_question(rng: random.Random, normal: list[str]) -> str:
    text = ""
    while len(text) < 2000:
        text += rng.choice(normal)
    return text[:2000]


def run(url: str, clients: int, seconds: float, heavy_share: float, normal: list[str], upload: Path | None,
        burst: int = 0) -> dict[str, list[float]]:
    from gradio_client import Client, handle_file

    times: dict[str, list[float]] = {"normal": [], "heavy": [], "upload": [], "burst": []}
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.time() + seconds

    def client(i: int) -> None:
        rng = random.Random(i)
        c = Client(url, verbose=False)
        while time.time() < stop:
            kind = "heavy" if rng.random() < heavy_share else "normal"
            q = heavy_question(rng, normal) if kind == "heavy" else rng.choice(normal)
            t = time.perf_counter()
            try:
                c.predict(q, f"load-{i}", api_name="/ask")
                with lock:
                    times[kind].append(time.perf_counter() - t)
            except Exception as e:  # counted and shown, never hidden
                with lock:
                    errors.append(f"{kind}: {type(e).__name__}: {str(e)[:120]}")

    def burster() -> None:
        """One session sending ``burst`` long questions at once, again and again."""
        rng = random.Random(-1)
        c = Client(url, verbose=False)
        while time.time() < stop:
            jobs = [c.submit(heavy_question(rng, normal), "", api_name="/ask") for _ in range(burst)]
            for job in jobs:
                t = time.perf_counter()
                try:
                    job.result()
                    with lock:
                        times["burst"].append(time.perf_counter() - t)
                except Exception as e:
                    with lock:
                        errors.append(f"burst: {type(e).__name__}: {str(e)[:120]}")

    def uploader() -> None:
        c = Client(url, verbose=False)
        t = time.perf_counter()
        try:
            c.predict([handle_file(str(upload))], api_name="/ingest")
            times["upload"].append(time.perf_counter() - t)
        except Exception as e:
            errors.append(f"upload: {type(e).__name__}: {str(e)[:120]}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    if upload is not None:
        threads.append(threading.Thread(target=uploader))
    if burst:
        threads.append(threading.Thread(target=burster))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    times["errors"] = errors  # type: ignore[assignment]
    return times


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--heavy-share", type=float, default=0.2)
    p.add_argument("--no-upload", action="store_true")
    p.add_argument("--burst", type=int, default=4, help="long questions one session sends at once (0: skip that part)")
    args = p.parse_args()

    normal = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    work = Path(tempfile.mkdtemp(prefix="rag-load-"))
    proc, url = start_server(work)
    try:
        base = run(url, 1, min(20.0, args.seconds), 0.0, normal, None)
        bursted = run(url, 1, min(30.0, args.seconds), 0.0, normal, None, burst=args.burst) if args.burst else None
        upload = None
        if not args.no_upload:
            # a new report of about 20k characters (several bundled reports joined): minutes of embedding
            upload = work / "上传测试报告.txt"
            upload.write_text("\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "data" / "reports").glob("*.txt"))[:4]), encoding="utf-8")
        crowd = run(url, args.clients, args.seconds, args.heavy_share, normal, upload)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    b50 = pct(base["normal"], 0.5)
    print(f"load test: {args.clients} clients × {args.seconds:.0f} s on loopback, {args.heavy_share:.0%} of questions 2,000 characters"
          + ("" if args.no_upload else ", one upload in progress"))
    print(f"{'request':<28}{'n':>6}{'p50 s':>9}{'p95 s':>9}{'p50 / alone':>13}")
    print(f"{'normal, one client alone':<28}{len(base['normal']):>6}{b50:>9.3f}{pct(base['normal'], 0.95):>9.3f}{1.0:>13.1f}")
    if bursted is not None:
        for kind, label in (("normal", "normal, beside a burst"), ("burst", f"burst of {args.burst} long, one session")):
            v = bursted[kind]
            if v:
                print(f"{label:<28}{len(v):>6}{pct(v, 0.5):>9.3f}{pct(v, 0.95):>9.3f}{pct(v, 0.5) / b50:>13.1f}")
    for kind in ("normal", "heavy", "upload"):
        v = crowd[kind]
        if v:
            print(f"{kind + ', in the crowd':<28}{len(v):>6}{pct(v, 0.5):>9.3f}{pct(v, 0.95):>9.3f}{pct(v, 0.5) / b50:>13.1f}")
    errors = crowd["errors"] + (bursted["errors"] if bursted else [])
    print(f"errors: {len(errors)}")
    for e in errors[:10]:
        print("  " + e)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
