"""Structure-aware Chinese splitter: ``Document`` in, ``list[Chunk]`` out.

Headings (第X章, a year-plan line such as “2023年工作打算”, 一、, （一）, 1. / （1）, 一是, Markdown #)
open sections; each chunk records its heading path (``2022年工作总结 › 三、… › （一）…``). Inside a
section the text is cut into sentences at 。！？； and newlines, and sentences are packed into chunks of
at most ``chunk_size`` characters, repeating up to ``chunk_overlap`` characters of whole sentences at the
start of the next chunk. A sentence longer than a chunk is cut at ，、：, and as a last resort at a
character boundary that is never inside a number (digits joined by . or ,) or a `*` mask. Chunks never cross
a section boundary, except that a heading with no body of its own travels with the next section's first
chunk when they fit together.
Invariants: ``document.text[c.start:c.end] == c.text``; the chunks cover every non-blank character; no chunk
starts or ends inside a figure; no chunk is longer than ``chunk_size`` unless it is one figure (or a piece
of one sentence ending in one) that is itself longer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import lexicon
from .config import SplitterSettings
from .schema import Chunk, Document

SECTION_SEP = " › "

_CN_NUM = lexicon.CN_NUM
# (level, pattern) — lower level = higher in the hierarchy. Patterns match at the start of a line.
_HEADING_PATTERNS = lexicon.HEADING_PATTERNS
_ENUMERATED_LEVEL = lexicon.ENUMERATED_LEVEL
_MD_HEADING = re.compile(r"^(#{1,6})\s+\S")
_HEADING_MAX = 60  # a heading longer than this is body text that happens to start like one
_SENTENCE_END = "。！？；!?;"
_SOFT_BREAK = "，、：,:"
_NUMBERISH = re.compile(r"[0-9０-９.．%％*＊‰]")
_FIGURE_CHARS = frozenset("0123456789０１２３４５６７８９*＊")
_FIGURE_JOINERS = frozenset(".,．")  # inside a figure only between two figure characters: 1,234.5


def _inside_figure(text: str, i: int) -> bool:
    """True if a cut before ``text[i]`` would split a figure (digits joined by . or ,) or a `*` mask."""
    if i <= 0 or i >= len(text):
        return False
    left, right = text[i - 1], text[i]
    if left in _FIGURE_CHARS and right in _FIGURE_CHARS:
        return True
    if left in _FIGURE_CHARS and right in _FIGURE_JOINERS:
        return i + 1 < len(text) and text[i + 1] in _FIGURE_CHARS
    return left in _FIGURE_JOINERS and right in _FIGURE_CHARS and i >= 2 and text[i - 2] in _FIGURE_CHARS


def _unsafe_cut(text: str, i: int) -> bool:
    """A cut before ``text[i]`` would split a number, a figure with its %, or a mask."""
    return _inside_figure(text, i) or bool(
        i < len(text) and _NUMBERISH.match(text[i - 1]) and _NUMBERISH.match(text[i])
    )


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    section: tuple[str, ...]
    major: tuple[str, ...]  # the section path above enumerations (一是/二是): a change here forces a new chunk
    is_heading: bool = False
    level: int = 99


def _heading(line: str) -> tuple[int, str] | None:
    """(level, heading text) if ``line`` opens a section. Inline headings end at the first 。/：."""
    stripped = line.strip()
    if not stripped:
        return None
    md = _MD_HEADING.match(stripped)
    if md:
        return len(md.group(1)) - 1, stripped.lstrip("#").strip()
    for level, pattern in _HEADING_PATTERNS:
        if not pattern.match(stripped):
            continue
        if level == 1:
            return level, stripped.rstrip("：:")
        head = re.split(r"[。：:]", stripped, maxsplit=1)[0].strip()
        if len(head) > _HEADING_MAX:
            # a numbered line with no short lead clause: use its first clause as a label
            head = re.split(r"[，,；;]", head, maxsplit=1)[0][:_HEADING_MAX]
        return level, head
    return None


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans in text[start:end], cut after 。！？； (closing quotes stay with their sentence)."""
    spans = []
    i = s = start
    while i < end:
        ch = text[i]
        if ch in _SENTENCE_END:
            j = i + 1
            while j < end and text[j] in "”’」』）)":
                j += 1
            spans.append((s, j))
            s = i = j
            continue
        i += 1
    if s < end:
        spans.append((s, end))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def _safe_cut(text: str, start: int, limit: int) -> int:
    """A cut point in (start, limit] not inside a number or `*` mask; prefers soft breaks (，、：).
    If the whole stretch is one figure, the cut moves forward to the figure's end: a figure longer than a
    passage stays whole (its passage is then longer than ``chunk_size``)."""
    for i in range(limit, start + limit // 2 if limit - start > 2 else start, -1):
        if text[i - 1] in _SOFT_BREAK and not _inside_figure(text, i):
            return i
    for i in range(limit, start, -1):
        if not _unsafe_cut(text, i):
            return i
    while limit < len(text) and _unsafe_cut(text, limit):
        limit += 1
    return limit


def _pieces(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Cut one over-long sentence into pieces of at most ``size`` characters (a longer figure stays whole)."""
    out = []
    while end - start > size:
        cut = min(_safe_cut(text, start, start + size), end)
        out.append((start, cut))
        start = cut
    if start < end:
        out.append((start, end))
    return out


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _titles(stack: list[tuple[int, str]], below: int = 99) -> tuple[str, ...]:
    return tuple(t for level, t in stack if level < below)


def _spans(doc: Document, size: int) -> list[_Span]:
    """Sentence-level spans, each tagged with its section path; heading lines are their own span."""
    text = doc.text
    stack: list[tuple[int, str]] = []
    spans: list[_Span] = []
    pos = 0
    for line in text.split("\n"):
        line_start, line_end = pos, pos + len(line)
        pos = line_end + 1
        head = _heading(line)
        body_start = line_start
        if head is not None:
            level, title = head
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
            # the heading text (up to where its title ends) is a span of its own
            lead = len(line) - len(line.lstrip())
            h_end = line_start + lead + len(title) if line.strip().startswith(title) else line_end
            if h_end < line_end and text[h_end] in "。：:":
                h_end += 1
            while h_end < line_end and _unsafe_cut(text, h_end):  # a title cut short must not cut a figure
                h_end += 1
            a, b = _trim(text, line_start, h_end)
            # a heading longer than a passage (a long Markdown title) is cut like a long sentence
            for pa, pb in _pieces(text, a, b, size):
                pa, pb = _trim(text, pa, pb)
                if pb > pa:
                    spans.append(_Span(pa, pb, _titles(stack), _titles(stack, _ENUMERATED_LEVEL), is_heading=True, level=level))
            body_start = h_end
        for a, b in _sentences(text, body_start, line_end):
            a, b = _trim(text, a, b)
            if a > body_start or head is None:
                # “二是…”, “三是…” inside a paragraph open sibling sub-sections (their lead clause is the title)
                sub = _heading(text[a:b])
                if sub and sub[0] == _ENUMERATED_LEVEL:
                    while stack and stack[-1][0] >= _ENUMERATED_LEVEL:
                        stack.pop()
                    stack.append((_ENUMERATED_LEVEL, sub[1].rstrip("；;")))
            section, major = _titles(stack), _titles(stack, _ENUMERATED_LEVEL)
            for pa, pb in _pieces(text, a, b, size):
                pa, pb = _trim(text, pa, pb)
                if pb > pa:
                    spans.append(_Span(pa, pb, section, major))
    return spans


def split_recursive(doc: Document, settings: SplitterSettings) -> list[Chunk]:
    """LangChain's ``RecursiveCharacterTextSplitter`` with its default separators (\\n\\n, \\n, space, "").

    The day-one baseline the evaluation compares against; same Chunk contract (exact offsets), no sections."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap, add_start_index=True
    )
    chunks = []
    for piece in splitter.create_documents([doc.text]):
        start = int(piece.metadata["start_index"])
        if start < 0 or doc.text[start : start + len(piece.page_content)] != piece.page_content:
            start = doc.text.find(piece.page_content)
        end = start + len(piece.page_content)
        if start < 0 or not piece.page_content.strip():
            continue
        chunks.append(Chunk(Chunk.make_id(doc.doc_id, start), doc.doc_id, doc.source, doc.title, "", start, end, doc.text[start:end]))
    unique = {c.chunk_id: c for c in chunks}
    return sorted(unique.values(), key=lambda c: c.start)


def split_document(doc: Document, settings: SplitterSettings) -> list[Chunk]:
    """Split a report into chunks that follow its structure. See the module docstring for the rules."""
    if settings.strategy == "recursive":
        return split_recursive(doc, settings)
    size, overlap = settings.chunk_size, settings.chunk_overlap
    spans = _spans(doc, size)
    chunks: list[Chunk] = []
    current: list[_Span] = []

    def emit(group: list[_Span]) -> None:
        start, end = group[0].start, group[-1].end
        # a chunk is labelled by where its first body sentence sits (enumerations may continue inside it)
        section = next((s.section for s in group if not s.is_heading), group[-1].section)
        chunks.append(
            Chunk(
                chunk_id=Chunk.make_id(doc.doc_id, start),
                doc_id=doc.doc_id,
                source=doc.source,
                title=doc.title,
                section=SECTION_SEP.join(section),
                start=start,
                end=end,
                text=doc.text[start:end],
            )
        )

    def only_headings(group: list[_Span]) -> bool:
        return all(s.is_heading for s in group)

    for span in spans:
        if current:
            new_section = (span.is_heading and span.level < _ENUMERATED_LEVEL) or span.major != current[-1].major
            too_long = span.end - current[0].start > size
            if (new_section and not only_headings(current)) or (too_long and not only_headings(current)):
                emit(current)
                # carry whole trailing sentences of the same section as overlap
                carry: list[_Span] = []
                if not new_section and overlap > 0:
                    for s in reversed(current):
                        if s.is_heading or span.end - s.start > size or current[-1].end - s.start > overlap:
                            break
                        carry.insert(0, s)
                current = carry
            elif too_long:
                # headings travel with the next sentence only while they fit: never a passage over chunk_size
                emit(current)
                current = []
        current.append(span)
    if current:
        emit(current)
    return chunks
