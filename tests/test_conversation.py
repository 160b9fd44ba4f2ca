"""Follow-up questions: rewriting rules (pure) and the carried-over report on the real assistant."""

from __future__ import annotations

import pytest

from rag.conversation import follow_up
from rag.schema import Answer, Chunk, Citation


def said(question: str, doc_id: str = "doc-a") -> Answer:
    chunk = Chunk(f"{doc_id}:0", doc_id, "a.txt", "t", "", 0, 4, "一二三四")
    return Answer("…[1]", "answered", [Citation(1, chunk, "一二", 0, 2)], [], question, standalone_question=question)


@pytest.mark.parametrize(
    "previous, question, standalone",
    [
        ("永北圩所在的镇2022年保障了多少户低保？", "那2023年呢？", "永北圩所在的镇2023年保障了多少户低保？"),
        ("辽市镇目前全镇共有多少户低保户？", "那永北圩所在的镇呢？", "永北圩所在的镇目前全镇共有多少户低保户？"),
        ("辽市镇下半年要打造哪两个新农村样板点？", "那城关镇呢？", "城关镇下半年要打造哪两个新农村样板点？"),
        ("华海药业所在镇1-9月规上工业产值是多少？", "自营出口额呢？", "华海药业所在镇1-9月自营出口额是多少？"),
        ("辽市镇上半年引进了哪两个项目？", "它下半年要打造哪两个新农村样板点？", "辽市镇下半年要打造哪两个新农村样板点？"),
        ("永北圩所在的镇2022年开展志愿服务活动多少次？", "那2023年的计划呢？", "永北圩所在的镇2023年有什么工作计划？"),
    ],
)
def test_rewrites(previous, question, standalone):
    assert follow_up(question, [said(previous)]).standalone == standalone


@pytest.mark.parametrize(
    "question",
    ["请问辽市镇上半年引进了哪两个投资额亿元以上的项目？", "2026年江西省的地区生产总值增长目标是多少？", "What about the new recruits of Liaoshi town?"],
)
def test_a_question_naming_its_own_place_does_not_carry_the_previous_report(question):
    turn = follow_up(question, [said("永北圩所在的镇2022年保障了多少户低保？")])
    assert turn.prefer_doc is None and turn.standalone == question


def test_a_question_naming_no_place_keeps_the_report_under_discussion():
    assert follow_up("下半年要打造哪两个新农村样板点？", [said("永北圩所在的镇2022年保障了多少户低保？")]).prefer_doc == "doc-a"


def test_report_carries_over_unless_another_is_named():
    assert follow_up("它的低保户有多少？", [said("辽市镇…？", "doc-l")]).prefer_doc == "doc-l"
    assert follow_up("志愿服务活动多少次？", [said("辽市镇…？", "doc-l")]).prefer_doc == "doc-l"
    assert follow_up("那城关镇呢？", [said("辽市镇下半年要打造哪两个样板点？", "doc-l")]).prefer_doc is None
    assert follow_up("第一个问题", []).prefer_doc is None


@pytest.mark.model
def test_follow_ups_on_the_real_assistant(sample_assistant):
    first = sample_assistant.ask("永北圩所在的镇2022年保障了多少户低保？")
    second = sample_assistant.ask("它2022年开展志愿服务活动多少次？", history=[first])
    assert second.status == "answered" and "150余次" in second.text
    assert second.citations[0].chunk.source == "000_4b3cc5d7d519229c.txt"
    assert second.question == "它2022年开展志愿服务活动多少次？" and "永北圩" in second.standalone_question
    # a figure the carried report does not hold is not borrowed from another report
    third = sample_assistant.ask("下半年要打造哪两个新农村样板点？", history=[first, second])
    assert third.status == "not_found" or third.citations[0].chunk.source == "000_4b3cc5d7d519229c.txt"
    other = sample_assistant.ask("那辽市镇呢？", history=[first, second])
    assert other.citations and other.citations[0].chunk.source == "001_f805fc5d83216290.txt" or other.status == "not_found"


@pytest.mark.model
def test_a_new_question_naming_what_the_carried_report_lacks_leaves_it_and_a_carry_is_said(sample_assistant):
    """A follow-up carried the report under discussion onto a question about another report's company or
    village, and nothing told the user the report had been carried."""
    first = sample_assistant.ask("华海药业所在镇1-9月规上工业产值是多少？")
    carried = sample_assistant.ask("今年新增了多少家规上企业？", history=[first])
    assert carried.carried_report == first.citations[0].chunk.title  # said, so the chat can show it
    for question, source in (("东岸圩清杂投入了多少钱？", "000_4b3cc5d7d519229c.txt"),
                             ("How much was invested in clearing Dong'an polder (东岸圩)?", "000_4b3cc5d7d519229c.txt")):
        other = sample_assistant.ask(question, history=[first])
        assert other.carried_report == "", question
        assert other.status == "not_found" or {c.chunk.source for c in other.citations} == {source}, question
