"""The report a question names by place and year: which reports fit the name, and retrieval keeping to them."""

from __future__ import annotations

import pytest

from rag.index.records import StoredDocument
from rag.report_identity import ReportIdentities, named_report

# three small reports in the shapes of the library: a city report whose place and year are in its title, a
# province report of another year that mentions the city, and a city report named only in its text
CITY_2019 = """2019年临江市人民政府工作报告
各位代表：
一、2018年工作回顾
过去一年，临江市经济平稳增长。全市港口货物吞吐量达到5.4亿吨，增长6.2%。临江港集装箱吞吐量达到1930万标准箱。
二、2019年工作安排
今年全市生产总值预期增长6.5%以上。
"""
PROVINCE_2026 = """2026年江海省政府工作报告
各位代表：
一、2025年工作回顾
全省港口货物吞吐量达到19.1亿吨。临江港、东湾港集装箱吞吐量保持全国前列，其中临江市港口货物吞吐量达到7.2亿吨。
二、2026年工作安排
全省生产总值预期增长5%左右。
"""
TOWN_REPORT = """各位代表：
现在，我代表北湖市人民政府向大会报告工作。
一、2020年工作回顾
2020年，北湖市生产总值增长3.1%。全市港口货物吞吐量达到1.2亿吨。
二、2021年主要任务
今年全市生产总值预期增长6%。
"""


def docs():
    return [
        StoredDocument("a", "city_2019.txt", "2019年临江市人民政府工作报告", "utf-8", "2019年临江市人民政府工作报告｜2018–2019年｜临江、临江港", CITY_2019),
        StoredDocument("b", "prov_2026.txt", "2026年江海省政府工作报告", "utf-8", "2026年江海省政府工作报告｜2025–2026年｜江海、临江港", PROVINCE_2026),
        StoredDocument("c", "lb_9f3a.txt", "各位代表：", "utf-8", "各位代表：｜2020–2021年｜北湖、北湖市", TOWN_REPORT),
    ]


@pytest.mark.parametrize(
    "question, fitting",
    [
        ("2019年临江市政府工作报告中，港口货物吞吐量是多少？", {"a"}),
        ("临江市回顾2018年工作的政府工作报告里，集装箱吞吐量是多少？", {"a"}),  # named by the year it reviews
        ("2026年临江市政府工作报告提出的生产总值增长目标是多少？", set()),  # the library has no such report
        ("2026年江海省政府工作报告中，临江市港口货物吞吐量是多少？", {"b"}),  # the city is what is asked about
        ("北湖市2021年生产总值预期增长多少？", {"c"}),  # a report whose place only its context line names
        ("2021年政府工作报告提出生产总值增长多少？", {"c"}),
        # English: the clause that says “report”, its years and the places the dictionary knows
        ("In Linjiang's 2019 government work report, what was the port's cargo throughput?", {"a"}),
        ("What growth target does the 2026 government work report of Jianghai set?", {"b"}),
        ("Which of the 2019, 2021 and 2026 work reports mention container throughput?", {"a", "b", "c"}),
    ],
)
def test_the_reports_that_fit_the_name_a_question_gives(question, fitting):
    assert ReportIdentities(docs()).fitting(named_report(question)) == fitting


def test_a_question_that_names_no_report_may_use_every_report():
    assert not named_report("全市港口货物吞吐量是多少？")
    assert ReportIdentities(docs()).fitting(named_report("全市港口货物吞吐量是多少？")) is None


@pytest.fixture(scope="module")
def assistant(tmp_path_factory, e5_embedder):
    from rag.config import load_settings
    from rag.pipeline import Assistant

    folder = tmp_path_factory.mktemp("named-reports")
    for name, text in (("city_2019.txt", CITY_2019), ("prov_2026.txt", PROVINCE_2026), ("lb_9f3a.txt", TOWN_REPORT)):
        (folder / name).write_text(text, encoding="utf-8")
    return Assistant.from_dir(folder, tmp_path_factory.mktemp("named-index"), load_settings(), e5_embedder)


def test_retrieval_keeps_to_the_report_the_question_names(assistant):
    """The province report states the city's port figure too; a question naming the city's own report by place
    and year gets passages of that report only, and the answer cites its figure."""
    result = assistant.retriever.search("2019年临江市政府工作报告中，全市港口货物吞吐量是多少？")
    assert result.hits and {h.chunk.source for h in result.hits} == {"city_2019.txt"}
    answer = assistant.ask("2019年临江市政府工作报告中，全市港口货物吞吐量是多少？")
    assert "5.4亿吨" in answer.text and "7.2亿吨" not in answer.text


def test_a_report_the_library_lacks_is_seen_by_the_gate(assistant):
    """No report fits “2026年临江市…”: retrieval searches every report, and the gate's features say that no
    passage is of the report named (its weight is fitted on the train split)."""
    from rag.answer.features import gate_features
    from rag.answer.focus import make_focus
    from rag.query import plan_query

    question = "2026年临江市政府工作报告中，全市港口货物吞吐量是多少？"
    result = assistant.retriever.search(question)
    assert result.hits
    focus = make_focus(plan_query(question), assistant.store.idf)
    ranked = assistant.gate.score_spans(focus, result.hits, None, pool=0)
    features = gate_features(focus, ranked[0], ranked, ranked[0].score, 0.0)
    assert features["named_report_nowhere"] == 1.0
