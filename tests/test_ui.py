"""The chat app driven through gradio_client against a real server on loopback (real model, real index).

Covers the named API: /ask (with follow-ups per conversation id), /ingest (upload + checks), /delete,
and that two conversations never see each other's context.
"""

from __future__ import annotations

import pytest

from conftest import running_app

gradio = pytest.importorskip("gradio")
from gradio_client import Client, handle_file  # noqa: E402

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def server(tmp_path_factory, e5_embedder):
    names = ("000_4b3cc5d7d519229c.txt", "001_f805fc5d83216290.txt", "002_c5a246ededf7c1af.txt")
    with running_app(tmp_path_factory.mktemp("ui"), names, e5_embedder, max_upload_mb=1) as (url, library_dir):
        yield {"url": url, "library": library_dir}


@pytest.fixture(scope="module")
def client(server):
    return Client(server["url"], verbose=False)


def test_api_lists_named_endpoints(client):
    names = set(client.view_api(return_format="dict")["named_endpoints"])
    assert {"/ask", "/ingest", "/delete", "/chat"} <= names


def test_ask_returns_answer_with_numbered_sources(client):
    md = client.predict("永北圩所在的镇2022年一共保障了多少户城乡低保？", "", api_name="/ask")
    assert "1120户" in md and "[1]" in md
    assert "1. " in md and "000_4b3cc5d7d519229c.txt" in md


def test_follow_ups_keep_their_own_conversation(client):
    client.predict("永北圩所在的镇2022年一共保障了多少户城乡低保？", "conv-a", api_name="/ask")
    client.predict("辽市镇上半年引进了哪两个投资额亿元以上的项目？", "conv-b", api_name="/ask")
    a = client.predict("它开展志愿服务活动多少次？", "conv-a", api_name="/ask")
    b = client.predict("它下半年要打造哪两个新农村样板点？", "conv-b", api_name="/ask")
    assert "150余次" in a and "000_4b3cc5d7d519229c.txt" in a
    assert "寒岭新屋组" in b and "001_f805fc5d83216290.txt" in b


def test_chat_endpoint_streams_into_the_chatbot(client):
    chat, *_ = client.predict("辽市镇目前全镇共有多少户低保户？", [], "hybrid", 5, api_name="/chat")
    assert chat[-1]["role"] == "assistant" and "遮盖" in str(chat[-1]["content"])
    assert "<mark>" in str(chat[-1]["content"])  # the answer's own sources, highlighted


def test_upload_then_ask_then_delete(client, server, tmp_path):
    report = tmp_path / "新镇2022年工作总结.txt"
    report.write_text("2022年工作总结\n一、民生保障\n全年新建农家书屋12个，新增图书3600册。", encoding="gb18030")
    status, table, *_ = client.predict([handle_file(str(report))], api_name="/ingest")
    assert "新增 1 份" in status
    assert (server["library"] / report.name).is_file()
    assert any(report.name in str(row) for row in table["data"])
    md = client.predict("新建了多少个农家书屋？", "", api_name="/ask")
    assert "12个" in md and report.name in md
    status, *_ = client.predict(report.name, api_name="/delete")
    assert "已删除" in status and not (server["library"] / report.name).exists()
    md = client.predict("新建了多少个农家书屋？", "", api_name="/ask")
    assert "12个" not in md


def test_bad_uploads_are_refused_and_nothing_is_written(client, server, tmp_path):
    binary = tmp_path / "broken.txt"
    binary.write_bytes(bytes(range(256)) * 20)
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ" + b"\0" * 100)
    big = tmp_path / "big.txt"
    big.write_text("很长的报告。" * 400_000, encoding="utf-8")  # over the 1 MB limit of this server
    before = sorted(p.name for p in server["library"].iterdir())
    for path, reason in ((binary, "broken.txt"), (big, "上限")):
        status, *_ = client.predict([handle_file(str(path))], api_name="/ingest")
        assert reason in status
    with pytest.raises(Exception):
        client.predict([handle_file(str(exe))], api_name="/ingest")  # refused by the upload widget's file types
    assert sorted(p.name for p in server["library"].iterdir()) == before


def test_deleting_an_unknown_or_escaping_name_is_refused(client, server):
    for name in ("../../etc/passwd", "nope.txt"):
        with pytest.raises(Exception, match="库中没有这份报告") as caught:
            client.predict(name, api_name="/delete")
        assert "list of choices" not in str(caught.value)
    assert len(list(server["library"].iterdir())) == 3


def test_a_report_uploaded_after_start_can_be_deleted_by_another_client(client, server, tmp_path):
    """The delete choices were fixed when the app was built: a report added later was 'not in the list'."""
    report = tmp_path / "后来的报告.txt"
    report.write_text("2023年工作总结\n一、交通\n全年新修村道8公里。", encoding="utf-8")
    status, *_ = client.predict([handle_file(str(report))], api_name="/ingest")
    assert "新增 1 份" in status
    other = Client(server["url"], verbose=False)  # a new session: it never saw the upload's choice update
    status, *_ = other.predict(report.name, api_name="/delete")
    assert "已删除" in status and not (server["library"] / report.name).exists()
