"""Reading what a question asks for: locator phrases, kinds, units."""

from __future__ import annotations

import pytest

from rag.query import find_locator, plan_query


@pytest.mark.parametrize(
    "question, locator, rest_starts",
    [
        ("永北圩所在的城关镇2022年一共保障了多少户城乡低保？", "永北圩", "2022年"),
        ("华海药业所在镇1-9月自营出口额是多少？", "华海药业", "1-9月"),
        ("临海这个镇的青年干部育才工程叫什么？", "临海", "青年干部"),
        ("以花鼓戏巡演的那个镇，在综治民调中排名第几？", "以花鼓戏巡演", "在综治民调"),
        ("推行“一地三种”的镇，外出创业人员到哪些省份承包食堂？", "推行“一地三种", "外出创业"),
        ("辽市镇上半年引进了哪两个投资额亿元以上的项目？", "辽市镇", "上半年"),
        ("全镇共有多少户低保户？", "", "全镇"),
    ],
)
def test_locators(question, locator, rest_starts):
    loc, rest = find_locator(question)
    assert loc == locator
    assert rest.startswith(rest_starts)


@pytest.mark.parametrize(
    "question, kind, units",
    [
        ("永北圩所在的城关镇2022年一共保障了多少户城乡低保？涉及多少人？", "number", ("户", "人")),
        ("辽市镇上半年财政收入完成了全年任务的百分之多少？", "number", ("%", "元")),
        ("城关镇2022年开展核酸检测多少万人次？", "number", ("人次",)),
        ("华海药业所在镇2022年向部队输送了几名新兵？", "number", ("名",)),
        ("辽市镇作为特色高效农业重点发展的是哪几种水果？", "list", ()),
        ("辽市镇创新开展的网格化社会治理活动叫什么名字？", "fact", ()),
        ("哪些报告提到了落实“河长制”？", "which_reports", ()),
        ("这些报告里哪个镇建成了地铁站？", "which_reports", ()),
        ("How many households received the minimum living allowance?", "number", ("户",)),
        ("东营市对雇佣全日制大学生的企业有何补贴政策？", "open", ()),
        ("黑龙江省是如何解决部分农民工不能外出务工这一问题的？", "open", ()),
        ("How does the town handle returning workers?", "open", ()),
    ],
)
def test_kinds_and_units(question, kind, units):
    plan = plan_query(question)
    assert plan.kind == kind
    assert plan.units == units


def test_english_detection():
    assert plan_query("What was the export value in the town where Huahai Pharmaceutical is based?").english
    assert not plan_query("华海药业所在镇的GDP是多少？").english
