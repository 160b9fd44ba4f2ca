"""A language model translates English questions (rag/translate.py): its translation is searched and read
beside the dictionary's words, and its absence, failure or silence under load costs nothing but itself.

Stand-in translators appear only in the tests of the code around the model (what is passed where, what happens
when it fails); the tests marked ``model`` use the real local model."""

from __future__ import annotations

import pytest

from rag.config import load_settings
from rag.errors import ConfigError
from rag.query import plan_query
from rag.translate import checked, messages, translation

from test_llm_real import GGUF, HAVE_LLAMA


class StandIn:
    identity = "stand-in"

    def __init__(self, reply: str = "", error: Exception | None = None):
        self.reply, self.error, self.asked = reply, error, []

    def translate(self, question: str) -> str:
        self.asked.append(question)
        if self.error is not None:
            raise self.error
        return self.reply


def test_a_reply_is_a_translation_only_if_it_is_chinese_and_adds_no_number():
    q = "How many 5G base stations had Zhejiang built by the end of 2020?"
    assert checked(q, "浙江省截至2020年底累计建成5G基站多少个？\n（注）") == "浙江省截至2020年底累计建成5G基站多少个？"
    assert checked(q, "浙江省截至2020年底已建成5G基站10000个。") == ""  # it answered, with a figure of its own
    assert checked(q, "浙江省截至2020年底已建成5G基站多少个？共10000个") == ""
    assert checked(q, "2021年政府工作报告提到浙江帮助建成5G基站。") == ""  # a statement, not a question
    assert checked("What was the export value from January to September?", "1-9月出口额是多少？") == "1-9月出口额是多少？"
    assert checked(q, "How many 5G base stations?") == ""  # no Chinese
    assert checked(q, "") == ""
    assert checked("What was the GDP growth target of 6,5 percent for 2024?", "2024年GDP增长目标65%是多少？") == "2024年GDP增长目标65%是多少？"


def test_the_prompt_keeps_its_examples_and_cuts_a_long_question():
    m = messages("x" * 5000)
    assert m[0]["role"] == "system" and m[-1]["role"] == "user"
    assert len(m[-1]["content"]) < 500
    assert [x["role"] for x in m[1:-1]] == ["user", "assistant"] * ((len(m) - 2) // 2)


def test_the_translation_rides_on_the_plan_of_an_english_question_only():
    assert plan_query("How many households received subsistence allowances?", "全镇低保户有多少户？").translation == "全镇低保户有多少户？"
    assert plan_query("全镇低保户有多少户？", "全镇低保户有多少户？").translation == ""


def test_a_failing_or_crowded_translator_costs_only_the_translation(monkeypatch):
    from rag import local_model

    notes: list[str] = []
    assert translation(StandIn(error=RuntimeError("server down")), "How many?", notes) == ""
    assert notes == ["translation failed: RuntimeError"]
    assert translation(None, "How many?") == ""
    monkeypatch.setattr(local_model, "_crowded", lambda: True)
    waiting = StandIn(reply="多少？")
    notes = []
    assert translation(waiting, "How many?", notes) == "" and waiting.asked == []
    assert notes == ["translation skipped: questions are waiting"]


def test_the_translator_setting_is_checked():
    assert load_settings().retrieval.translator == "auto"
    with pytest.raises(ConfigError, match="retrieval.translator"):
        load_settings(overrides={"retrieval.translator": "always"})


def test_an_english_question_is_searched_with_its_translation_and_a_chinese_one_never_asks(fake_assistant, monkeypatch):
    stand_in = StandIn(reply="全镇共保障城乡低保多少户？")
    monkeypatch.setitem(fake_assistant.__dict__, "_translator", stand_in)
    english = fake_assistant.ask("How many households did the town cover with subsistence allowances?")
    assert stand_in.asked == ["How many households did the town cover with subsistence allowances?"]
    assert "translation: 全镇共保障城乡低保多少户？" in english.notes
    assert "translate" in english.timings
    fake_assistant.ask("全镇共保障城乡低保多少户？")
    assert len(stand_in.asked) == 1  # a Chinese question is not translated
    broken = StandIn(error=RuntimeError("model gone"))
    monkeypatch.setitem(fake_assistant.__dict__, "_translator", broken)
    answer = fake_assistant.ask("How many households did the town cover with subsistence allowances?")
    assert "translation failed: RuntimeError" in answer.notes  # answered with the dictionary alone


def test_with_the_translator_off_nothing_is_built(fake_assistant, monkeypatch):
    from rag.pipeline import Assistant

    off = Assistant(fake_assistant.index_dir, load_settings(overrides={"retrieval.translator": "none"}), fake_assistant.embedder)
    assert off._translator is None
    assert not any(n.startswith("translation") for n in off.ask("How many households received subsistence allowances?").notes)
