"""Loading reports: encodings common for Chinese files, bad files reported by name, deterministic ids."""

from __future__ import annotations

import pytest

from rag.errors import UnreadableReportError
from rag.load import decode_bytes, guess_title, load_folder, read_document
from rag.schema import content_id

TEXT = "2022年工作总结\n一、民生保障\n一年来全镇共保障城乡低保1120户1774人，完成率*%。\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16", "utf-16-le", "utf-16-be"])
def test_decodes_common_chinese_encodings(tmp_path, encoding):
    path = tmp_path / f"r-{encoding}.txt"
    path.write_bytes(TEXT.encode(encoding))
    d = read_document(path, tmp_path)
    assert d.text == TEXT
    assert d.source == path.name
    assert d.title == "2022年工作总结"


def test_crlf_and_bom_are_normalised(tmp_path):
    (tmp_path / "a.txt").write_bytes(("\ufeff" + TEXT.replace("\n", "\r\n")).encode("utf-8"))
    assert read_document(tmp_path / "a.txt", tmp_path).text == TEXT


def test_bad_files_are_skipped_by_name_and_the_rest_load(tmp_path):
    (tmp_path / "good.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 20)
    (tmp_path / "notes.md").write_text("# 标题\n正文。", encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG....")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.txt").write_text("子目录里的报告。", encoding="gb18030")
    result = load_folder(tmp_path)
    assert sorted(d.source for d in result.documents) == ["good.txt", "notes.md", "sub/deep.txt"]
    assert list(result.skipped) == ["binary.txt"]
    assert "binary.txt" in result.skipped["binary.txt"]


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(UnreadableReportError, match="not found"):
        load_folder(tmp_path / "nope")


def test_ids_are_content_hashes(tmp_path):
    (tmp_path / "a.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "b.txt").write_text(TEXT, encoding="gbk")
    a, b = read_document(tmp_path / "a.txt", tmp_path), read_document(tmp_path / "b.txt", tmp_path)
    assert a.doc_id == content_id(TEXT.encode("utf-8"))
    assert a.doc_id != b.doc_id  # different bytes, different report version
    assert read_document(tmp_path / "a.txt", tmp_path).doc_id == a.doc_id


def test_empty_file_loads_as_empty_report(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    d = read_document(tmp_path / "empty.txt", tmp_path)
    assert d.text == "" and d.title == "empty"


def test_undecodable_bytes_raise_with_the_name():
    with pytest.raises(UnreadableReportError, match="x.txt"):
        decode_bytes(b"\x81\x00\xff\xfe\x00\x81" * 50 + b"\x00\x00\x00", "x.txt")


def test_title_guess():
    assert guess_title("镇2022年工作总结及2023年工作思路\n\n一、今年来工作总结", "f") == "镇2022年工作总结及2023年工作思路"
    assert guess_title("很长的一段开场白，" * 10 + "\n一、2022年上半年工作总结\n", "f") == "2022年上半年工作总结"
    assert guess_title("很长的一段开场白，" * 10 + "\n一、固本培元\n", "fallback") == "fallback"


def test_docx_and_pdf_text_layers(tmp_path):
    import docx

    d = docx.Document()
    d.add_paragraph("2022年工作总结")
    d.add_paragraph("全年新建道路5公里，惠及群众3000人。")
    d.save(tmp_path / "r.docx")
    doc = read_document(tmp_path / "r.docx", tmp_path)
    assert "新建道路5公里" in doc.text and doc.title == "2022年工作总结"
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4\n%%EOF")
    result = load_folder(tmp_path, (".docx", ".pdf"))
    assert [x.source for x in result.documents] == ["r.docx"]
    assert set(result.skipped) == {"broken.docx", "scan.pdf"}


def test_links_never_read_outside_the_folder_and_inside_ones_are_read_once(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("SECRET 机密内容。", encoding="utf-8")
    (outside / "more.txt").write_text("SECRET 更多机密。", encoding="utf-8")
    root = tmp_path / "reports"
    (root / "sub").mkdir(parents=True)
    (root / "good.txt").write_text(TEXT, encoding="utf-8")
    (root / "sub" / "deep.txt").write_text("子目录里的报告。", encoding="utf-8")
    (root / "passwd.txt").symlink_to(outside / "secret.txt")
    (root / "escape.txt").symlink_to("../outside/secret.txt")  # relative link
    (root / "linked_dir").symlink_to(outside, target_is_directory=True)
    (root / "again.txt").symlink_to(root / "good.txt")
    (root / "sub_again").symlink_to(root / "sub", target_is_directory=True)
    result = load_folder(root)
    assert sorted(d.source for d in result.documents) == ["good.txt", "sub/deep.txt"]
    assert all("SECRET" not in d.text for d in result.documents)
    assert "outside" in result.skipped["passwd.txt"] and "outside" in result.skipped["escape.txt"]
    assert "good.txt" in result.skipped["again.txt"]
    assert "linked_dir" in result.skipped and "sub_again" in result.skipped


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_read_even_when_almost_all_chinese(tmp_path, encoding):
    text = "全镇共保障城乡低保户，推进乡村振兴各项工作。" * 30 + "\n一、民生保障\n"
    (tmp_path / "r.txt").write_bytes(text.encode(encoding))
    d = read_document(tmp_path / "r.txt", tmp_path)
    assert d.text == text and d.encoding == encoding


def test_zero_width_characters_are_removed_at_load_and_offsets_hold(tmp_path):
    from rag.config import SplitterSettings
    from rag.split import split_document

    raw = "一、民生\n共保障城乡低保1\u200b120户\u200c1774\u200d人\ufeff，\u2060完成率*%。" * 10
    (tmp_path / "z.txt").write_text(raw, encoding="utf-8")
    d = read_document(tmp_path / "z.txt", tmp_path)
    assert "1120户1774人" in d.text
    assert not any(ch in d.text for ch in "\u200b\u200c\u200d\ufeff\u2060")
    for c in split_document(d, SplitterSettings(chunk_size=60, chunk_overlap=10)):
        assert d.text[c.start : c.end] == c.text


def test_file_names_starting_with_a_dot_are_reported_not_silently_skipped(tmp_path):
    (tmp_path / "good.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "..报告.txt").write_text(TEXT + "另一份。", encoding="utf-8")
    (tmp_path / ".hidden_dir").mkdir()
    (tmp_path / ".hidden_dir" / "x.txt").write_text(TEXT, encoding="utf-8")
    result = load_folder(tmp_path)
    assert [d.source for d in result.documents] == ["good.txt"]
    assert "..报告.txt" in result.skipped and "rename" in result.skipped["..报告.txt"]


def test_a_report_saved_from_a_web_page_reads_as_lines_of_text(tmp_path):
    """HTML in a .txt (a scraped page, tag names run into their attributes): block tags are line breaks, inline
    tags and entities vanish, the title is the heading, not the stray quote before it."""
    page = (
        '"<divclass="title"><h2>2004年某市政府工作报告</h2></div><p>各位代表：</p>'
        "<p>一、2003年工作回顾</p><p>全年<span class=\"x\">财政收入</span>28.6亿元&nbsp;，增长31%。</p><br/>"
    )
    (tmp_path / "page.txt").write_text(page, encoding="utf-8")
    doc = read_document(tmp_path / "page.txt", tmp_path)
    assert doc.title == "2004年某市政府工作报告"
    assert "一、2003年工作回顾\n全年财政收入28.6亿元 ，增长31%。" in doc.text
    assert "<" not in doc.text and "&nbsp;" not in doc.text
    # a report that only mentions a tag is left as it is
    plain = "一、工作回顾\n网站首页改用<p>标签排版。\n"
    (tmp_path / "plain.txt").write_text(plain, encoding="utf-8")
    assert read_document(tmp_path / "plain.txt", tmp_path).text == plain
