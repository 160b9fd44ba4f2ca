"""Rendering an answer (markers, sources, status) is a pure function: tested without Gradio."""

from __future__ import annotations

import html
import re

from rag.schema import Answer, Chunk, Citation, Hit
from ui.render import (
    answer_markdown,
    answer_with_sources_markdown,
    highlight,
    report_text,
    library_rows,
    passage_view_html,
    report_name,
    report_names,
    chat_message,
    collapse_sources,
    sources_block,
    where,
)

CHUNK = Chunk("d:100", "d", "000.txt", "2022年工作总结", "2022年工作总结 › 三、民生 › （一）社会保障", 100, 140,
              "（一）社会保障不断完善。一年来全镇共保障城乡低保1120户1774人。<b>")


def answered():
    quote = "一年来全镇共保障城乡低保1120户1774人"
    a = CHUNK.text.index(quote)
    c = Citation(1, CHUNK, quote, CHUNK.start + a, CHUNK.start + a + len(quote))
    return Answer(f"{quote}[1]。", "answered", [c], [Hit(CHUNK, 0.8123, 1)], "多少户低保？")


def test_markers_become_links_with_the_quote_as_tooltip():
    md = answer_markdown(answered())
    assert '<a href="#src-0-1" title="一年来全镇共保障城乡低保1120户1774人">[1]</a>' in md
    assert "1120户" in md


def test_markers_without_a_citation_stay_plain():
    a = Answer("文字[3]。", "answered", [], [], "q")
    assert "[3]" in html.unescape(answer_markdown(a)) and "href" not in answer_markdown(a)


def test_status_lines():
    red = Answer("报告中该数字以“*”遮盖。原文：“低保户*户”[1]", "redacted", answered().citations, [], "q")
    md = answer_markdown(red)
    assert "rag-status" in md.split("\n\n")[0]
    assert md.count("以“&#42;”遮盖") == 1 and "*" not in md.replace(' title="', "").split('title="')[0]
    nf = Answer("报告中没有找到能回答这个问题的内容。", "not_found", [], [], "q")
    md = answer_markdown(nf)
    assert "没有找到" in md and md.count("没有找到") == 1
    assert "not contain" in answer_markdown(nf, lang="en")


def test_follow_up_shows_how_it_was_understood():
    a = Answer("x[1]", "answered", answered().citations, [], "那2023年呢？", standalone_question="永北圩所在的镇2023年保障了多少户低保？")
    assert "理解为" in answer_markdown(a) and "2023年保障" in answer_markdown(a)


def test_a_carried_over_report_is_named_in_the_understood_line_escaped():
    a = Answer("x[1]", "answered", answered().citations, [], "那2023年呢？", standalone_question="2023年保障了多少户低保？",
               carried_report="*镇2022年<b>工作</b>总结")
    md = answer_markdown(a)
    assert "理解为：2023年保障了多少户低保？（沿用上文的报告《&#42;镇2022年&#60;b&#62;工作&#60;/b&#62;总结》）" in md
    assert "<b>" not in md
    en = answer_markdown(a, lang="en")
    assert "understood as" in en and "&#42;镇2022年" in en and "沿用" not in en
    # a carried report is named even when the question needed no rewriting; none carried: no such words
    same = Answer("x", "answered", [], [], "低保呢？", standalone_question="低保呢？", carried_report="某镇总结")
    assert "理解为：低保呢？（沿用上文的报告《某镇总结》）" in answer_markdown(same)
    assert "沿用" not in answer_markdown(Answer("x", "answered", [], [], "q", standalone_question="q2"))


def test_sources_block_highlights_the_quote_ranks_and_escapes_html():
    block = sources_block(answered(), turn=3, names={"000.txt": "城关镇 · 2022年工作总结"})
    assert block.startswith("<details class='rag-sources' open><summary>来源（1）</summary>") and "\n" not in block
    assert "<mark>一年来全镇共保障城乡低保1120户1774人</mark>" in block
    assert "城关镇 · 2022年工作总结" in block and "（一）社会保障" in block and "id='src-3-1'" in block
    assert "第1位" in block and "width:100%" in block and "0.812" not in block  # a rank and a bar, not a raw score
    assert "<b>" not in block.replace("<b>[1]", "") and "&#60;b&#62;" in block
    assert sources_block(Answer("…", "not_found", [], [], "q"), turn=1) == ""


def test_a_chat_message_links_its_markers_to_its_own_sources():
    md = chat_message(answered(), turn=2)
    assert 'href="#src-2-1"' in md and "id='src-2-1'" in md and "《" not in md.split("<details")[0]
    assert "2022年工作总结" in md  # no readable name given: the title
    folded = collapse_sources([{"type": "text", "text": md}])[0]["text"]
    assert "<details class='rag-sources'>" in folded and collapse_sources(md) == folded


def test_relevance_is_relative_to_the_best_hit():
    best = answered()
    other = Chunk("d:200", "d", "000.txt", "t", "", 200, 210, "另一段")
    a = Answer(best.text, "answered", best.citations, [Hit(other, 1.6, 1), Hit(CHUNK, 0.8, 2)], "q")
    assert "第2位" in sources_block(a, 1) and "width:50%" in sources_block(a, 1)


def test_highlight_with_context():
    assert highlight("abcdefghij", 4, 6, context=2) == "…cd<mark>ef</mark>gh…"
    assert highlight("a<b", 1, 2) == "a<mark>&#60;</mark>b"


def test_api_markdown_lists_numbered_sources():
    md = answer_with_sources_markdown(answered())
    assert md.startswith("一年来全镇共保障城乡低保1120户1774人[1]。")
    assert "1. 2022年工作总结 › 三、民生 › （一）社会保障 (000.txt" in md and "“一年来全镇共保障城乡低保1120户1774人”" in md


def test_where_does_not_repeat_the_title():
    assert where(CHUNK) == "2022年工作总结 › 三、民生 › （一）社会保障"
    other = Chunk("d:0", "d", "x.txt", "报告", "一、民生", 0, 1, "x")
    assert where(other) == "报告 › 一、民生"


def test_passage_viewer_and_library_rows():
    view = passage_view_html("辽市镇 · 标题", "a.txt", "一、民生 › （一）低保", "前文。引用。后文。", 3, 6)
    assert "<mark id='rag-cited'>引用。</mark>" in view
    assert "辽市镇 · 标题" in view and "<div class='rag-section'>一、民生 › （一）低保</div>" in view
    from rag.library import ReportInfo

    assert library_rows([ReportInfo("a.txt", "总结", "2022年", 100, 3)]) == [["2022年总结", "a.txt", "2022年", 100, 3]]


def test_readable_report_names():
    assert report_name("2022年上半年工作总结", "001_f805.txt", "2022年", "辽市镇") == "辽市镇 · 2022年上半年工作总结"
    assert report_name("城南镇2023年工作总结", "x.txt", "2023年", "城南镇") == "城南镇 · 2023年工作总结"
    # no title line (the title is the file's stem): the period and “工作报告”, never the hash-like name
    assert report_name("003_5d47fbe46ea87f98", "003_5d47fbe46ea87f98.txt", "2022年") == "2022年工作报告"
    # the place was masked away (“*镇2022年…” printed as “镇2022年…”)
    assert report_name("镇2022年工作总结及2023年工作思路", "002.txt", "2022–2023年") == "2022年工作总结及2023年工作思路"


def test_reports_with_the_same_name_are_told_apart():
    from rag.library import ReportInfo

    reports = [ReportInfo("003_a.txt", "003_a", "2022年", 1, 1), ReportInfo("004_b.txt", "004_b", "2022年", 1, 1),
               ReportInfo("001.txt", "2022年上半年工作总结", "2022年", 1, 1, "辽市镇")]
    assert report_names(reports) == {"003_a.txt": "2022年工作报告（003_a.txt）", "004_b.txt": "2022年工作报告（004_b.txt）",
                                     "001.txt": "辽市镇 · 2022年上半年工作总结"}


def test_report_text_reads_as_printed_in_markdown_and_html():
    """A masked figure must not become italics, nor a heading, list, link, LaTeX or tag."""
    text = "低保户*户*人，_x_ [1](y) # 1. $$a$$ <b>&amp; \\*"
    escaped = report_text(text)
    assert not any(ch in re.sub(r"&#\d+;", "", escaped) for ch in "*_[]#$<>\\") and "&#42;" in escaped
    assert html.unescape(escaped) == text
    assert report_text("一\n二") == "一<br>二"
    assert report_text("1. 第一") == "&#49;. 第一" and report_text("- 项") == "&#45; 项"
    assert report_text("broken.txt (1)!") == "broken.txt (1)!"  # nothing to escape: readable as it is


def test_masked_answer_keeps_its_stars_and_markers():
    quote = "低保户*户*人"
    chunk = Chunk("d:0", "d", "a.txt", "t", "", 0, 20, f"截至目前{quote}。")
    c = Citation(1, chunk, quote, 4, 4 + len(quote))
    md = answer_markdown(Answer(f"原文：“{quote}”[1]", "redacted", [c], [], "q"))
    assert "原文：“低保户&#42;户&#42;人”<sup><a href=" in md and 'title="低保户*户*人"' in md
