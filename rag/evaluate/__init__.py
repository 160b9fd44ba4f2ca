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

Modules, each with one job: ``questions`` (the question file), ``scoring`` (one answer against its gold labels),
``metrics`` (figures over many records), ``run`` (configurations, indexes, ``evaluate``) and ``report``
(tables, report.md, plots). Everything is importable from here.
"""

from __future__ import annotations

from .metrics import KS, breakdown, hit_curve, reliability, summarise
from .questions import ANSWERABLE, KINDS_WITH_ANSWERS, EvalQuestion, load_questions
from .report import HEADLINE, format_table, plot_reliability, write_report
from .run import (
    BASELINE,
    ConfigResult,
    EvalConfig,
    EvalReport,
    corpus_assistant,
    evaluate,
    index_dir_for,
    parse_config_spec,
)
from .scoring import (
    Gold,
    QuestionRecord,
    char_f1,
    contains_answer,
    normalise_answer,
    score_question,
    unsupported_figures,
)

__all__ = [
    "ANSWERABLE", "BASELINE", "HEADLINE", "KINDS_WITH_ANSWERS", "KS", "ConfigResult", "EvalConfig", "EvalQuestion",
    "EvalReport", "Gold", "QuestionRecord", "breakdown", "char_f1", "contains_answer", "corpus_assistant",
    "evaluate", "format_table", "hit_curve", "index_dir_for", "load_questions", "normalise_answer",
    "parse_config_spec", "plot_reliability", "reliability", "score_question", "summarise", "unsupported_figures",
    "write_report",
]
