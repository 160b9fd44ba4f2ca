"""Choosing reports to ask about (ui/report_filter.py): pure functions over the library's list."""

from __future__ import annotations

from rag.library import ReportInfo
from ui.report_filter import matching_reports, report_label, scope_choices, selected_reports

REPORTS = [
    ReportInfo("a.txt", "辽市镇2022年工作总结", "2022", 100, 3),
    ReportInfo("b.txt", "永北镇2023年工作计划", "2023", 100, 3),
    ReportInfo("Gov/c.txt", "广东省政府工作报告", "2026", 100, 3),
]


def test_every_word_must_match_title_file_or_period():
    assert matching_reports(REPORTS, "") == ["a.txt", "b.txt", "Gov/c.txt"]
    assert matching_reports(REPORTS, "2022") == ["a.txt"]
    assert matching_reports(REPORTS, "镇  2023") == ["b.txt"]
    assert matching_reports(REPORTS, "gov") == ["Gov/c.txt"]  # case-insensitive
    assert matching_reports(REPORTS, "上海") == []


def test_choices_keep_what_was_selected_and_drop_what_is_gone():
    assert scope_choices(REPORTS, "2023", ["a.txt", "deleted.txt"]) == [
        (report_label(REPORTS[0]), "a.txt"), (report_label(REPORTS[1]), "b.txt")]
    assert report_label(REPORTS[0]) == "辽市镇2022年工作总结 · a.txt（2022）"
    assert selected_reports([]) is None and selected_reports(None) is None and selected_reports(("a.txt",)) == ["a.txt"]
