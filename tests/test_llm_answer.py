"""The LLM answerer's guard rails, with a scripted chat model standing in for the LLM (unit tests of the code
around the model; the end-to-end tests with a real local model come with the LLM backends)."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from rag.llm_answer import FALLBACK_NOTICE, LLMAnswerer
from rag.schema import Answer, Chunk, Citation, Hit

TEXTS = ["一年来全镇共保障城乡低保1120户1774人。", "全年共开展志愿服务活动150余次。", "截至目前全镇现共有低保户*户*人。"]


def hits():
    out, pos = [], 0
    for i, t in enumerate(TEXTS):
        out.append(Hit(Chunk(f"d:{pos}", "d", "a.txt", "报告", "一、民生", pos, pos + len(t), t), 1 / (i + 1), i + 1))
        pos += len(t) + 1
    return out


def extractive(status="answered"):
    h = hits()[0]
    quote = "一年来全镇共保障城乡低保1120户1774人"
    return Answer(f"{quote}[1]。", status, [Citation(1, h.chunk, quote, 0, len(quote))], hits(), "q")


def test_a_checked_answer_keeps_its_citations():
    model = FakeListChatModel(responses=["全镇保障城乡低保1120户，共1774人[1]。志愿服务150余次[2]。"])
    a = LLMAnswerer(model).answer("q", hits(), extractive())
    assert a.status == "answered" and "1120户" in a.text
    assert [c.n for c in a.citations] == [1, 2]
    assert all(c.quote in c.chunk.text for c in a.citations)
    assert "llm: checked" in a.notes


def test_a_wrong_figure_falls_back_to_the_extractive_answer():
    model = FakeListChatModel(responses=["全镇保障城乡低保1200户[1]。"])
    a = LLMAnswerer(model).answer("q", hits(), extractive())
    assert a.text == extractive().text
    assert any("1200" in n for n in a.notes)


def test_an_answer_citing_nothing_falls_back():
    a = LLMAnswerer(FakeListChatModel(responses=["大概一千多户吧。"])).answer("q", hits(), extractive())
    assert a.text == extractive().text and any("cites no passage" in n for n in a.notes)


def test_masked_and_not_found_never_reach_the_model():
    model = FakeListChatModel(responses=["共有低保户356户[3]。"])
    for status in ("redacted", "not_found"):
        e = extractive(status)
        assert LLMAnswerer(model).answer("q", hits(), e) is e


class Broken(FakeListChatModel):
    def _call(self, *args, **kwargs):
        raise ConnectionError("connection refused")


def test_a_failed_model_call_falls_back_with_a_notice():
    a = LLMAnswerer(Broken(responses=["x"])).answer("q", hits(), extractive())
    assert a.text.startswith(FALLBACK_NOTICE) and "1120户" in a.text
    assert any("ConnectionError" in n for n in a.notes)


def test_streaming_yields_pieces_then_the_checked_answer():
    model = FakeListChatModel(responses=["志愿服务150余次[2]。"])
    out = list(LLMAnswerer(model).stream("q", hits(), extractive()))
    assert all(isinstance(p, str) for p in out[:-1]) and "".join(out[:-1]) == "志愿服务150余次[2]。"
    assert isinstance(out[-1], Answer) and out[-1].citations[0].chunk.text == TEXTS[1]


@pytest.mark.model
def test_llm_mode_falls_back_when_the_server_is_down(sample_index_dir, e5_embedder):
    """answer.mode = "llm" with the real OpenAI-compatible client pointed at a closed loopback port:
    the answer is the extractive one with a visible notice, and nothing hangs."""
    import socket
    import time

    from rag.config import load_settings
    from rag.pipeline import Assistant

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: connections are refused
    settings = load_settings(overrides={"answer.mode": "llm", "llm.base_url": f"http://127.0.0.1:{port}/v1", "llm.timeout": 5})
    assistant = Assistant(sample_index_dir, settings, e5_embedder)
    started = time.perf_counter()
    a = assistant.ask("永北圩所在的镇2022年一共保障了多少户城乡低保？")
    assert time.perf_counter() - started < 30
    assert a.status == "answered" and "1120户" in a.text and a.text.startswith(FALLBACK_NOTICE)
    assert any("model call failed" in n for n in a.notes)
    masked = assistant.ask("辽市镇目前全镇共有多少户低保户？")
    assert masked.status == "redacted"  # never sent to the model


def test_secrets_stay_out_of_settings(monkeypatch):
    from rag.config import load_settings
    from rag.llm_models import make_chat_model

    monkeypatch.setenv("RAG_LLM_API_KEY", "sk-secret-123")
    settings = load_settings()
    assert "sk-secret" not in repr(settings)
    model = make_chat_model(settings.llm)
    assert "sk-secret-123" not in repr(model)


@pytest.mark.model
def test_ask_stream_yields_tokens_then_the_checked_answer(sample_index_dir, e5_embedder):
    from rag.config import load_settings
    from rag.pipeline import Assistant

    assistant = Assistant(sample_index_dir, load_settings(overrides={"answer.mode": "llm"}), e5_embedder)
    assistant._llm_answerer = LLMAnswerer(FakeListChatModel(responses=["全镇共保障城乡低保1120户1774人[1]。"]))
    out = list(assistant.ask_stream("永北圩所在的镇2022年一共保障了多少户城乡低保？"))
    assert all(isinstance(p, str) for p in out[:-1]) and len(out) > 2
    final = out[-1]
    assert isinstance(final, Answer) and final.status == "answered" and "1120户" in final.text and "llm: checked" in final.notes
    # extractive mode: no tokens, just the answer
    plain = list(Assistant(sample_index_dir, load_settings(), e5_embedder).ask_stream("永北圩所在的镇2022年一共保障了多少户城乡低保？"))
    assert len(plain) == 1 and isinstance(plain[0], Answer)


def test_condense_rewrites_a_follow_up_or_leaves_it_to_the_rules():
    first = Answer("一年来全镇共保障城乡低保1120户1774人[1]。", "answered", [], [], "永北圩所在的镇2022年保障了多少户低保？")
    good = LLMAnswerer(FakeListChatModel(responses=["永北圩所在的镇2022年开展志愿服务活动多少次？"]))
    assert good.condense("它开展志愿服务活动多少次？", [first]) == "永北圩所在的镇2022年开展志愿服务活动多少次？"
    rambling = LLMAnswerer(FakeListChatModel(responses=["根据报告[1]，答案是……" * 10]))
    assert rambling.condense("它呢？", [first]) is None
    assert LLMAnswerer(Broken(responses=["x"])).condense("它呢？", [first]) is None
    assert good.condense("第一个问题", []) is None


def test_condense_rejects_a_rewrite_that_drops_the_follow_up():
    first = Answer("…[1]。", "answered", [], [], "永北圩所在的镇2022年保障了多少户低保？")
    parrot = LLMAnswerer(FakeListChatModel(responses=["永北圩所在的镇2022年保障了多少户低保？"]))
    assert parrot.condense("它开展志愿服务活动多少次？", [first]) is None
