"""The chat's handlers called directly (no server, no model): what a user sees when something fails."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from rag.config import load_settings
from rag.errors import EmbeddingError, IndexCorruptError

gradio = pytest.importorskip("gradio")

INTERNAL = "chunks.jsonl: size 123 != manifest 456 in /srv/secret/var/index/v-17"


class FailingAssistant:
    """Raises ``error`` from every question."""

    def __init__(self, error, settings=None):
        self.settings = settings or load_settings()
        self.store = SimpleNamespace(docs=[], doc_by_id={}, chunks=[])
        self.error = error

    def ask_stream(self, *args, **kwargs):
        raise self.error
        yield  # pragma: no cover

    def ask(self, *args, **kwargs):
        raise self.error


class EmptyLibrary:
    def reports(self):
        return []


def handler(demo, api_name):
    return next(f.fn for f in demo.fns.values() if f.api_name == api_name)


@pytest.mark.parametrize(
    "error, expected",
    [
        (IndexCorruptError(INTERNAL), "索引"),
        (EmbeddingError(INTERNAL), "模型"),
        (KeyError(INTERNAL), "出错"),
        (ZeroDivisionError(INTERNAL), "出错"),
    ],
)
def test_chat_and_api_show_a_short_chinese_sentence_and_log_the_details(error, expected, caplog):
    from ui.app import build_app

    demo = build_app(FailingAssistant(error), EmptyLibrary())
    with caplog.at_level(logging.INFO, logger="ui.app"):
        *_, last = handler(demo, "chat")("问题", [], [], [], "hybrid", 5)
    message = last[0][-1]["content"]
    assert expected in message and INTERNAL not in message and "Traceback" not in message
    assert len(message) < 60
    assert INTERNAL in caplog.text  # the server log keeps the details
    with pytest.raises(gradio.Error) as caught:
        handler(demo, "ask")("问题", "")
    assert expected in caught.value.message and INTERNAL not in caught.value.message


def test_every_project_error_has_a_short_chinese_message():
    import rag.errors as errors
    from ui.render import error_message

    kinds = [e for e in vars(errors).values() if isinstance(e, type) and issubclass(e, errors.RagError)]
    messages = {kind: error_message(kind(INTERNAL)) for kind in kinds}
    for kind, message in messages.items():
        assert INTERNAL not in message and 0 < len(message) < 60, kind
        assert any("\u4e00" <= ch <= "\u9fff" for ch in message), kind
    assert error_message(RuntimeError(INTERNAL)) == error_message(ValueError("x"))  # unknown: one generic sentence


def test_answering_has_its_own_concurrency_limit_from_the_config():
    """Three heavy questions at once starved every other request: every answer passes one fair gate."""
    from ui.app import build_app

    settings = load_settings(overrides={"server.answer_concurrency_limit": 3, "server.default_concurrency_limit": 1,
                                        "server.max_queue": 40})
    demo = build_app(FailingAssistant(KeyError("x"), settings), EmptyLibrary())
    answering = [f for f in demo.fns.values() if getattr(f.fn, "__name__", None) in ("respond_tracked", "api_ask")]
    assert len(answering) == 3  # the send button, the Enter key, /ask
    # no first-come Gradio limit in front of the gate: a burst from one user would fill it
    assert {(f.concurrency_limit, f.concurrency_id) for f in answering} == {(None, "answer")}
    assert demo.fair_gate.slots == 3
    assert demo._queue.default_concurrency_limit == 1 and demo._queue.max_size == 40
    with pytest.raises(Exception, match="answer_concurrency_limit"):
        load_settings(overrides={"server.answer_concurrency_limit": 0})


def test_upload_status_says_what_happened_in_one_language():
    from html import unescape

    from rag.library import UploadError
    from ui.library_tab import upload_summary

    refused = {"x.exe": UploadError("type", "x.exe", allowed=".txt"), "空.txt": UploadError("empty", "空.txt")}
    none_added = SimpleNamespace(added=[], skipped={}, embedded_chunks=0, seconds=0.1)
    status = unescape(upload_summary(none_added, refused, [], "zh"))  # names are escaped for Markdown
    assert "新增" not in status and "没有添加任何报告" in status and "文件为空" in status and "empty" not in status
    replaced = SimpleNamespace(added=["a.txt", "b.txt"], skipped={}, embedded_chunks=7, seconds=1.0)
    status = unescape(upload_summary(replaced, {}, ["a.txt"], "zh"))
    assert "新增 1 份" in status and "已替换 a.txt" in status
    english = unescape(upload_summary(replaced, refused, ["a.txt"], "en"))
    assert "Replaced a.txt" in english and "the file is empty" in english
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in english.replace("空.txt", ""))


def test_every_interface_text_exists_in_both_languages_and_examples_stand_alone():
    import json

    from conftest import SHARED
    from ui.texts import EXAMPLES, UI

    assert UI["zh"].keys() == UI["en"].keys()
    assert not any(q.startswith("那") for q in EXAMPLES)
    dev = SHARED / "eval" / "dev.jsonl"
    if dev.exists():
        asked = {json.loads(line)["question"] for line in dev.read_text(encoding="utf-8").splitlines() if line.strip()}
        assert not asked & set(EXAMPLES)


class GateWatchingAssistant(FailingAssistant):
    """Answers with an error after noting how many answering slots were held while it worked."""

    def __init__(self, settings=None):
        super().__init__(KeyError("x"), settings)
        self.seen: list[int] = []
        self.demo = None

    def ask(self, *args, **kwargs):
        self.seen.append(self.demo.fair_gate.running)
        raise self.error

    def ask_stream(self, *args, **kwargs):
        self.seen.append(self.demo.fair_gate.running)
        raise self.error
        yield  # pragma: no cover


def test_chat_and_api_answer_inside_the_fair_gate_and_busy_is_one_sentence():
    from rag.errors import ServerBusyError
    from ui.app import build_app
    from ui.render import error_message

    assistant = GateWatchingAssistant()
    demo = assistant.demo = build_app(assistant, EmptyLibrary())
    list(handler(demo, "chat")("问题", [], [], [], "hybrid", 5))
    with pytest.raises(gradio.Error):
        handler(demo, "ask")("问题", "")
    assert assistant.seen == [1, 1] and demo.fair_gate.running == 0  # held while answering, given back after
    assert "忙" in error_message(ServerBusyError("no slot within 30 s"))
