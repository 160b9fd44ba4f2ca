"""Exporting answers with citations (ui/export.py): Markdown text and .docx bytes, read back with python-docx."""

from __future__ import annotations

import io

import pytest

from rag.schema import Answer, Chunk, Citation
from ui.export import answers_docx, answers_markdown, md_escape, write_exports

REPORT = "一、社会保障\n全镇共有低保户***户，其中_城镇_低保*户。\n二、农业\n新建高标准农田1200亩[注]。"


def _answer(question: str, text: str, quote: str, status: str = "answered", standalone: str = "") -> Answer:
    start = REPORT.index(quote)
    chunk = Chunk("d1:0", "d1", "辽市镇.txt", "辽市镇2022年工作总结", "辽市镇2022年工作总结 › 一、社会保障", 0, len(REPORT), REPORT)
    citation = Citation(1, chunk, quote, start, start + len(quote))
    return Answer(text, status, [citation, citation], question=question, standalone_question=standalone or question)


MASKED = _answer("辽市镇有多少户低保户？", "全镇共有低保户***户[1]。", "全镇共有低保户***户，其中_城镇_低保*户。", "redacted")
FARMLAND = _answer("那农田呢？", "新建高标准农田1200亩[1]。", "新建高标准农田1200亩[注]。", standalone="辽市镇新建了多少高标准农田？")


def _docx_text(data: bytes) -> str:
    from docx import Document

    return "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)


def test_markdown_has_question_answer_and_numbered_sources_with_exact_quotes():
    md = answers_markdown([MASKED, FARMLAND], exported_at="2026-01-01 09:00")
    assert "## 问题 1：辽市镇有多少户低保户？" in md and "## 问题 2：那农田呢？" in md
    assert "理解为：辽市镇新建了多少高标准农田？" in md
    assert "报告中这个数字被遮盖" in md
    assert "回答：新建高标准农田1200亩[1]。" in md  # the marker stays a plain [n]
    assert md.count("1. 《辽市镇2022年工作总结》 › 一、社会保障") == 2  # one source per number, per answer
    start = REPORT.index("全镇共有低保户")
    assert f"`辽市镇.txt`，字符 {start}–{start + len(MASKED.citations[0].quote)}" in md


def test_markdown_renders_masked_figures_and_brackets_exactly_as_printed():
    from markdown_it import MarkdownIt

    html = MarkdownIt().render(answers_markdown([MASKED, FARMLAND]))
    assert "全镇共有低保户***户，其中_城镇_低保*户。" in html  # not <em>/<strong>
    assert "新建高标准农田1200亩[注]。" in html
    assert "<em>城镇</em>" not in html and "（以“*”显示）" in html


def test_md_escape_keeps_every_character():
    text = r"a*b_c`d[e]f<g>h#i|j~k\l"
    assert md_escape(text).replace("\\", "") == text.replace("\\", "")
    assert "\\*" in md_escape("***")


def test_docx_holds_the_same_content_literally():
    text = _docx_text(answers_docx([MASKED, FARMLAND], exported_at="2026-01-01 09:00"))
    assert "问题 1：辽市镇有多少户低保户？" in text and "问题 2：那农田呢？" in text
    assert "回答：全镇共有低保户***户[1]。" in text
    assert "“全镇共有低保户***户，其中_城镇_低保*户。”" in text  # no escaping in Word
    assert "[1] 《辽市镇2022年工作总结》 › 一、社会保障 — 文件 辽市镇.txt" in text
    assert "理解为：辽市镇新建了多少高标准农田？" in text


def test_not_found_answers_say_so_and_list_no_sources():
    nothing = Answer("报告中没有找到。", "not_found", question="哪个镇建成了地铁站？")
    md = answers_markdown([nothing])
    assert "报告中没有找到能回答这个问题的内容" in md and "（无引用）" in md
    assert "（无引用）" in _docx_text(answers_docx([nothing]))


def test_english_labels():
    md = answers_markdown([FARMLAND], lang="en")
    assert "## Question 1" in md and "**Sources**" in md


def test_write_exports_writes_both_files(tmp_path):
    md, docx = write_exports([FARMLAND], tmp_path)
    assert md.suffix == ".md" and docx.suffix == ".docx" and md.name.startswith("回答-")
    assert "新建高标准农田1200亩" in md.read_text(encoding="utf-8")
    assert "新建高标准农田1200亩" in _docx_text(docx.read_bytes())


@pytest.mark.model
def test_a_real_masked_answer_exports_its_stars_unchanged(sample_assistant):
    answer = sample_assistant.ask("辽市镇目前全镇共有多少户低保户？")
    assert answer.status == "redacted" and answer.citations
    quote = answer.citations[0].quote
    assert "*" in quote
    text = _docx_text(answers_docx([answer]))
    assert quote in text and answer.citations[0].chunk.source in text
    from markdown_it import MarkdownIt

    rendered = MarkdownIt().render(answers_markdown([answer]))
    assert quote.split("\n")[0] in rendered
