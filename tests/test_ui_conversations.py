"""The chat's turn list (ui/conversations.py): pure functions, no Gradio."""

from __future__ import annotations

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
