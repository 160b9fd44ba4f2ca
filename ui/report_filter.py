"""Choosing the reports a question may use: pure functions over the library's report list, no Gradio.

In: ``ReportInfo``-like objects (``source``, ``title``, ``period``) and what the user typed. Out: choices for
a multi-select (label, file name) and the file names that match a filter such as “2022 辽市” (every word must
appear in the title, file name or period; case-insensitive), so a region or a year is picked in one step.
"""

from __future__ import annotations

from typing import Iterable, Sequence


def report_label(report) -> str:
    """“title · file (period)” for the multi-select."""
    period = f"（{report.period}）" if getattr(report, "period", "") else ""
    return f"{report.title} · {report.source}{period}"


def matching_reports(reports: Iterable, query: str) -> list[str]:
    """File names of the reports whose title, file name or period contain every word of ``query`` (all of
    them for an empty query), in library order."""
    words = [w.casefold() for w in (query or "").split()]
    out = []
    for r in reports:
        haystack = f"{r.title} {r.source} {getattr(r, 'period', '')}".casefold()
        if all(w in haystack for w in words):
            out.append(r.source)
    return out


def scope_choices(reports: Sequence, query: str, selected: Sequence[str] | None) -> list[tuple[str, str]]:
    """(label, file name) of the reports matching ``query``, plus those already selected (a filter must not
    drop a choice the user made); reports no longer in the library are left out."""
    keep = set(matching_reports(reports, query)) | set(selected or ())
    return [(report_label(r), r.source) for r in reports if r.source in keep]


def selected_reports(selected: Sequence[str] | None) -> list[str] | None:
    """The restriction to pass to ``Assistant.ask``: None when nothing is selected (every report)."""
    return list(selected) if selected else None
