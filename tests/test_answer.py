"""The extractive answerer on hand-made passages (unit tests of its rules; quality is in test_pipeline)."""

from __future__ import annotations

from rag.answer import NOT_FOUND_TEXT, ExtractiveAnswerer
from rag.config import AnswerSettings
from rag.query import plan_query
from rag.schema import Chunk, Hit


def hits(*texts, doc="d1"):
    out = []
    pos = 0
    for i, t in enumerate(texts):
        c = Chunk(f"{doc}:{pos}", doc, f"{doc}.txt", "报告", "一、民生", pos, pos + len(t), t)
        out.append(Hit(c, 1.0 / (i + 1), i + 1))
        pos += len(t) + 1
    return out


def answerer():
    return ExtractiveAnswerer(AnswerSettings(), idf=lambda tok: 1.0)


def test_quote_is_a_substring_of_the_cited_chunk_and_keeps_its_figures():
    hs = hits("全面加强社会保障工作。一年来全镇共保障城乡低保1120户1774人，累计发放各项民生资金1092万余元。")
    a = answerer().answer(plan_query("全镇共保障城乡低保多少户？"), hs)
    assert a.status == "answered"
    c = a.citations[0]
    assert c.quote in c.chunk.text and "1120户" in c.quote
    assert a.text.endswith("[1]。") and "1120户" in a.text
    assert c.chunk.text[c.quote_start - c.chunk.start : c.quote_end - c.chunk.start] == c.quote


def test_masked_figure_is_reported_not_guessed():
    hs = hits("截至目前全镇现共有低保户*户*人，今年新批低保*户*人。另有困难群众120人。")
    a = answerer().answer(plan_query("全镇目前共有多少户低保户？"), hs)
    assert a.status == "redacted"
    assert "*" in a.text and "遮盖" in a.text
    assert not any(ch.isdigit() for ch in a.text.split("原文")[0])


def test_a_masked_neighbour_does_not_hide_the_real_figure():
    hs = hits("在*市综治民调中，我镇排*市第一。")
    a = answerer().answer(plan_query("在综治民调中排名第几？"), hs)
    assert a.status == "answered" and "第一" in a.text


def test_nothing_relevant_is_not_found_with_no_citations():
    hs = hits("全面加强社会保障工作。一年来全镇共保障城乡低保1120户1774人。")
    a = answerer().answer(plan_query("全镇建成了多少座地铁站和机场？"), hs)
    assert a.status == "not_found" and a.citations == [] and a.text == NOT_FOUND_TEXT


def test_no_hits_is_not_found():
    a = answerer().answer(plan_query("随便问问？"), [])
    assert a.status == "not_found" and a.citations == []


def test_long_sentence_is_trimmed_to_the_clauses_that_answer():
    long = ("坚持以人民为中心，持续推进各项工作，取得明显成效，群众满意度不断提升，"
            "全镇拆除违章建筑1.29万平方米，完成率129%，排名居全市第三，为下一步工作打下了坚实基础。")
    a = answerer().answer(plan_query("拆除违章建筑多少平方米？"), hits(long))
    quote = a.citations[0].quote
    assert "1.29万平方米" in quote and len(quote) < len(long) - 20


def test_list_question_keeps_the_enumeration():
    text = "发动农户积极种植云芝、羊肚菌、高淀粉含量红薯，探索实施“一地三种”轮耕轮作模式，带动农户增收。"
    a = answerer().answer(plan_query("“一地三种”轮耕轮作模式种的是哪三种作物？"), hits(text))
    assert all(x in a.text for x in ("云芝", "羊肚菌", "红薯"))


def test_which_reports_cites_one_passage_per_report():
    hs = hits("严格落实河长制，全覆盖排查河湖问题。", doc="a") + hits("全面落实“河长制”，开展巡河。", doc="b") + hits("种植水稻。", doc="c")
    for i, h in enumerate(hs):
        hs[i] = Hit(h.chunk, h.score, i + 1)
    a = answerer().answer(plan_query("哪些报告提到了落实“河长制”？"), hs)
    assert a.status == "answered"
    assert sorted(c.chunk.doc_id for c in a.citations) == ["a", "b"]
    assert [c.n for c in a.citations] == [1, 2]
