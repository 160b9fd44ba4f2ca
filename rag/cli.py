"""The ``rag`` console command: each subcommand is one call into the library.

    rag ingest DIR [--index IDX] [--rebuild]     build or update an index (only new reports are embedded)
    rag ask "问题" [--index IDX | --reports DIR] [--only REPORT]  the answer, then its numbered sources
    rag info [--index IDX]                        what an index holds and how it was built
    rag verify [--index IDX]                      hash every index file against its manifest (finds damage)
    rag serve [--host H --port P] [--reports DIR] the chat (Gradio)
    rag eval QUESTIONS [--corpus DIR] [--compare dense,bm25,hybrid]   score a question set
    rag feedback-to-questions [FEEDBACK] [--out FILE]   the chat's 👍/👎 as a question set (👎: to review)

Global options: ``--config FILE`` (default: $RAG_CONFIG or the project's config.toml) and
``--set section.key=value`` (repeatable) to override one setting for this run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import RETRIEVAL_MODES, Settings, load_settings
from .errors import RagError


def _settings(args) -> Settings:
    overrides = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise RagError(f"--set wants section.key=value, got {item!r}")
        overrides[key.strip()] = value.strip()
    return load_settings(args.config, overrides)


class TerminalProgress:
    """The terminal's ``Progress`` receiver: one tqdm bar on stderr per stage of a long ingest (the stage is the
    message before its first ':'), with passages/s and time left; a bar closes when its stage is done."""

    def __init__(self, file=None) -> None:
        self.file = file
        self._bar = None
        self._stage = ""

    def __call__(self, done: int, total: int, message: str) -> None:
        from tqdm import tqdm

        stage = message.partition(":")[0]
        if self._bar is not None and stage != self._stage:
            self.close()
        if not total:
            return
        if self._bar is None:
            self._stage = stage
            if done >= total:  # a stage that is done as soon as it starts (the keyword index): a line, no bar
                (self.file or sys.stderr).write(f"{message}\n")
                return
            self._bar = tqdm(total=total, desc=stage, unit=" passages", file=self.file or sys.stderr, dynamic_ncols=True)
        self._bar.update(done - self._bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


_progress = TerminalProgress()


def cmd_ingest(args) -> int:
    from embeddings import make_embedder

    from .ingest import ingest

    settings = _settings(args)
    reports = Path(args.reports_dir) if args.reports_dir else settings.corpus.reports_dir
    index = Path(args.index) if args.index else settings.corpus.index_dir
    report = ingest(reports, index, settings, make_embedder(settings.embedding), rebuild=args.rebuild, progress=_progress)
    print(report.summary())
    return 0


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value!r}")
    return n


def format_answer(answer, show_hits: bool = False) -> str:
    """Plain-text rendering for the terminal: answer, status, numbered sources."""
    labels = {"answered": "", "redacted": "（数字被遮盖 / masked figure）", "not_found": "（报告中未找到 / not in the reports）"}
    lines = [answer.text]
    if labels.get(answer.status):
        lines.append(labels[answer.status])
    if answer.citations:
        lines.append("")
        lines.append("来源 / Sources:")
        seen = set()
        for c in answer.citations:
            if c.n in seen:
                continue
            seen.add(c.n)
            where = c.chunk.section if c.chunk.section.startswith(c.chunk.title) else (
                f"{c.chunk.title} › {c.chunk.section}" if c.chunk.section else c.chunk.title
            )
            lines.append(f"[{c.n}] {where}  ({c.chunk.source}, 字符 {c.quote_start}–{c.quote_end})")
            lines.append(f"    “{c.quote}”")
    if show_hits:
        lines.append("")
        lines.append("检索结果 / Retrieved passages:")
        for h in answer.hits:
            lines.append(f"  {h.rank}. {h.score:.4f} {h.chunk.source} › {h.chunk.section[:40]}: {h.chunk.text[:60]!r}")
    return "\n".join(lines)


def answer_as_dict(answer) -> dict:
    return {
        "question": answer.question,
        "text": answer.text,
        "status": answer.status,
        "citations": [
            {"n": c.n, "source": c.chunk.source, "title": c.chunk.title, "section": c.chunk.section,
             "quote": c.quote, "start": c.quote_start, "end": c.quote_end, "chunk_id": c.chunk.chunk_id}
            for c in answer.citations
        ],
        "hits": [
            {"rank": h.rank, "score": h.score, "source": h.chunk.source, "chunk_id": h.chunk.chunk_id,
             "section": h.chunk.section, "start": h.chunk.start, "end": h.chunk.end}
            for h in answer.hits
        ],
        "timings": answer.timings,
    }


def cmd_ask(args) -> int:
    from .errors import IndexMissingError
    from .pipeline import Assistant

    settings = _settings(args)
    if args.reports:
        assistant = Assistant.from_dir(args.reports, args.index, settings, progress=_progress)
    else:
        index = Path(args.index) if args.index else settings.corpus.index_dir
        try:
            assistant = Assistant(index, settings)
        except IndexMissingError:
            if args.index:
                raise
            # first run on the bundled reports: build the index once
            assistant = Assistant.from_dir(settings.corpus.reports_dir, index, settings, progress=_progress)
    if assistant.store.rolled_back_from:
        print(f"warning: damaged index version rolled back ({assistant.store.rolled_back_from}); "
              "run `rag ingest` to index again the reports changed since", file=sys.stderr)
    answer = assistant.ask(" ".join(args.question), top_k=args.top_k, mode=args.mode, reports=args.only)
    if args.json:
        print(json.dumps(answer_as_dict(answer), ensure_ascii=False, indent=2))
    else:
        print(format_answer(answer, show_hits=args.hits))
    return 0


def cmd_info(args) -> int:
    from .index import load_index

    settings = _settings(args)
    index = Path(args.index) if args.index else settings.corpus.index_dir
    if settings.store.backend == "milvus":
        from embeddings import make_embedder

        from .ingest_milvus import open_milvus_store

        store = open_milvus_store(settings, index, make_embedder(settings.embedding))
    else:
        store = load_index(index)
    m = store.manifest
    print(f"index: {store.path}")
    print(f"embedding: {m['embedding']}")
    print(f"splitter: {m.get('splitter')}  tokenizer: {m.get('tokenizer')}")
    print(f"{len(store.docs)} reports, {store.passages.passage_count()} passages")
    counts = store.passages.passage_counts()
    for d in store.docs:
        print(f"  {d.source}  《{d.title}》  {len(d.text)} 字, {counts.get(d.doc_id, 0)} passages")
    return 0


def cmd_verify(args) -> int:
    from .index import verify_index

    settings = _settings(args)
    index = Path(args.index) if args.index else settings.corpus.index_dir
    if settings.store.backend == "milvus":
        print("store.backend = milvus: the index lives in Milvus, which checks its own segments; nothing to verify here")
        return 0
    n = verify_index(index)
    print(f"index {index}: {n} files checked, all intact")
    return 0


def _corpora(specs: list[str] | None, default: Path) -> Path | dict[str, Path]:
    """``--corpus DIR`` (one folder) or ``--corpus NAME=DIR`` repeated (a question bank over several corpora,
    matched to each question's ``corpus`` field)."""
    if not specs:
        return default
    if len(specs) == 1 and "=" not in specs[0]:
        return Path(specs[0])
    out: dict[str, Path] = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep or not name or not folder:
            raise RagError(f"--corpus takes DIR or NAME=DIR, got {spec!r}")
        out[name] = Path(folder)
    return out


def cmd_eval(args) -> int:
    from .evaluate import BASELINE, EvalConfig, evaluate, format_table, parse_config_spec, write_report

    settings = _settings(args)
    configs: list[EvalConfig] = []
    for mode in filter(None, (args.compare or "").split(",")):
        mode = mode.strip()
        configs.append(BASELINE if mode == "baseline" else EvalConfig(mode, {"retrieval.mode": mode}))
    configs += [parse_config_spec(spec) for spec in args.config_spec or []]
    if not configs:
        configs = [EvalConfig("ours", {})]
    if not args.no_baseline and all(c.name != "baseline" for c in configs):
        configs.append(BASELINE)
    corpus = _corpora(args.corpus, settings.corpus.reports_dir)
    report = evaluate(args.questions, corpus, configs, settings, index_root=args.index_root, limit=args.limit)
    print(format_table(report))
    if args.by_kind:
        for group in ("by_kind", "by_lang", "by_neg"):
            for kind in sorted({k for r in report.results for k in getattr(r, group)}):
                print(f"\n[{group[3:]}: {kind}]")
                print(format_table(report, kind, group))
    qpath = Path(args.questions).resolve()
    out = Path(args.out) if args.out else Path("var") / "eval" / "reports" / f"{qpath.parent.name}-{qpath.stem}"
    paths = write_report(report, out, title=f"Evaluation: {Path(args.questions).name}")
    print(f"\n{report.n_questions} questions × {len(report.results)} configurations in {report.seconds:.1f} s")
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def cmd_feedback_to_questions(args) -> int:
    from .feedback import feedback_to_questions, read_feedback, write_questions

    settings = _settings(args)
    source = Path(args.feedback) if args.feedback else settings.feedback.path
    questions, review = feedback_to_questions(read_feedback(source))
    out = Path(args.out) if args.out else Path("var") / "eval" / "feedback_questions.jsonl"
    # one file: `rag eval` scores the approved ones and skips those marked "review" until a person fills them in
    write_questions(questions + review, out)
    print(f"{len(questions)} questions from 👍 answers, {len(review)} to review from 👎 answers (\"review\": true)")
    print(f"wrote {out}")
    return 0


def cmd_serve(args) -> int:
    try:
        from ui.app import serve
    except ImportError as exc:
        raise RagError(f"the chat needs gradio: pip install -e '.[ui]' ({exc})") from exc

    import logging

    # the chat shows users one short sentence per failure; the details go to this log (stderr)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(args)
    login = settings.server.login_for(args.host)  # refuses a non-loopback address without a login, at once
    print(f"starting the chat on http://{args.host}:{args.port} …" + (" (login required)" if login else ""), file=sys.stderr)
    serve(settings, host=args.host, port=args.port, reports_dir=args.reports, index_dir=args.index, block=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag",
        description="Cited answers from Chinese government work reports (offline: FAISS + BM25 + multilingual-e5-small).",
        epilog=(
            "examples / 示例:\n"
            "  rag ask \"永北圩所在的镇2022年保障了多少户低保？\"      (bundled sample reports)\n"
            "  rag ingest ~/my_reports --index ~/my_index            (only new reports are embedded)\n"
            "  rag ask --index ~/my_index \"那个镇2023年计划投入多少钱？\"\n"
            "  rag --set retrieval.mode=bm25 ask \"……\"                 (override one setting)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help="config.toml to read (default: $RAG_CONFIG or the project's config.toml)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a setting, e.g. retrieval.mode=bm25")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="build or update an index from a folder of reports (.txt/.md)")
    p.add_argument("reports_dir", nargs="?", help="folder of reports (default: corpus.reports_dir, the bundled samples)")
    p.add_argument("--index", help="index folder (default: corpus.index_dir)")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything (after changing the model or splitter)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("ask", help="answer a question with numbered sources")
    p.add_argument("question", nargs="+", help="the question, e.g. \"永北圩所在的镇2022年保障了多少户低保？\"")
    p.add_argument("--index", help="index folder (default: corpus.index_dir)")
    p.add_argument("--reports", help="a folder of reports: index it (incrementally) and answer over it")
    p.add_argument("--top-k", type=_positive_int, default=None, help="passages to retrieve (default: retrieval.top_k)")
    p.add_argument("--mode", choices=RETRIEVAL_MODES, default=None, help="retrieval mode for this question")
    p.add_argument("--only", action="append", metavar="REPORT",
                   help="answer from this report only (file name as `rag info` lists it, or doc id; repeatable)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--hits", action="store_true", help="also print the retrieved passages")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="score retrieval, answers and citations on a question file (JSON Lines)")
    p.add_argument("questions", help="question file: id, question, answers, docs, evidence, kind per line")
    p.add_argument("--corpus", action="append", metavar="DIR | NAME=DIR",
                   help="folder of the reports the questions are about (default: the bundled reports); for a bank over "
                        "several corpora, NAME=DIR per corpus, NAME as in the questions' corpus field (repeatable)")
    p.add_argument("--compare", help="comma-separated retrieval modes and/or 'baseline', e.g. dense,bm25,hybrid")
    p.add_argument("--config", dest="config_spec", action="append", metavar="NAME:KEY=V,KEY=V",
                   help="a named configuration to compare, e.g. 'rrf:retrieval.fusion=rrf' (repeatable)")
    p.add_argument("--no-baseline", action="store_true", help="do not add the day-one LangChain baseline")
    p.add_argument("--index-root", help="where per-configuration indexes are cached (default: var/eval)")
    p.add_argument("--out", help="folder for results.json, report.md and hit_at_k.png")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--by-kind", action="store_true", help="also print a table per question kind")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("feedback-to-questions", help="turn the chat's 👍/👎 feedback file into a question set")
    p.add_argument("feedback", nargs="?", help="feedback JSON Lines file (default: feedback.path)")
    p.add_argument("--out", help="question file to write (default: var/eval/feedback_questions.jsonl)")
    p.set_defaults(func=cmd_feedback_to_questions)

    p = sub.add_parser("serve", help="start the chat (Gradio) on the bundled reports or a folder of yours")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1). Any other address requires a login from the "
                        "environment variables RAG_CHAT_USER and RAG_CHAT_PASSWORD (names set in config.toml [server])")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--reports", help="serve this folder of reports (default: the library folder, seeded with the samples)")
    p.add_argument("--index", help="index folder (default: corpus.index_dir, or REPORTS/.rag_index with --reports)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("info", help="describe an index")
    p.add_argument("--index", help="index folder (default: corpus.index_dir)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("verify", help="check every index file against the checksums in its manifest")
    p.add_argument("--index", help="index folder (default: corpus.index_dir)")
    p.set_defaults(func=cmd_verify)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
