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


# -- conversations kept in the browser (gr.BrowserState) -------------------------------------------------------
# The browser keeps a JSON list of conversations, newest first: {"id", "title", "updated", "answers": [record]}.
# A record keeps what the chat shows again (question, answer, status, citations with their quotes), not the
# retrieved passages: each citation's passage is narrowed to its quote, so ``text == report[start:end]`` still
# holds and the whole list stays well inside the browser's storage.

MAX_SAVED_CONVERSATIONS = 20
MAX_SAVED_TURNS = 30
TITLE_CHARS = 40


def answer_to_record(answer: Answer) -> dict:
    """The JSON-able form of an answer that the browser keeps (see ``answer_from_record``)."""
    return {
        "question": answer.question,
        "standalone_question": answer.standalone_question,
        "text": answer.text,
        "status": answer.status,
        "carried_report": answer.carried_report,
        "citations": [
            {"n": c.n, "chunk_id": c.chunk.chunk_id, "doc_id": c.chunk.doc_id, "source": c.chunk.source,
             "title": c.chunk.title, "section": c.chunk.section, "quote": c.quote, "start": c.quote_start,
             "end": c.quote_end}
            for c in answer.citations
        ],
    }


def _text(value, name: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, got {type(value).__name__}")
    return value


def _int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return value


def answer_from_record(record) -> Answer:
    """The answer a browser record describes; each citation's passage is its quote. Raises ValueError for
    anything else (the browser's storage is the user's to edit)."""
    from rag.schema import Chunk, Citation

    if not isinstance(record, dict):
        raise ValueError("an answer record must be an object")
    status = record.get("status")
    if status not in ("answered", "redacted", "not_found"):
        raise ValueError(f"unknown answer status {status!r}")
    citations = []
    for c in record.get("citations") or []:
        if not isinstance(c, dict):
            raise ValueError("a citation must be an object")
        quote, start, end = _text(c.get("quote"), "quote"), _int(c.get("start"), "start"), _int(c.get("end"), "end")
        if end - start != len(quote):
            raise ValueError("a citation's offsets do not match its quote")
        chunk = Chunk(_text(c.get("chunk_id"), "chunk_id"), _text(c.get("doc_id"), "doc_id"), _text(c.get("source"), "source"),
                      _text(c.get("title"), "title"), _text(c.get("section"), "section"), start, end, quote)
        citations.append(Citation(_int(c.get("n"), "n"), chunk, quote, start, end))
    return Answer(_text(record.get("text"), "text"), status, citations, question=_text(record.get("question"), "question"),
                  standalone_question=_text(record.get("standalone_question", ""), "standalone_question"),
                  carried_report=_text(record.get("carried_report", ""), "carried_report"))


def saved_list(saved) -> list[dict]:
    """The browser's value as a list of conversations with an id and a list of answers (anything else dropped)."""
    if not isinstance(saved, list):
        return []
    return [c for c in saved if isinstance(c, dict) and isinstance(c.get("id"), str) and isinstance(c.get("answers"), list)]


def save_conversation(saved, conversation_id: str, turns: Sequence[Answer | None], now: float) -> list[dict]:
    """The browser's list with this conversation's answered turns stored under ``conversation_id``, moved to the
    front (newest first), titled by its first question. A conversation without answers is not stored; the list
    keeps the newest ``MAX_SAVED_CONVERSATIONS``, each the last ``MAX_SAVED_TURNS`` answers."""
    answers = [a for a in turns if a is not None][-MAX_SAVED_TURNS:]
    others = [c for c in saved_list(saved) if c["id"] != conversation_id]
    if not answers:
        return others
    first = answers[0].question.strip().replace("\n", " ")
    title = first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1] + "…"
    entry = {"id": conversation_id, "title": title, "updated": now, "answers": [answer_to_record(a) for a in answers]}
    return [entry, *others][:MAX_SAVED_CONVERSATIONS]


def conversation_choices(saved, lang: str = "zh") -> list[tuple[str, str]]:
    """(label, id) for the conversation list: the title, with the number of questions (in the page's language)."""
    from .texts import ui_text

    return [(f"{c.get('title') or ui_text(lang, 'untitled')}{ui_text(lang, 'n_questions', n=len(c['answers']))}", c["id"])
            for c in saved_list(saved)]


def open_conversation(saved, conversation_id: str) -> list[Answer]:
    """The answers of a stored conversation, oldest first (records the browser garbled are left out)."""
    entry = next((c for c in saved_list(saved) if c["id"] == conversation_id), None)
    answers = []
    for record in entry["answers"] if entry else []:
        try:
            answers.append(answer_from_record(record))
        except ValueError:
            continue
    return answers


def chat_messages(answers: Sequence[Answer], render) -> list[dict]:
    """The Chatbot's messages for ``answers``: the question, then ``render(answer)``, per answer."""
    out = []
    for a in answers:
        out += [{"role": "user", "content": a.question}, {"role": "assistant", "content": render(a)}]
    return out
