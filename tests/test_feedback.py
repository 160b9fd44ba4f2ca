"""Feedback on answers (rag/feedback.py): the record, concurrent appends, and the conversion to a question set."""

from __future__ import annotations

import json
import multiprocessing
import threading

import pytest

from rag.errors import RagError
from rag.evaluate import load_questions
from rag.feedback import FeedbackStore, feedback_record, feedback_to_questions, read_feedback, write_questions
from rag.schema import Answer, Chunk, Citation

TEXT = "一、社会保障\n全镇共保障城乡低保1120户1774人。低保户***户。"
CHUNK = Chunk("d1:0", "d1", "000_a.txt", "某镇2022年工作总结", "一、社会保障", 0, len(TEXT), TEXT)


def _answer(text="全镇共保障城乡低保1120户1774人[1]。", status="answered", question="那低保呢？",
            standalone="永北圩所在的镇保障了多少户低保？", quote="全镇共保障城乡低保1120户1774人。"):
    start = TEXT.index(quote)
    c = Citation(1, CHUNK, quote, start, start + len(quote))
    return Answer(text, status, [c, c], question=question, standalone_question=standalone)


def test_a_record_holds_what_was_asked_answered_and_cited():
    r = feedback_record(_answer(), "up", "  很准确  ", when=0)
    assert r["time"] == "1970-01-01T00:00:00Z" and r["rating"] == "up" and r["comment"] == "很准确"
    assert r["question"] == "那低保呢？" and r["standalone_question"] == "永北圩所在的镇保障了多少户低保？"
    assert r["answer"].endswith("[1]。") and r["status"] == "answered"
    start = TEXT.index("全镇")
    assert r["citations"] == [{"n": 1, "source": "000_a.txt", "doc_id": "d1", "start": start,
                               "end": start + 20, "quote": "全镇共保障城乡低保1120户1774人。"}]
    assert feedback_record(_answer(), "down", "长" * 50, max_comment_chars=10)["comment"] == "长" * 10
    with pytest.raises(ValueError, match="rating"):
        feedback_record(_answer(), "meh")


def _append_many(path: str, who: int, n: int) -> None:
    store = FeedbackStore(path)
    for i in range(n):
        # long records: a write of several KB is where unlocked appends from two processes can interleave
        store.append({"rating": "up", "standalone_question": f"{who}-{i}", "comment": "字" * 3000})


def test_concurrent_appends_from_threads_and_processes_give_one_whole_line_per_record(tmp_path):
    path = tmp_path / "sub" / "feedback.jsonl"
    threads = [threading.Thread(target=_append_many, args=(str(path), t, 40)) for t in range(4)]
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(path), 100 + p, 40)) for p in range(3)]
    for w in threads + procs:
        w.start()
    for w in threads + procs:
        w.join(120)
    assert all(p.exitcode == 0 for p in procs)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 7 * 40
    keys = {json.loads(line)["standalone_question"] for line in lines}  # every line parses whole
    assert len(keys) == 7 * 40


def test_reading_a_damaged_file_names_the_line(tmp_path):
    path = tmp_path / "f.jsonl"
    FeedbackStore(path).append(feedback_record(_answer(), "up"))
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"rating": "up", "standal')
    with pytest.raises(RagError, match=r"f.jsonl:2"):
        read_feedback(path)
    with pytest.raises(RagError, match="no feedback file"):
        read_feedback(tmp_path / "none.jsonl")


def test_conversion_latest_rating_wins_and_thumbs_down_are_marked_for_review(tmp_path):
    good, masked = _answer(), _answer("低保户***户[1]。", "redacted", "低保户有多少？", "低保户有多少？", "低保户***户。")
    wrong = _answer("全镇共保障城乡低保1120户1774人[1]。", question="有多少个农家书屋？", standalone="有多少个农家书屋？")
    nothing = Answer("报告中没有找到。", "not_found", question="地铁站在哪？", standalone_question="地铁站在哪？")
    records = [
        feedback_record(good, "down", when=1),
        feedback_record(good, "up", when=2),  # changed their mind: the latest counts
        feedback_record(masked, "up", when=3),
        feedback_record(wrong, "down", "答非所问", when=4),
        feedback_record(nothing, "up", when=5),
        feedback_record(nothing, "withdrawn", when=6),  # thumbs clicked off: no rating
    ]
    questions, review = feedback_to_questions(records)
    assert [q["question"] for q in questions] == ["永北圩所在的镇保障了多少户低保？", "低保户有多少？"]
    first = questions[0]
    assert first["kind"] == "span" and first["answers"] == ["全镇共保障城乡低保1120户1774人。"]
    assert first["docs"] == ["000_a.txt"] and first["evidence"] == ["全镇共保障城乡低保1120户1774人。"]
    assert first["asked_as"] == "那低保呢？" and first["id"].startswith("fb-") and "review" not in first
    assert questions[1]["kind"] == "redacted" and questions[1]["answers"] == [] and questions[1]["evidence"] == ["低保户***户。"]
    assert len(review) == 1 and review[0]["review"] is True and review[0]["comment"] == "答非所问"
    assert review[0]["rejected_answer"].startswith("全镇") and review[0]["answers"] == []

    out = tmp_path / "q.jsonl"
    assert write_questions(questions + review, out) == 3
    loaded = load_questions(out)  # the project's reader: the questions to review are skipped
    assert [q.question for q in loaded] == ["永北圩所在的镇保障了多少户低保？", "低保户有多少？"]
    assert loaded[0].evidence == ("全镇共保障城乡低保1120户1774人。",) and loaded[1].kind == "redacted"
    assert feedback_to_questions(records)[0] == questions  # ids are stable across reruns


def test_an_approved_not_found_answer_is_an_unanswerable_question():
    nothing = Answer("报告中没有找到。", "not_found", question="地铁站在哪？", standalone_question="地铁站在哪？")
    (q,), _ = feedback_to_questions([feedback_record(nothing, "up")])
    assert q["kind"] == "unanswerable" and q["docs"] == [] and q["evidence"] == [] and q["answers"] == []


def test_cli_feedback_to_questions(tmp_path):
    from test_cli import run

    path = tmp_path / "feedback.jsonl"
    store = FeedbackStore(path)
    store.append(feedback_record(_answer(), "up"))
    store.append(feedback_record(_answer(question="x", standalone="有多少个农家书屋？"), "down", "错了"))
    out = tmp_path / "out" / "questions.jsonl"
    result = run("feedback-to-questions", str(path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "1 questions from 👍" in result.stdout and "1 to review" in result.stdout
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r.get("review", False) for r in rows] == [False, True]
    missing = run("feedback-to-questions", str(tmp_path / "none.jsonl"), "--out", str(out))
    assert missing.returncode == 2 and "no feedback file" in missing.stderr


def test_feedback_settings_are_validated():
    from rag.config import load_settings

    assert load_settings().feedback.path.name == "feedback.jsonl"
    with pytest.raises(Exception, match="max_comment_chars"):
        load_settings(overrides={"feedback.max_comment_chars": -1})


@pytest.mark.model
def test_a_real_approved_answer_becomes_a_question_whose_evidence_is_in_its_report(sample_assistant, tmp_path):
    from conftest import REPORTS_DIR

    answer = sample_assistant.ask("永北圩所在的镇2022年一共保障了多少户城乡低保？")
    (q,), _ = feedback_to_questions([feedback_record(answer, "up")])
    assert "1120户" in q["answers"][0]
    for doc, quote in zip(q["docs"], q["evidence"]):
        assert quote in (REPORTS_DIR / doc).read_text(encoding="utf-8")
