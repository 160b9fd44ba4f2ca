"""Report context: the place a report is about, found in its title or its text."""

from __future__ import annotations

from rag.context import report_place


def test_a_place_at_the_head_of_the_title():
    assert report_place("城南镇2023年工作总结", "") == "城南镇"


def test_a_distinctive_name_the_text_follows_with_a_kind_of_place():
    text = "成立辽市镇党校。辽市镇敬老院建成。辽市中学扩建。"
    assert report_place("2022年上半年工作总结", text, ["中晶高科", "辽市"]) == "辽市镇"


def test_no_place_when_the_report_masks_it():
    assert report_place("镇2022年工作总结", "*镇坚持稳中求进。生态宜居的滨水城镇。", ["宜居", "*镇"]) == ""


def test_a_slogan_before_town_is_not_a_place():
    assert report_place("2022年工作总结", "打造共同富裕镇样板。", ["共同富裕"]) == ""
