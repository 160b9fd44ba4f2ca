"""Restricting a question to chosen reports (rag/filters.py, ``Assistant.ask(reports=...)``)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rag.errors import UnknownReportError
from rag.filters import chunk_mask, doc_mask, resolve_reports

DOCS = [SimpleNamespace(doc_id="aaa", source="a.txt"), SimpleNamespace(doc_id="bbb", source="sub/b.txt")]
YONGBEI = "000_4b3cc5d7d519229c.txt"  # 永北圩's town: 1120 households on the minimum living allowance
LIAOSHI = "001_f805fc5d83216290.txt"


def test_names_and_doc_ids_resolve_and_unknown_names_are_named():
    assert resolve_reports(DOCS, None) is None
    assert resolve_reports(DOCS, ["a.txt", "bbb"]) == frozenset({"aaa", "bbb"})
    assert resolve_reports(DOCS, "sub/b.txt") == frozenset({"bbb"})  # one string is one name
    with pytest.raises(UnknownReportError, match=r"'nope.txt', 'b.txt'") as caught:
        resolve_reports(DOCS, ["a.txt", "nope.txt", "b.txt"])
    assert isinstance(caught.value, ValueError)
    with pytest.raises(ValueError, match="empty"):
        resolve_reports(DOCS, [])
    with pytest.raises(ValueError, match="no such report"):
        resolve_reports(DOCS, [3])


def test_masks():
    docs_ok = doc_mask(["aaa", "bbb", "ccc"], frozenset({"bbb"}))
    assert docs_ok.tolist() == [False, True, False]
    assert chunk_mask(docs_ok, [0, 1, 1, 2]).tolist() == [False, True, True, False]
    assert doc_mask(["aaa"], None).tolist() == [True]



def _sources(answer):
    return {c.chunk.source for c in answer.citations} | {h.chunk.source for h in answer.hits}


@pytest.mark.model
def test_a_restricted_question_cites_only_that_report(sample_assistant):
    question = "2022年一共保障了多少户城乡低保？"
    answer = sample_assistant.ask(question, reports=[YONGBEI])
    assert answer.citations and _sources(answer) == {YONGBEI}
    assert "1120户" in answer.text
    other = sample_assistant.ask(question, reports=[LIAOSHI])
    assert _sources(other) == {LIAOSHI}


@pytest.fixture(scope="module")
def narrow_assistant(sample_index_dir, e5_embedder):
    """The real assistant with only 6 candidates per signal: a filter applied to the candidates afterwards
    would leave few or none from a report the question does not point at."""
    from rag.config import load_settings
    from rag.pipeline import Assistant

    return Assistant(sample_index_dir, load_settings(overrides={"retrieval.candidates": 6}), e5_embedder)


@pytest.mark.model
@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_the_filter_is_inside_retrieval_so_top_k_is_full(narrow_assistant, mode):
    """The question names 辽市镇 (another report); restricted to 永北圩's report it still gets k passages from
    there, although none of them is among the candidates of the unrestricted search."""
    question = "辽市镇上半年引进了哪两个投资额亿元以上的项目？"
    unrestricted = narrow_assistant.ask(question, top_k=5, mode=mode)
    assert {h.chunk.source for h in unrestricted.hits} == {LIAOSHI}
    answer = narrow_assistant.ask(question, top_k=5, mode=mode, reports=[YONGBEI])
    assert len(answer.hits) == 5 and {h.chunk.source for h in answer.hits} == {YONGBEI}


@pytest.mark.model
def test_a_which_reports_question_stays_within_the_chosen_reports(sample_assistant):
    chosen = [YONGBEI, "003_5d47fbe46ea87f98.txt"]
    answer = sample_assistant.ask("哪些报告提到了落实“河长制”？", reports=chosen)
    assert _sources(answer) <= set(chosen)


@pytest.mark.model
def test_a_follow_up_does_not_carry_a_report_outside_the_restriction(sample_assistant):
    first = sample_assistant.ask("永北圩所在的镇2022年一共保障了多少户城乡低保？")
    assert first.citations[0].chunk.source == YONGBEI
    follow = sample_assistant.ask("那开展志愿服务活动多少次？", history=[first], reports=[LIAOSHI])
    assert _sources(follow) <= {LIAOSHI}


@pytest.mark.model
def test_an_unknown_report_is_a_clear_error(sample_assistant):
    with pytest.raises(ValueError, match=r"no such report in the index: '不存在的报告.txt'"):
        sample_assistant.ask("低保户有多少？", reports=[YONGBEI, "不存在的报告.txt"])
    doc_id = next(d.doc_id for d in sample_assistant.store.docs if d.source == YONGBEI)
    assert _sources(sample_assistant.ask("2022年一共保障了多少户城乡低保？", reports=[doc_id])) == {YONGBEI}


@pytest.mark.model
def test_cli_ask_only_in_one_report(sample_index_dir):
    from test_cli import run

    result = run("ask", "--index", str(sample_index_dir), "--json", "--only", YONGBEI, "2022年一共保障了多少户城乡低保？")
    assert result.returncode == 0, result.stderr
    import json

    out = json.loads(result.stdout)
    assert {c["source"] for c in out["citations"]} | {h["source"] for h in out["hits"]} == {YONGBEI}
    bad = run("ask", "--index", str(sample_index_dir), "--only", "nope.txt", "低保户有多少？")
    assert bad.returncode == 2 and "no such report in the index: 'nope.txt'" in bad.stderr
