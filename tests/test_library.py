"""The report library: upload checks (type, size, name), add and delete in step with the index."""

from __future__ import annotations

import shutil

import pytest

from rag.config import load_settings
from rag.library import Library, UploadError, safe_name
from rag.pipeline import Assistant

from conftest import REPORTS_DIR


@pytest.mark.parametrize(
    "name, expected",
    [("报告.txt", "报告.txt"), ("../../etc/passwd.txt", "passwd.txt"), ("..\\\\x\\\\y.md", "y.md"), (".hidden.txt", "hidden.txt"), ("a<b>.txt", "a_b_.txt")],
)
def test_safe_names_never_escape(name, expected):
    assert safe_name(name) == expected


@pytest.mark.parametrize("name", ["", "..", "/", "."])
def test_unusable_names(name):
    with pytest.raises(UploadError):
        safe_name(name)


@pytest.fixture
def library(tmp_path, fake_embedder):
    folder = tmp_path / "lib"
    folder.mkdir()
    shutil.copy(REPORTS_DIR / "000_4b3cc5d7d519229c.txt", folder)
    settings = load_settings()
    assistant = Assistant.from_dir(folder, tmp_path / "idx", settings, fake_embedder)
    return Library(folder, assistant, settings.corpus.extensions, max_upload_mb=1)


def test_add_checks_then_indexes_only_the_new_file(library, tmp_path, fake_embedder):
    good = tmp_path / "up" / "new.txt"
    good.parent.mkdir()
    good.write_text("2022年工作总结\n全年新建农家书屋12个。", encoding="utf-16")
    bad_type = tmp_path / "up" / "x.exe"
    bad_type.write_bytes(b"MZ")
    empty = tmp_path / "up" / "empty.txt"
    empty.write_bytes(b"")
    fake_embedder.embedded.clear()
    report, refused = library.add([(good, "../new.txt"), (bad_type, None), (empty, None)])
    assert report.added == ["new.txt"] and len(fake_embedder.embedded) == report.embedded_chunks
    assert set(refused) == {"x.exe", "empty.txt"} and refused["x.exe"].code == "type" and refused["empty.txt"].code == "empty"
    assert "not allowed" in str(refused["x.exe"]) and refused["empty.txt"].reason("zh") == "文件为空"
    assert sorted(p.name for p in library.folder.iterdir()) == ["000_4b3cc5d7d519229c.txt", "new.txt"]
    assert {r.source for r in library.reports()} == {"000_4b3cc5d7d519229c.txt", "new.txt"}


def test_oversized_and_undecodable_uploads_are_refused(library, tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes("字".encode() * 400_000)
    binary = tmp_path / "bin.txt"
    binary.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(UploadError, match="limit"):
        library.check_upload(big)
    with pytest.raises(UploadError, match="bin.txt") as caught:
        library.check_upload(binary)
    assert caught.value.code == "unreadable" and "无法读取" in caught.value.reason("zh")


def test_a_reupload_of_the_same_name_is_a_replacement(library, tmp_path):
    again = tmp_path / "000_4b3cc5d7d519229c.txt"
    again.write_text("2022年工作总结\n全年新建农家书屋12个。", encoding="utf-8")
    job = library.submit([(again, None)])
    assert job.wait(30) and job.replaced == ["000_4b3cc5d7d519229c.txt"] and not job.refused


def test_delete_removes_file_and_passages(library):
    report = library.delete("000_4b3cc5d7d519229c.txt")
    assert report.removed == ["000_4b3cc5d7d519229c.txt"]
    assert library.reports() == [] and list(library.folder.iterdir()) == []
    with pytest.raises(UploadError):
        library.delete("../../etc/passwd")


def test_uploads_are_indexed_one_at_a_time_in_the_background_while_the_old_index_answers(library, tmp_path, fake_embedder):
    import threading

    gate = threading.Event()
    original = fake_embedder.encode_passages

    def slow(texts):  # holds the worker inside embedding until the test lets it go
        gate.wait(30)
        return original(texts)

    fake_embedder.encode_passages = slow
    uploads = []
    for name, text in (("a.txt", "2022年工作总结\n全年新建农家书屋12个。"), ("b.txt", "2023年工作总结\n全年新修村道8公里。")):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        uploads.append(path)
    bad = tmp_path / "x.exe"
    bad.write_bytes(b"MZ")
    first = library.submit([(uploads[0], None), (bad, None)])
    second = library.submit([(uploads[1], None)])  # returns at once: the request never embeds
    assert set(first.refused) == {"x.exe"}
    assert not first.wait(0.3) and first.state == "running" and second.state == "queued"
    # meanwhile the chat answers from the current index, which does not have the new report yet
    answer = library.assistant.ask("全镇共保障城乡低保多少户？")
    assert answer.hits and {r.source for r in library.reports()} == {"000_4b3cc5d7d519229c.txt"}
    gate.set()
    assert first.wait(30) and second.wait(30)
    assert first.state == second.state == "done" and first.error is None
    assert "a.txt" in first.report.added and first.progress[0] == first.progress[1]
    assert {r.source for r in library.reports()} == {"000_4b3cc5d7d519229c.txt", "a.txt", "b.txt"}


@pytest.mark.model
def test_after_a_delete_questions_about_its_town_are_not_found(tmp_path, sample_index_dir, e5_embedder):
    """A deleted report's town got another town's answer, with a citation."""
    from conftest import REPORTS_DIR
    from rag.config import load_settings
    from rag.pipeline import Assistant

    folder, index = tmp_path / "library", tmp_path / "index"
    shutil.copytree(REPORTS_DIR, folder)
    shutil.copytree(sample_index_dir, index)
    assistant = Assistant(index, load_settings(), e5_embedder)
    library = Library(folder, assistant, (".txt",))
    questions = ["辽市镇目前全镇共有多少户低保户？", "辽市镇2022年城乡低保保障了多少户？", "辽市镇党校是哪一年成立的？"]
    before = [assistant.ask(q) for q in questions]
    assert any(a.status != "not_found" and a.citations[0].chunk.source.startswith("001_") for a in before)
    library.delete("001_f805fc5d83216290.txt")
    for q in questions:
        after = assistant.ask(q)
        assert after.status == "not_found" and not after.citations, (q, after.text)
    # the other towns still answer
    assert assistant.ask("永北圩所在的镇2022年一共保障了多少户城乡低保？").status == "answered"
