"""Users' ratings of answers: a record per 👍/👎, appended to a JSON Lines file, and turned into a question set.

In: an ``Answer``, a rating ("up" | "down" | "withdrawn") and an optional comment. ``feedback_record`` makes the
record (pure); ``FeedbackStore.append`` writes it as one line, safe under concurrent requests (a thread lock
and an exclusive file lock around one ``write`` of the whole line, in append mode), so records never interleave.
``feedback_to_questions`` turns the records into the project's QA format (see ``rag.evaluate``): approved
answers become questions with expected answers and evidence; rejected ones become questions marked
``"review": true`` (``rag eval`` skips those until a person writes the gold answer and removes the mark).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Iterable

from .errors import RagError
from .schema import Answer, content_id

RATINGS = ("up", "down", "withdrawn")
_MARKER = re.compile(r"\[\d+\]")


def feedback_record(answer: Answer, rating: str, comment: str = "", when: float | None = None,
                    max_comment_chars: int = 2000) -> dict:
    """The JSON-able record of one rating: time (ISO, UTC), question, standalone question, answer text, status,
    citations (report file, doc id, quote offsets in the report, quote), rating and comment (cut to
    ``max_comment_chars``). Raises ValueError for a rating other than up / down / withdrawn."""
    if rating not in RATINGS:
        raise ValueError(f"rating must be one of {', '.join(RATINGS)}, got {rating!r}")
    when = time.time() if when is None else when
    seen: set[int] = set()
    citations = []
    for c in answer.citations:
        if c.n in seen:
            continue
        seen.add(c.n)
        citations.append({"n": c.n, "source": c.chunk.source, "doc_id": c.chunk.doc_id, "start": c.quote_start,
                          "end": c.quote_end, "quote": c.quote})
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)),
        "question": answer.question,
        "standalone_question": answer.standalone_question or answer.question,
        "answer": answer.text,
        "status": answer.status,
        "citations": citations,
        "rating": rating,
        "comment": (comment or "").strip()[:max_comment_chars],
    }


def _line(record: dict) -> bytes:
    try:
        text = json.dumps(record, ensure_ascii=False)
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate cannot be UTF-8: JSON's \\u escapes keep it
        return (json.dumps(record) + "\n").encode("ascii")


class FeedbackStore:
    """Appends records to one JSON Lines file. Safe across threads (a lock) and processes (``flock`` where the
    platform has it); each record is one ``write`` of one complete line."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: dict) -> None:
        """Write ``record`` as one line at the end of the file (created with its folder if missing)."""
        data = _line(record)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                try:
                    import fcntl

                    fcntl.flock(fd, fcntl.LOCK_EX)  # another server process appending to the same file waits
                except ImportError:  # pragma: no cover - Windows: the thread lock still holds within one process
                    pass
                written = 0
                while written < len(data):  # os.write may write less than asked (rare, e.g. a signal)
                    written += os.write(fd, data[written:])
                os.fsync(fd)
            finally:
                os.close(fd)  # closing releases the flock


def read_feedback(path: str | os.PathLike) -> list[dict]:
    """The records of a feedback file, oldest first. A line that is not a JSON object (e.g. cut by a crash) is
    an error naming the file and line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise RagError(f"no feedback file at {path}") from exc
    out = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RagError(f"{path}:{n}: not a feedback record ({exc})") from exc
        if not isinstance(row, dict) or row.get("rating") not in RATINGS or not row.get("standalone_question"):
            raise RagError(f"{path}:{n}: not a feedback record")
        out.append(row)
    return out


def _kind(status: str) -> str:
    return {"redacted": "redacted", "not_found": "unanswerable"}.get(status, "span")


def _evidence(record: dict) -> tuple[list[str], list[str]]:
    """(docs, evidence) of a record: the cited report files (first appearance order) and the quotes."""
    citations = record.get("citations") or []
    docs = list(dict.fromkeys(c["source"] for c in citations))
    return docs, [c["quote"] for c in citations]


def feedback_to_questions(records: Iterable[dict]) -> tuple[list[dict], list[dict]]:
    """(questions, to_review) in the QA format. Records are grouped by (standalone question, answer text); the
    latest rating of a group counts, and a withdrawn rating removes it. A 👍 answer becomes a question whose
    expected answer is the approved answer (markers removed; kind ``span``, or ``redacted`` / ``unanswerable``
    by its status) with the cited reports and quotes as evidence. A 👎 answer becomes a question marked
    ``"review": true`` with the rejected answer, its citations and the user's comment; its ``answers`` are
    empty until a person fills them in. Ids are ``fb-`` + a hash of the question, so reruns keep them."""
    latest: dict[tuple[str, str], dict] = {}
    for record in records:
        key = (record["standalone_question"], record.get("answer", ""))
        latest.pop(key, None)  # re-inserted: the order is that of each group's latest rating
        latest[key] = record
    questions, review = [], []
    used_ids: set[str] = set()
    for record in latest.values():
        if record["rating"] == "withdrawn":
            continue
        question = record["standalone_question"]
        qid = "fb-" + content_id(question.encode("utf-8", "surrogatepass"))[:10]
        while qid in used_ids:  # the same question with two different answers
            qid += "x"
        used_ids.add(qid)
        docs, evidence = _evidence(record)
        row = {"id": qid, "question": question, "kind": _kind(record.get("status", "answered")),
               "tags": ["feedback"], "asked_as": record.get("question", question), "rated": record.get("time", "")}
        if record.get("comment"):
            row["comment"] = record["comment"]
        if record["rating"] == "up":
            text = _MARKER.sub("", record.get("answer", "")).strip()
            answers = [text] if row["kind"] == "span" and text else []
            if row["kind"] == "unanswerable":
                docs, evidence = [], []
            questions.append({**row, "answers": answers, "docs": docs, "evidence": evidence})
        else:
            review.append({**row, "answers": [], "docs": docs, "evidence": evidence, "review": True,
                           "rejected_answer": record.get("answer", ""), "rejected_status": record.get("status", "")})
    return questions, review


def write_questions(rows: Iterable[dict], path: str | os.PathLike) -> int:
    """Write QA rows as JSON Lines (replacing the file); returns how many."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = list(rows)
    path.write_bytes(b"".join(_line(r) for r in rows))
    return len(rows)
