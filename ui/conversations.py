"""A chat's turns, kept beside the Chatbot: pure functions, no Gradio.

``turns`` is a list with one entry per question the chat shows (the Chatbot holds a user and an assistant
message per turn): the ``Answer``, or None when the turn failed or was stopped before its answer. So the
assistant message at Chatbot index ``i`` belongs to ``turns[i // 2]`` — the link that feedback and export use.
"""

from __future__ import annotations

from typing import Sequence

from rag.schema import Answer


def track_turns(turns: Sequence[Answer | None], chat_before: int, prior: Answer | None, chat_after: int,
                answers_after: Sequence[Answer]) -> list[Answer | None]:
    """The turns after one update of the chat handler. In: the turns before the question, the Chatbot's
    length before (``chat_before``) and now (``chat_after``), the last answer before the question (``prior``)
    and the handler's answer list now. A grown chat is a new turn; its answer is the handler's last answer
    when that is a new object (else None: still streaming, failed or stopped)."""
    turns = list(turns)
    if chat_after <= chat_before:
        return turns  # an empty question: nothing was added
    last = answers_after[-1] if answers_after else None
    return turns + [last if last is not None and last is not prior else None]


def answer_for_message(turns: Sequence[Answer | None], index) -> Answer | None:
    """The answer shown by the Chatbot message at ``index`` (an int, or Gradio's (row, col) pair); None for a
    user message, a failed turn or an index out of range."""
    if isinstance(index, (list, tuple)):
        index = index[0]
    if not isinstance(index, int) or index < 0 or index % 2 == 0 or index // 2 >= len(turns):
        return None
    return turns[index // 2]


EXPORT_SCOPES = ("整个对话", "最后一个回答")


def answers_to_export(turns: Sequence[Answer | None], scope: str = EXPORT_SCOPES[0]) -> list[Answer]:
    """The answers an export holds: every answered turn, or (scope ``最后一个回答``) the last one."""
    answered = [a for a in turns if a is not None]
    return answered[-1:] if scope == EXPORT_SCOPES[1] else answered
