"""The chat's turn list (ui/conversations.py): pure functions, no Gradio."""

from __future__ import annotations

import pytest

from rag.schema import Answer
from ui.conversations import answer_for_message, answers_to_export, track_turns

A = Answer("一", "answered", question="q1")
B = Answer("二", "answered", question="q2")


def test_a_new_answer_is_a_new_turn_and_a_failed_or_streaming_turn_is_none():
    assert track_turns([], 0, None, 2, [A]) == [A]
    assert track_turns([A], 2, A, 4, [A]) == [A, None]  # the answer list did not change: streaming or failed
    assert track_turns([A], 2, A, 4, [A, B]) == [A, B]
    assert track_turns([A], 2, A, 2, [A]) == [A]  # an empty question adds nothing
    equal_but_new = Answer("一", "answered", question="q1")
    assert track_turns([A], 2, A, 4, [equal_but_new])[-1] is equal_but_new  # identity, not equality


def test_assistant_messages_map_to_their_turn():
    turns = [A, None, B]
    assert answer_for_message(turns, 1) is A and answer_for_message(turns, 5) is B
    assert answer_for_message(turns, 3) is None  # failed turn
    assert answer_for_message(turns, 0) is None  # user message
    assert answer_for_message(turns, 7) is None and answer_for_message(turns, -1) is None
    assert answer_for_message(turns, (5, 1)) is B and answer_for_message(turns, "x") is None


def test_export_selection():
    assert answers_to_export([A, None, B]) == [A, B]
    assert answers_to_export([A, None, B], "最后一个回答") == [B]
    assert answers_to_export([None]) == []


# -- conversations kept in the browser --------------------------------------------------------------------------

from rag.schema import Chunk, Citation  # noqa: E402
from ui.conversations import (  # noqa: E402
    MAX_SAVED_CONVERSATIONS, answer_from_record, answer_to_record, chat_messages, conversation_choices,
    open_conversation, save_conversation,
)

REPORT = "一、社会保障\n全镇共保障城乡低保1120户1774人。"
CHUNK = Chunk("d1:0", "d1", "000_a.txt", "某镇总结", "一、社会保障", 0, len(REPORT), REPORT)
QUOTE = "全镇共保障城乡低保1120户1774人。"
Q_START = REPORT.index(QUOTE)
CITED = Answer("全镇共保障城乡低保1120户1774人[1]。", "answered", [Citation(1, CHUNK, QUOTE, Q_START, Q_START + len(QUOTE))],
               question="那低保呢？", standalone_question="某镇保障了多少户低保？")


def test_a_record_round_trips_with_each_passage_narrowed_to_its_quote():
    back = answer_from_record(answer_to_record(CITED))
    assert (back.text, back.status, back.question, back.standalone_question) == (CITED.text, "answered", "那低保呢？", "某镇保障了多少户低保？")
    c = back.citations[0]
    assert (c.n, c.quote, c.quote_start, c.quote_end) == (1, QUOTE, Q_START, Q_START + len(QUOTE))
    assert c.chunk.text == REPORT[c.chunk.start:c.chunk.end] == QUOTE  # the schema's invariant still holds
    assert (c.chunk.doc_id, c.chunk.source, c.chunk.section) == ("d1", "000_a.txt", "一、社会保障")


@pytest.mark.parametrize("bad", [None, "x", {"status": "maybe"}, {"status": "answered", "text": 3, "question": "q"},
                                 {**answer_to_record(CITED), "citations": [{"quote": "ab", "start": 0, "end": 5}]}])
def test_garbled_records_are_refused(bad):
    with pytest.raises(ValueError):
        answer_from_record(bad)


def test_saving_puts_the_conversation_first_titled_by_its_first_question():
    saved = save_conversation([], "c1", [CITED, None], now=1.0)
    assert [c["id"] for c in saved] == ["c1"] and saved[0]["title"] == "那低保呢？" and len(saved[0]["answers"]) == 1
    saved = save_conversation(saved, "c2", [A], now=2.0)
    saved = save_conversation(saved, "c1", [CITED, B], now=3.0)  # updated: moves to the front, not duplicated
    assert [c["id"] for c in saved] == ["c1", "c2"] and len(saved[0]["answers"]) == 2
    assert conversation_choices(saved) == [("那低保呢？（2 问）", "c1"), ("q1（1 问）", "c2")]
    assert save_conversation(saved, "c3", [None], now=4.0) == saved  # nothing answered: nothing stored
    many = saved
    for i in range(MAX_SAVED_CONVERSATIONS + 5):
        many = save_conversation(many, f"n{i}", [A], now=10.0 + i)
    assert len(many) == MAX_SAVED_CONVERSATIONS and many[0]["id"] == f"n{MAX_SAVED_CONVERSATIONS + 4}"
    long = Answer("x", "answered", question="问" * 100)
    assert len(save_conversation([], "l", [long], 0)[0]["title"]) == 40


def test_opening_a_conversation_restores_its_answers_and_chat_messages():
    saved = save_conversation([], "c1", [CITED, B], now=1.0)
    saved[0]["answers"].insert(1, {"status": "junk"})  # edited in the browser: skipped, the rest opens
    answers = open_conversation(saved, "c1")
    assert [a.question for a in answers] == ["那低保呢？", "q2"]
    messages = chat_messages(answers, lambda a: f"<{a.text}>")
    assert messages[0] == {"role": "user", "content": "那低保呢？"} and messages[3]["content"] == "<二>"
    assert open_conversation(saved, "nope") == [] and open_conversation("not a list", "c1") == []
    assert conversation_choices({"not": "a list"}) == []


def test_the_browser_secret_is_made_once_kept_for_the_owner_and_reused(tmp_path):
    import stat

    from ui.app import BROWSER_SECRET_FILE, browser_secret

    first = browser_secret(tmp_path / "index")
    assert len(first) >= 32 and browser_secret(tmp_path / "index") == first
    assert stat.S_IMODE((tmp_path / "index" / BROWSER_SECRET_FILE).stat().st_mode) == 0o600
    assert browser_secret(tmp_path / "other") != first
