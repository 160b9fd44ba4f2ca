"""The chat's issue-10 features through gradio_client against the real app (real model, real index):
export of a conversation with citations, feedback on answers, questions restricted to chosen reports.

One gradio_client ``Client`` is one browser session: its chat turns are the session's state, so ``/export``
after ``/chat`` exports what that session asked.
"""

from __future__ import annotations

import io

import pytest

from conftest import running_app

gradio = pytest.importorskip("gradio")
from gradio_client import Client  # noqa: E402

pytestmark = pytest.mark.model

NAMES = ("000_4b3cc5d7d519229c.txt", "001_f805fc5d83216290.txt")


@pytest.fixture(scope="module")
def server(tmp_path_factory, e5_embedder):
    with running_app(tmp_path_factory.mktemp("ui-features"), NAMES, e5_embedder) as (url, library_dir):
        yield {"url": url, "library": library_dir}


def _docx_text(path) -> str:
    from docx import Document

    with open(path, "rb") as fh:
        return "\n".join(p.text for p in Document(io.BytesIO(fh.read())).paragraphs)


def _paths(result) -> tuple:
    """The two download buttons' files (an update dict carries the file in ``value``)."""
    return tuple(r.get("value") if isinstance(r, dict) else r for r in result)


def test_export_of_the_sessions_conversation_as_markdown_and_docx(server):
    client = Client(server["url"], verbose=False)
    client.predict("永北圩所在的镇2022年一共保障了多少户城乡低保？", api_name="/chat")
    client.predict("辽市镇目前全镇共有多少户低保户？", api_name="/chat")
    md_path, docx_path = _paths(client.predict("整个对话", api_name="/export"))
    md = open(md_path, encoding="utf-8").read()
    assert "## 问题 1：永北圩所在的镇2022年一共保障了多少户城乡低保？" in md and "## 问题 2：辽市镇" in md
    assert "1120户" in md and "`000_4b3cc5d7d519229c.txt`" in md and "\\*" in md  # masked figure, escaped
    text = _docx_text(docx_path)
    assert "问题 2：辽市镇目前全镇共有多少户低保户？" in text and "001_f805fc5d83216290.txt" in text
    assert "***" in text or "*户" in text  # the masked figure as printed in the report

    md_path, docx_path = _paths(client.predict("最后一个回答", api_name="/export"))
    md = open(md_path, encoding="utf-8").read()
    assert "问题 1：辽市镇目前全镇共有多少户低保户？" in md and "1120户" not in md

    other = Client(server["url"], verbose=False)  # another session has nothing to export
    assert _paths(other.predict("整个对话", api_name="/export")) == (None, None)


YONGBEI, LIAOSHI = NAMES


def test_chat_and_ask_restricted_to_chosen_reports(server):
    client = Client(server["url"], verbose=False)
    chat, *_ = client.predict("2022年一共保障了多少户城乡低保？", [], "hybrid", 5, [LIAOSHI], api_name="/chat")
    message = str(chat[-1]["content"])  # the answer's own sources are in its chat message, by report name
    assert "rag-sources" in message and "辽市镇" in message and "1120户" not in message
    md = client.predict("2022年一共保障了多少户城乡低保？", "", [YONGBEI], api_name="/ask")
    assert "1120户" in md and YONGBEI in md and LIAOSHI not in md


def test_an_unknown_report_is_one_short_sentence(server):
    client = Client(server["url"], verbose=False)
    chat, *_ = client.predict("低保户有多少？", [], "hybrid", 5, ["已删除的报告.txt"], api_name="/chat")
    assert "所选的报告已不在库中" in str(chat[-1]["content"])
    with pytest.raises(Exception, match="所选的报告已不在库中"):
        client.predict("低保户有多少？", "", ["已删除的报告.txt"], api_name="/ask")
