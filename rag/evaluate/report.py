"""Writing an evaluation down.

In: an ``EvalReport``. Out: ``format_table``, a plain-text table (one row per ``HEADLINE`` metric, one column
per configuration), and ``write_report``, which writes results.json, report.md, hit_at_k.png and -- when the
gate gave probabilities -- gate_reliability.png (``plot_reliability``) into a folder and returns their paths.
matplotlib is imported on first use.
"""

from __future__ import annotations

import json
from pathlib import Path

from .run import EvalReport

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
    md.append("| configuration | overrides | verifier (language model reading doubtful questions) |")
    md.append("|---|---|---|")
    for r in report.results:
        md.append(f"| {r.name} | {', '.join(f'`{k}={v}`' for k, v in r.overrides.items()) or '(config.toml)'} | {r.verifier or 'none'} |")
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
