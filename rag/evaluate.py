"""Evaluation: score retrieval, answers and citations of one or more configurations on a question set.

In: a JSON Lines question file (id, question, answers, docs, evidence, kind — see README), a corpus folder,
and ``EvalConfig``s (a name + dotted config overrides). Each configuration's index is built or reused
(incremental ingest, cached per splitter/embedding settings), every question goes through the same
``Assistant.ask`` the chat uses, and ``EvalReport`` holds every figure and a record per question that says
why each failed check failed. ``write_report`` saves results.json, report.md and a hit@k plot (PNG).

Metrics (overall and by ``kind``):
- retrieval, by report and by evidence passage (ranx): hit@1/5/10, MRR@10, nDCG@10;
- answers: accuracy (number/fact/list/span: every gold string present after normalising widths, spaces,
  thousands separators and 万/亿; multi: every gold report cited; redacted: status ``redacted``;
  unanswerable: ``not_found`` with no citation), character F1 for ``span``;
- citations: precision (the cited passage overlaps the gold evidence; multi: cites a gold report) and
  recall of gold reports;
- behaviour: redacted rate, refusal rate on unanswerable questions, false-refusal rate on answerable ones;
- cost: per-stage latency p50/p95 and ingest time.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import time
import unicodedata
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .config import Settings, load_settings
from .errors import RagError
from .schema import Answer, content_id
from .text import expand_scale

KINDS_WITH_ANSWERS = ("number", "fact", "list", "span")
ANSWERABLE = ("number", "fact", "list", "span", "multi")
KS = (1, 3, 5, 10)


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    docs: tuple[str, ...]
    evidence: tuple[str, ...]
    kind: str
    lang: str = "zh"  # "zh" | "en": the language the question is asked in
    corpus: str = ""  # which corpus it is about (question banks over several corpora), "" = the one evaluated
    tags: tuple[str, ...] = ()  # how it is hard: paraphrase, indirect, period, list_after, masked_long, …
    neg: str = ""  # for unanswerable questions: attribute_absent | period_absent | place_absent | figure_absent


@dataclass(frozen=True)
class EvalConfig:
    """A named configuration: dotted overrides applied to the base settings."""

    name: str
    overrides: dict = field(default_factory=dict)


BASELINE = EvalConfig(
    "baseline",
    {
        # what a LangChain user writes on day one: RecursiveCharacterTextSplitter (default separators),
        # vector search with the same embedding model, the top passage as the answer
        "splitter.strategy": "recursive",
        "splitter.context": False,
        "retrieval.mode": "dense",
        "retrieval.doc_weight": 0.0,
        "answer.mode": "top_passage",
    },
)


def load_questions(path: str | Path) -> list[EvalQuestion]:
    """Read a question file; a malformed line is an error naming the file and line. Questions marked
    ``"review": true`` (from rejected answers, see ``rag.feedback``) have no gold answer yet and are skipped."""
    path = Path(path)
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if row.get("review") is True:
                continue
            out.append(
                EvalQuestion(
                    id=str(row["id"]),
                    question=row["question"],
                    answers=tuple(row.get("answers", [])),
                    docs=tuple(row.get("docs", [])),
                    evidence=tuple(row.get("evidence", [])),
                    kind=row.get("kind", "fact"),
                    lang=row.get("lang") or "zh",
                    corpus=row.get("corpus") or "",
                    tags=tuple(row.get("tags") or ()),
                    neg=row.get("neg") or "",
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise RagError(f"{path}:{n}: not a question record ({exc})") from exc
    return out


# ---------------------------------------------------------------------------------------------- scoring


_MARKER = re.compile(r"\[\d+\]")
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def normalise_answer(text: str) -> str:
    """NFKC (full-width digits), no spaces, no thousands separators, no [n] markers."""
    text = unicodedata.normalize("NFKC", _MARKER.sub("", text))
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    return re.sub(r"\s+", "", text)


def contains_answer(text: str, gold: str) -> bool:
    t, g = normalise_answer(text), normalise_answer(gold)
    return g in t or expand_scale(g) in expand_scale(t)


def char_f1(prediction: str, gold: str) -> float:
    """Character-level F1 (punctuation and spaces ignored), as in Chinese reading-comprehension scoring."""
    p = Counter(_PUNCT.sub("", normalise_answer(prediction)))
    g = Counter(_PUNCT.sub("", normalise_answer(gold)))
    common = sum((p & g).values())
    if not common:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(g.values())
    return 2 * precision * recall / (precision + recall)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


@dataclass
class QuestionRecord:
    """One question under one configuration: what came back and how each check went."""

    id: str
    kind: str
    question: str
    answer: str
    status: str
    lang: str
    neg: str
    tags: list[str]
    confidence: float | None  # the gate's probability (reliability diagram)
    citations: list[dict]
    report_ranking: list[str]  # report ids of the hits, best first, deduplicated
    hit_ids: list[str]  # chunk ids of the hits, best first
    gold_reports: list[str]  # report ids holding the answer
    gold_passages: list[str]  # chunk ids (of the whole index) overlapping the gold evidence
    evidence_rank: int | None  # 1-based rank of the first hit overlapping the gold evidence
    report_rank: int | None  # 1-based rank of the first gold report among report_ranking
    checks: dict[str, Any]
    failures: list[str]
    timings: dict[str, float]


class _Gold:
    """Gold reports and evidence spans of the corpus, resolved by content (duplicate files map to one id)."""

    def __init__(self, corpus_dir: Path, store):
        self.corpus_dir = corpus_dir
        self.store = store
        self._id_of_file: dict[str, str | None] = {}

    def doc_id(self, name: str) -> str | None:
        if name not in self._id_of_file:
            path = self.corpus_dir / name
            self._id_of_file[name] = content_id(path.read_bytes()) if path.is_file() else None
        return self._id_of_file[name]

    def spans(self, q: EvalQuestion) -> list[tuple[str, int, int]]:
        """(doc_id, start, end) of each evidence quote found in a gold report."""
        out = []
        doc_ids = [d for d in (self.doc_id(n) for n in q.docs) if d]
        for ev in q.evidence:
            for doc_id in doc_ids:
                doc = self.store.doc_by_id.get(doc_id)
                if doc is None:
                    continue
                pos = doc.text.find(ev)
                if pos < 0:
                    pos = unicodedata.normalize("NFKC", doc.text).find(unicodedata.normalize("NFKC", ev))
                if pos >= 0:
                    out.append((doc_id, pos, pos + len(ev)))
                    break
        return out


def _gold_passages(store, spans) -> list[str]:
    """Chunk ids of the passages that overlap a gold span (``(doc_id, start, end)``)."""
    found = (store.passages.chunk(i) for d in sorted({d for d, _, _ in spans}) for i in store.passages.passages_of(d))
    return sorted(c.chunk_id for c in found if _overlaps(c, spans))


def _overlaps(chunk, spans) -> bool:
    return any(chunk.doc_id == d and chunk.start < e and s < chunk.end for d, s, e in spans)


def unsupported_figures(answer: Answer, question: str) -> list[str]:
    """Figures of the shown answer that are in neither the passage its stretch of text cites nor the question.
    Each stretch of text up to a marker ``[n]`` is a claim about passage n; report titles, file names and the
    count line of a "which reports" answer are labels, not claims."""
    from .llm_checks import figure_in
    from .llm_checks import figures as llm_figures

    passages = {c.n: c.chunk.text for c in answer.citations}
    claims = re.sub(r"《[^》]*》|（[^）]*\.(?:txt|md|docx|pdf)）|^共有 \d+ 份报告提到：", "", answer.text, flags=re.M)
    bad = []
    for segment, n in re.findall(r"(.*?)\[(\d+)\]", claims, flags=re.S):
        for figure in llm_figures(segment):
            if int(n) in passages and not figure_in(figure, passages[int(n)]) and not figure_in(figure, question):
                bad.append(figure)
    return bad


def score_question(q: EvalQuestion, answer: Answer, gold: _Gold) -> QuestionRecord:
    """Every check for one answered question, with a sentence for each failure."""
    gold_docs = {d for d in (gold.doc_id(n) for n in q.docs) if d}
    spans = gold.spans(q)
    failures: list[str] = []
    checks: dict[str, Any] = {}

    ranking: list[str] = []
    for h in answer.hits:
        if h.chunk.doc_id not in ranking:
            ranking.append(h.chunk.doc_id)
    report_rank = next((i + 1 for i, d in enumerate(ranking) if d in gold_docs), None)
    evidence_rank = next((h.rank for h in answer.hits if _overlaps(h.chunk, spans)), None)
    if gold_docs and report_rank is None:
        failures.append(f"retrieval: no gold report among the {len(answer.hits)} hits")
    if spans and evidence_rank is None:
        failures.append(f"retrieval: no hit overlaps the gold evidence «{q.evidence[0][:30]}»")
    elif evidence_rank and evidence_rank > 5:
        failures.append(f"retrieval: gold evidence first at rank {evidence_rank} (> 5)")
    if q.evidence and not spans:
        failures.append("gold evidence not found verbatim in the gold report (check the question file)")

    text = answer.text
    if q.kind in KINDS_WITH_ANSWERS:
        missing = [a for a in q.answers if not contains_answer(text, a)]
        checks["answer_correct"] = answer.status == "answered" and not missing
        if missing:
            failures.append(f"answer lacks {', '.join(repr(m) for m in missing)}")
        if q.kind == "span" and q.answers:
            checks["char_f1"] = max(char_f1(text, a) for a in q.answers)
    elif q.kind == "multi":
        cited = {c.chunk.doc_id for c in answer.citations}
        checks["answer_correct"] = bool(gold_docs) and gold_docs <= cited
        if not checks["answer_correct"]:
            names = sorted(n for n in q.docs if gold.doc_id(n) not in cited)
            failures.append(f"reports not cited: {', '.join(names)}")
    elif q.kind == "redacted":
        checks["answer_correct"] = checks["redacted_ok"] = answer.status == "redacted"
        if answer.status != "redacted":
            failures.append(f"masked figure: expected status redacted, got {answer.status}")
    elif q.kind == "unanswerable":
        checks["answer_correct"] = checks["refused_ok"] = answer.status == "not_found" and not answer.citations
        if not checks["refused_ok"]:
            failures.append(f"not in the reports: expected not_found with no citation, got {answer.status} with {len(answer.citations)} citations")

    if q.kind in ANSWERABLE or q.kind == "redacted":
        checks["false_refusal"] = answer.status == "not_found"
        if checks["false_refusal"]:
            failures.append("answerable question refused (not_found)")

    # citations: precision over the cited passages, recall over the gold reports
    if answer.citations and (gold_docs or q.kind == "unanswerable"):
        good = 0
        unique = {c.n: c for c in answer.citations}
        for n, c in sorted(unique.items()):
            ok = (c.chunk.doc_id in gold_docs) if q.kind == "multi" or not spans else _overlaps(c.chunk, spans)
            good += ok
            if not ok:
                failures.append(f"citation [{n}] ({c.chunk.source} @{c.chunk.start}) does not hold the gold evidence")
        checks["citations"] = len(unique)
        checks["citations_correct"] = good
    if gold_docs:
        cited = {c.chunk.doc_id for c in answer.citations}
        checks["report_recall"] = len(cited & gold_docs) / len(gold_docs)
    if answer.status == "answered" and answer.citations:
        bad = unsupported_figures(answer, q.question)
        checks["unsupported_figures"] = bool(bad)
        if bad:
            failures.append(f"figures not in the cited passages: {', '.join(bad)}")
    if any(n.startswith("llm:") for n in answer.notes):
        checks["llm_fallback"] = any("extractive answer used" in n for n in answer.notes)

    return QuestionRecord(
        id=q.id,
        kind=q.kind,
        question=q.question,
        answer=text,
        status=answer.status,
        lang=q.lang,
        neg=q.neg,
        tags=list(q.tags),
        confidence=answer.confidence,
        citations=[
            {"n": c.n, "source": c.chunk.source, "section": c.chunk.section, "start": c.quote_start, "end": c.quote_end, "quote": c.quote}
            for c in answer.citations
        ],
        report_ranking=ranking,
        hit_ids=[h.chunk.chunk_id for h in answer.hits],
        gold_reports=sorted(gold_docs),
        gold_passages=_gold_passages(gold.store, spans) if spans else [],
        evidence_rank=evidence_rank,
        report_rank=report_rank,
        checks=checks,
        failures=failures,
        timings=dict(answer.timings),
    )


def _ranx_metrics(records: list[QuestionRecord], level: str) -> dict[str, float]:
    """hit@k, MRR@10, nDCG@10 with ranx, by report (``level="report"``) or by evidence passage."""
    from ranx import Qrels, Run, evaluate

    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for r in records:
        relevant = r.gold_reports if level == "report" else r.gold_passages
        ranked = r.report_ranking if level == "report" else r.hit_ids
        if not relevant:
            continue
        qrels[r.id] = {key: 1 for key in relevant}
        run[r.id] = {key: float(len(ranked) - i) for i, key in enumerate(ranked[:10])} or {"__none__": 0.0}
    if not qrels:
        return {}
    metrics = [f"hit_rate@{k}" for k in KS] + ["mrr@10", "ndcg@10"]
    scores = evaluate(Qrels(qrels), Run(run), metrics, make_comparable=True)
    names = {f"hit_rate@{k}": f"hit@{k}" for k in KS}
    return {f"{level}_{names.get(m, m)}": float(v) for m, v in scores.items()}


def summarise(records: list[QuestionRecord]) -> dict[str, float]:
    """Aggregate figures over a set of question records."""
    out: dict[str, float] = {"questions": float(len(records))}
    out.update(_ranx_metrics(records, "report"))
    out.update(_ranx_metrics(records, "evidence"))

    def mean(key: str, where: Callable[[QuestionRecord], bool] = lambda r: True) -> float | None:
        values = [float(r.checks[key]) for r in records if key in r.checks and where(r)]
        return sum(values) / len(values) if values else None

    figures = {
        "answer_accuracy": mean("answer_correct"),
        "char_f1": mean("char_f1"),
        "report_recall": mean("report_recall"),
        "redacted_rate": mean("redacted_ok"),
        "refusal_rate_unanswerable": mean("refused_ok"),
        "false_refusal_rate": mean("false_refusal"),
        "unsupported_figure_rate": mean("unsupported_figures"),
        "llm_fallback_rate": mean("llm_fallback"),
    }
    cited = sum(r.checks.get("citations", 0) for r in records)
    figures["citation_precision"] = sum(r.checks.get("citations_correct", 0) for r in records) / cited if cited else None
    out.update({k: v for k, v in figures.items() if v is not None})
    for stage in ("embed_query", "dense", "bm25", "answer", "total"):
        values = [r.timings[stage] for r in records if stage in r.timings]
        if values:
            out[f"latency_{stage}_p50_ms"] = 1000 * statistics.median(values)
            out[f"latency_{stage}_p95_ms"] = 1000 * _percentile(values, 0.95)
    return out


@dataclass
class ConfigResult:
    name: str
    overrides: dict
    index_dir: str
    ingest_seconds: float
    embedded_chunks: int
    metrics: dict[str, float]
    by_kind: dict[str, dict[str, float]]
    hit_curve: dict[str, list[float]]  # "evidence"/"report" -> hit@1..10
    records: list[QuestionRecord]
    by_lang: dict[str, dict[str, float]] = field(default_factory=dict)
    by_neg: dict[str, dict[str, float]] = field(default_factory=dict)  # unanswerable questions by how they tempt
    reliability: list[dict[str, float]] = field(default_factory=list)  # gate calibration bins


def breakdown(records: list[QuestionRecord], key: Callable[[QuestionRecord], str]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[QuestionRecord]] = defaultdict(list)
    for r in records:
        groups[key(r)].append(r)
    return {k: summarise(v) for k, v in sorted(groups.items())}


def reliability(records: list[QuestionRecord], bins: int = 5) -> list[dict[str, float]]:
    """The gate's calibration: per probability bin, how many questions, their mean probability, and the share
    that the reports do answer (every kind but ``unanswerable``)."""
    scored = [r for r in records if r.confidence is not None]
    out = []
    for i in range(bins):
        lo, hi = i / bins, (i + 1) / bins
        sel = [r for r in scored if lo <= r.confidence < hi or (i == bins - 1 and r.confidence == 1.0)]
        if sel:
            out.append({
                "low": lo, "high": hi, "questions": float(len(sel)),
                "mean_confidence": sum(r.confidence for r in sel) / len(sel),
                "answerable_share": sum(r.kind != "unanswerable" for r in sel) / len(sel),
            })
    return out


@dataclass
class EvalReport:
    questions_file: str
    corpus_dir: str
    n_questions: int
    results: list[ConfigResult]
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def _index_dir_for(root: Path, settings: Settings, corpus_dir: Path) -> Path:
    """The cached evaluation index of a corpus: one per corpus, splitter and model -- not per batch size or
    thread count, which do not change a vector."""
    from .ingest import embedder_header, splitter_header

    key = json.dumps(
        {"corpus": str(corpus_dir.resolve()), "splitter": splitter_header(settings),
         "embedding": embedder_header(settings, None, load_model=False)},
        sort_keys=True,
        default=str,
    )
    return root / hashlib.sha256(key.encode()).hexdigest()[:12]


def _hit_curve(records: list[QuestionRecord], level: str) -> list[float]:
    if level == "report":
        ranks = [r.report_rank for r in records if r.gold_reports]
    else:
        ranks = [r.evidence_rank for r in records if r.gold_passages]
    if not ranks:
        return []
    return [sum(1 for x in ranks if x is not None and x <= k) / len(ranks) for k in range(1, 11)]


def evaluate(
    questions_file: str | Path,
    corpus_dir: str | Path | Mapping[str, str | Path],
    configs: list[EvalConfig] | None = None,
    settings: Settings | None = None,
    index_root: str | Path | None = None,
    top_k: int = 10,
    limit: int | None = None,
    progress: bool = True,
    embedder=None,
) -> EvalReport:
    """Run every configuration over the question set; ``top_k`` passages are retrieved per question and
    scored for retrieval (hit@10 needs 10), and the answer is built from them exactly as ``ask`` does.

    ``corpus_dir``: one folder, or a mapping from a question's ``corpus`` name to its folder (a question bank
    over several corpora; the key "" is the folder for questions that name none)."""
    from .ingest import ingest
    from .pipeline import Assistant

    started = time.perf_counter()
    base = settings or load_settings()
    questions = load_questions(questions_file)[:limit] if limit else load_questions(questions_file)
    corpora = {k: Path(v) for k, v in corpus_dir.items()} if isinstance(corpus_dir, Mapping) else {"": Path(corpus_dir)}
    groups: dict[str, list[EvalQuestion]] = defaultdict(list)
    for q in questions:
        name = q.corpus if q.corpus in corpora else ""
        if name not in corpora:
            raise RagError(f"question {q.id} is about corpus {q.corpus!r}: give its folder (--corpus {q.corpus}=DIR)")
        groups[name].append(q)
    root = Path(index_root) if index_root else base.corpus.index_dir.parent / "eval"
    configs = configs or [EvalConfig("ours", {}), BASELINE]
    if embedder is None:
        from embeddings import make_embedder

        embedder = make_embedder(base.embedding)
    results = []
    for config in configs:
        settings_c = base.replace(config.overrides) if config.overrides else base
        records: list[QuestionRecord] = []
        ingest_seconds, embedded, index_dirs = 0.0, 0, []
        for name, group in groups.items():
            corpus = corpora[name]
            index_dir = _index_dir_for(root, settings_c, corpus)
            t = time.perf_counter()
            report = ingest(corpus, index_dir, settings_c, embedder, progress=None)
            ingest_seconds += time.perf_counter() - t
            embedded += report.embedded_chunks
            index_dirs.append(str(index_dir))
            assistant = Assistant(index_dir, settings_c, embedder)
            gold = _Gold(corpus, assistant.store)
            iterator = group
            if progress:
                import sys

                from tqdm import tqdm

                # a bar on a terminal; in a log file it would be noise
                iterator = tqdm(group, desc=f"{config.name:>12}", unit="q", leave=False, disable=not sys.stderr.isatty())
            for q in iterator:
                answer = assistant.ask(q.question, extra_hits=max(0, top_k - settings_c.retrieval.top_k))
                records.append(score_question(q, answer, gold))
        results.append(
            ConfigResult(
                name=config.name,
                overrides=dict(config.overrides),
                index_dir=", ".join(index_dirs),
                ingest_seconds=ingest_seconds,
                embedded_chunks=embedded,
                metrics=summarise(records),
                by_kind=breakdown(records, lambda r: r.kind),
                hit_curve={"evidence": _hit_curve(records, "evidence"), "report": _hit_curve(records, "report")},
                records=records,
                by_lang=breakdown(records, lambda r: r.lang),
                by_neg=breakdown([r for r in records if r.neg], lambda r: r.neg),
                reliability=reliability(records),
            )
        )
    return EvalReport(str(questions_file), str(corpus_dir), len(questions), results, time.perf_counter() - started)


# ---------------------------------------------------------------------------------------------- output

HEADLINE = [
    ("report_hit@1", "report hit@1"),
    ("report_hit@5", "report hit@5"),
    ("report_mrr@10", "report MRR@10"),
    ("evidence_hit@1", "evidence hit@1"),
    ("evidence_hit@5", "evidence hit@5"),
    ("evidence_hit@10", "evidence hit@10"),
    ("evidence_mrr@10", "evidence MRR@10"),
    ("evidence_ndcg@10", "evidence nDCG@10"),
    ("answer_accuracy", "answer accuracy"),
    ("char_f1", "char F1 (span)"),
    ("citation_precision", "citation precision"),
    ("report_recall", "cited-report recall"),
    ("redacted_rate", "masked → redacted"),
    ("refusal_rate_unanswerable", "unanswerable → not_found"),
    ("false_refusal_rate", "false refusals"),
    ("unsupported_figure_rate", "answers w/ unsupported figure"),
    ("llm_fallback_rate", "LLM answers replaced"),
    ("latency_total_p50_ms", "latency p50 (ms)"),
    ("latency_total_p95_ms", "latency p95 (ms)"),
]


def _fmt(value: float | None, key: str) -> str:
    if value is None:
        return "–"
    if key.endswith("_ms") or key.endswith("seconds"):
        return f"{value:.0f}" if key.endswith("_ms") else f"{value:.1f}"
    return f"{value:.3f}"


def format_table(report: EvalReport, kind: str | None = None, group: str = "by_kind") -> str:
    """A plain-text table: one row per metric, one column per configuration; ``kind`` picks one group of
    ``group`` (``by_kind``, ``by_lang`` or ``by_neg``)."""
    names = [r.name for r in report.results]
    width = max(26, max(len(label) for _, label in HEADLINE) + 2)
    col = max(10, max(len(n) for n in names) + 2)
    lines = [f"{'metric':<{width}}" + "".join(f"{n:>{col}}" for n in names)]
    for key, label in HEADLINE:
        values = [(getattr(r, group).get(kind, {}) if kind else r.metrics).get(key) for r in report.results]
        if all(v is None for v in values):
            continue
        lines.append(f"{label:<{width}}" + "".join(f"{_fmt(v, key):>{col}}" for v in values))
    if not kind:
        lines.append(f"{'ingest (s, this run)':<{width}}" + "".join(f"{r.ingest_seconds:>{col}.1f}" for r in report.results))
    return "\n".join(lines)


def write_report(report: EvalReport, out_dir: str | Path, title: str = "Evaluation") -> dict[str, Path]:
    """results.json (every figure and record), report.md (tables, failures) and hit_at_k.png."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "results.json", "markdown": out_dir / "report.md", "plot": out_dir / "hit_at_k.png"}
    data = report.as_dict()
    paths["json"].write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str), encoding="utf-8")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, level in zip(axes, ("evidence", "report")):
        for r in report.results:
            curve = r.hit_curve.get(level) or []
            if curve:
                ax.plot(range(1, len(curve) + 1), curve, marker="o", label=r.name)
        ax.set_title(f"{level} hit@k")
        ax.set_xlabel("k")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(paths["plot"], dpi=110)
    plt.close(fig)

    md = [f"# {title}", "", f"Questions: `{report.questions_file}` ({report.n_questions}); corpus: `{report.corpus_dir}`.", ""]
    md.append("| configuration | overrides |")
    md.append("|---|---|")
    for r in report.results:
        md.append(f"| {r.name} | {', '.join(f'`{k}={v}`' for k, v in r.overrides.items()) or '(config.toml)'} |")
    md += ["", "## All questions", "", "```", format_table(report), "```", "", f"![hit@k]({paths['plot'].name})", ""]
    for group, label in (("by_kind", "kind"), ("by_lang", "language"), ("by_neg", "not in the reports, by how it tempts")):
        for kind in sorted({k for r in report.results for k in getattr(r, group)}):
            md += [f"## {label}: {kind}", "", "```", format_table(report, kind, group), "```", ""]
    if any(r.reliability for r in report.results):
        paths["reliability"] = out_dir / "gate_reliability.png"
        plot_reliability(report, paths["reliability"])
        md += ["## Gate calibration", "", f"![gate reliability]({paths['reliability'].name})", ""]
        md += ["| configuration | bin | questions | mean gate probability | share answerable |", "|---|---|---|---|---|"]
        for r in report.results:
            for b in r.reliability:
                md.append(f"| {r.name} | {b['low']:.1f}–{b['high']:.1f} | {b['questions']:.0f} | {b['mean_confidence']:.2f} | {b['answerable_share']:.2f} |")
        md.append("")
    md += ["## Failures", ""]
    for r in report.results:
        failed = [rec for rec in r.records if rec.failures]
        md.append(f"### {r.name}: {len(failed)} of {len(r.records)} questions with a failed check")
        md.append("")
        for rec in failed[:60]:
            md.append(f"- **{rec.id}** ({rec.kind}) {rec.question} → `{rec.status}`: " + "; ".join(rec.failures))
        if len(failed) > 60:
            md.append(f"- … {len(failed) - 60} more in results.json")
        md.append("")
    paths["markdown"].write_text("\n".join(md), encoding="utf-8")
    return paths


def plot_reliability(report: EvalReport, path: Path) -> None:
    """Gate probability histograms (answerable vs not) and the reliability diagram, per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    bins = [i / 20 for i in range(21)]
    for r in report.results:
        scored = [rec for rec in r.records if rec.confidence is not None]
        if not scored:
            continue
        a.hist([rec.confidence for rec in scored if rec.kind != "unanswerable"], bins=bins, alpha=0.5, label=f"{r.name}: answerable")
        a.hist([rec.confidence for rec in scored if rec.kind == "unanswerable"], bins=bins, alpha=0.5, label=f"{r.name}: not in the reports")
        b.plot([x["mean_confidence"] for x in r.reliability], [x["answerable_share"] for x in r.reliability], "o-", label=r.name)
    a.set_xlabel("gate probability")
    a.set_ylabel("questions")
    a.legend(fontsize=8)
    b.plot([0, 1], [0, 1], "k:", label="perfect calibration")
    b.set_xlabel("mean gate probability (bin)")
    b.set_ylabel("share answerable")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_config_spec(spec: str) -> EvalConfig:
    """``name:key=value,key=value`` -> EvalConfig (``baseline`` alone names the day-one baseline)."""
    if spec == "baseline":
        return BASELINE
    name, _, rest = spec.partition(":")
    overrides = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise RagError(f"config spec {spec!r}: expected key=value, got {item!r}")
        overrides[key.strip()] = value.strip()
    return EvalConfig(name.strip() or "config", overrides)
