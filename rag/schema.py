"""The vocabulary every stage speaks: frozen dataclasses flowing one way.

load -> ``Document``; split -> ``Chunk``; retrieve -> ``Hit``; answer -> ``Answer`` with ``Citation``.
The same ``Chunk`` travels from the splitter to the index to the citation unchanged, and
``document.text[chunk.start:chunk.end] == chunk.text`` always holds, so a citation can be found again.
Nothing here does I/O or imports anything heavy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

AnswerStatus = Literal["answered", "redacted", "not_found"]


def content_id(data: bytes) -> str:
    """A deterministic id for a report: the first 16 hex digits of the sha256 of its bytes."""
    return hashlib.sha256(data).hexdigest()[:16]


@dataclass(frozen=True)
class Document:
    """One report, decoded.

    doc_id: hash of the raw bytes (stable across rebuilds and machines).
    source: file name relative to the corpus folder, with forward slashes.
    title: a human title (first heading-like line, else the file stem).
    text: the decoded text, newlines normalised to ``\\n``; chunk offsets refer to it.
    encoding: the encoding the bytes were decoded with.
    """

    doc_id: str
    source: str
    title: str
    text: str
    encoding: str = "utf-8"


@dataclass(frozen=True)
class Chunk:
    """A passage of a report: ``text == report_text[start:end]``.

    section: the heading path, joined with `` › `` (empty before the first heading).
    """

    chunk_id: str
    doc_id: str
    source: str
    title: str
    section: str
    start: int
    end: int
    text: str

    @staticmethod
    def make_id(doc_id: str, start: int) -> str:
        """Chunk ids are doc id + offset, so rebuilds reproduce them."""
        return f"{doc_id}:{start}"


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and 1-based rank, plus the per-signal parts."""

    chunk: Chunk
    score: float
    rank: int
    dense_score: float | None = None
    bm25_score: float | None = None


@dataclass(frozen=True)
class Citation:
    """Marker ``[n]`` of an answer: ``quote`` is a substring of ``chunk.text``.

    quote_start / quote_end are offsets of the quote in the *report* text.
    """

    n: int
    chunk: Chunk
    quote: str
    quote_start: int
    quote_end: int


@dataclass(frozen=True)
class Answer:
    """What ``ask()`` returns.

    text: the answer with ``[n]`` markers (or the refusal / masked-figure notice).
    status: "answered" | "redacted" | "not_found".
    citations: numbered sources, ``n`` matching the markers in ``text``.
    hits: the ranked retrieval results the answer was chosen from.
    question: the question as asked; standalone_question: as understood in its conversation;
    timings: seconds per stage; notes: how the answer was decided (gate, checks);
    confidence: the answerability gate's calibrated probability that the question is answered.
    """

    text: str
    status: AnswerStatus
    citations: list[Citation] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    question: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    standalone_question: str = ""  # the question as understood in the conversation (follow-ups rewritten)
    confidence: float | None = None  # the gate's probability that the reports answer the question (None: no gate)
    carried_report: str = ""  # title of the report carried over from the conversation ("" if none was)
