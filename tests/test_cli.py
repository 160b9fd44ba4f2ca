"""The console command, run as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import PROJECT_ROOT, segment_file


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, cwd=PROJECT_ROOT,
                          env={**os.environ, **(env or {})}, timeout=600)


def test_help_explains_the_subcommands():
    out = run("--help").stdout
    assert "ingest" in out and "ask" in out and "示例" in out
    assert "永北圩" in run("ask", "--help").stdout


def test_empty_question_is_a_clear_error(sample_index_dir):
    result = run("ask", "--index", str(sample_index_dir), "  ")
    assert result.returncode == 2 and "empty" in result.stderr


def test_missing_index_is_a_clear_error(tmp_path):
    result = run("ask", "--index", str(tmp_path / "none"), "问题")
    assert result.returncode == 2 and "no index" in result.stderr


@pytest.mark.model
def test_ask_prints_answer_and_sources(sample_index_dir):
    result = run("ask", "--index", str(sample_index_dir), "辽市镇下半年要打造哪两个新农村样板点？")
    assert result.returncode == 0, result.stderr
    assert "寒岭新屋组" in result.stdout and "[1]" in result.stdout
    assert "001_f805fc5d83216290.txt" in result.stdout
    as_json = json.loads(run("ask", "--index", str(sample_index_dir), "--json", "辽市镇下半年要打造哪两个新农村样板点？").stdout)
    assert as_json["status"] == "answered" and as_json["citations"][0]["source"] == "001_f805fc5d83216290.txt"


@pytest.mark.model
def test_ingest_then_info(tmp_path):
    reports = tmp_path / "r"
    reports.mkdir()
    (reports / "a.txt").write_text("2022年工作总结\n一、民生\n全年新建道路5公里，惠及群众3000人。", encoding="gb18030")
    (reports / "bad.txt").write_bytes(bytes(range(256)) * 8)
    result = run("ingest", str(reports), "--index", str(tmp_path / "idx"))
    assert result.returncode == 0, result.stderr
    assert "1 added" in result.stdout and "skipped bad.txt" in result.stdout
    info = run("info", "--index", str(tmp_path / "idx"))
    assert "a.txt" in info.stdout and "multilingual-e5-small" in info.stdout


def test_damaged_index_is_a_clear_error_for_ingest_ask_and_verify(tmp_path):
    """No traceback: the damaged file is named with the fix; `rag verify` finds it too."""
    import shutil

    from conftest import REPORTS_DIR, FakeEmbedder
    from rag.config import load_settings
    from rag.ingest import ingest

    reports, index = tmp_path / "r", tmp_path / "idx"
    reports.mkdir()
    shutil.copy(next(iter(sorted(REPORTS_DIR.glob("*.txt")))), reports)
    ingest(reports, index, load_settings(), FakeEmbedder())
    ok = run("verify", "--index", str(index))
    assert ok.returncode == 0 and "intact" in ok.stdout, ok.stderr
    chunks = segment_file(index, "passages.jsonl")
    chunks.write_bytes(chunks.read_bytes()[:-100])
    for args in (("verify", "--index", str(index)), ("ingest", str(reports), "--index", str(index)),
                 ("ask", "--index", str(index), "问题")):
        result = run(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr and "passages.jsonl" in result.stderr and "--rebuild" in result.stderr


def test_disk_full_during_ingest_is_one_line_and_the_old_index_still_answers(tmp_path, monkeypatch, capsys):
    import errno
    import shutil

    import embeddings
    import rag.index.segment as segment_module
    from conftest import REPORTS_DIR, FakeEmbedder
    from rag.cli import main
    from rag.index import load_index

    monkeypatch.setattr(embeddings, "make_embedder", lambda settings: FakeEmbedder())
    reports, index = tmp_path / "r", tmp_path / "idx"
    reports.mkdir()
    names = sorted(REPORTS_DIR.glob("*.txt"))
    shutil.copy(names[0], reports)
    assert main(["ingest", str(reports), "--index", str(index)]) == 0
    before = load_index(index)
    shutil.copy(names[1], reports)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(segment_module, "write_lines", full)
    capsys.readouterr()
    assert main(["ingest", str(reports), "--index", str(index)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith(f"error: disk full at {index}") and "previous index kept" in err
    assert "Traceback" not in err
    monkeypatch.undo()
    assert load_index(index).chunks == before.chunks


def test_bad_top_k_is_refused_before_anything_runs(tmp_path):
    result = run("ask", "--index", str(tmp_path / "none"), "--top-k", "-5", "问题")
    assert result.returncode == 2 and "positive integer" in result.stderr and "Traceback" not in result.stderr


def test_serve_on_an_open_address_without_a_login_refuses_to_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RAG_CHAT_USER", "RAG_CHAT_PASSWORD")}
    result = subprocess.run([sys.executable, "-m", "rag.cli", "serve", "--host", "0.0.0.0", "--index", str(tmp_path / "none")],
                            capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "RAG_CHAT_USER" in result.stderr and "RAG_CHAT_PASSWORD" in result.stderr
    assert "RAG_CHAT_USER" in run("serve", "--help").stdout
