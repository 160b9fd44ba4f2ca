"""Figures over a set of question records.

In: ``QuestionRecord``s (from ``scoring.score_question``). Out: dicts of figures -- ``summarise`` (retrieval
hit@k, MRR@10 and nDCG@10 by report and by evidence passage with ranx; answer, citation and behaviour rates;
per-stage latency p50/p95), ``breakdown`` (the same per group), ``reliability`` (the gate's calibration bins)
and ``hit_curve`` (hit@1..10). Pure computation; ranx is imported on first use.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Callable

from .scoring import QuestionRecord

KS = (1, 3, 5, 10)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


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


def hit_curve(records: list[QuestionRecord], level: str) -> list[float]:
    if level == "report":
        ranks = [r.report_rank for r in records if r.gold_reports]
    else:
        ranks = [r.evidence_rank for r in records if r.gold_passages]
    if not ranks:
        return []
    return [sum(1 for x in ranks if x is not None and x <= k) / len(ranks) for k in range(1, 11)]
