"""Candidate answer spans in the retrieved passages: ``list[Hit]`` in, ``list[Span]`` out.

A span is a run of whole sentences of one passage: a sentence; a sentence with the list that follows it
(“实施‘三大工程’：一是…二是…”); a sentence with the next one or two of the same paragraph (a measure that runs
on); the whole paragraph when it is short; what a heading introduces (“二、移风易俗过节” and the paragraph under
it), with and without the heading. Each span knows the heading it stands under (``lead``). Which of them
answers is decided by the scored features (``features.py``), not here. Offsets are into the passage text, so ``hit.chunk.text[start:end]`` is the span.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Sequence

from .. import lexicon
from ..schema import Chunk, Hit

MAX_SPAN_CHARS = 400  # longest candidate: about a paragraph; longer answers are not short answers
MAX_RUN_ON = 2  # sentences a measure may run on into
MAX_HEADING = 40  # a heading is a short line of its own
ITEM_HEAD_CHARS = 40  # an item's head: its first sentence, cut at a clause end when longer than this
MAX_ITEMS = 12  # items a list answer gathers at most
ITEMS_READ_ON = 3000  # characters after the sentence that names a list within which its items are looked for
MAX_CONTEXT_CHARS = 150  # what a span is read with from before it in its sentence, at most

# Text flattened to one line (web pages, some PDFs) keeps its paragraph breaks only as whitespace between two
# Chinese characters or marks; inside a Chinese sentence there is none.
FLAT_BREAK = re.compile(r"(?<=[^\x00-\x7f])[ \t\u3000\xa0]+(?=[^\x00-\x7f])|[ \t\u3000\xa0]{2,}")
PARAGRAPH_BREAK = re.compile(r"\n|" + FLAT_BREAK.pattern)


@dataclass(frozen=True)
class Span:
    hit: Hit
    start: int  # offsets in hit.chunk.text
    end: int
    sentences: int  # how many sentences it joins
    shape: str  # "sentence" | "list" | "run_on" | "paragraph" | "section" (a heading and its body) | "body" | "heads"
    lead: str = ""  # the heading the span stands under, when the passage shows one before it
    heading: bool = False  # the span is itself a heading line
    # shape "heads": the sentence that names a list, then the head of each of its items, each a span of the
    # passage it is in (the items of a long list run over several passages)
    items: tuple["Span", ...] = ()

    @property
    def text(self) -> str:
        own = self.hit.chunk.text[self.start : self.end]
        return own + "".join(item.text for item in self.items) if self.items else own


def with_its_sentence(span: Span) -> str:
    """The span's text after what comes before it in its whole sentence (from the last 。！？ or paragraph break,
    at most ``MAX_CONTEXT_CHARS`` back, then from a clause start). Spans are cut at ；, and a clause
    (“自营出口28.01亿元”) leaves its period and place earlier in the sentence (“1-9月，全镇…；”): a reader judging
    the clause alone cannot tell whose figure, of when, it states."""
    text = span.hit.chunk.text
    floor = max(0, span.start - MAX_CONTEXT_CHARS)
    start = floor
    for i in range(span.start - 1, floor - 1, -1):
        if text[i] in lexicon.FULL_STOP:
            start = i + 1
            break
    else:
        if floor > 0:
            clause = next((i + 1 for i in range(floor, span.start) if text[i] in lexicon.CLAUSE_END), span.start)
            start = clause
    breaks = [m.end() for m in PARAGRAPH_BREAK.finditer(text, start, span.start)]
    start = max([start, *breaks])
    return text[start : span.start].lstrip() + span.text


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, cut after 。！？； and at paragraph breaks, blanks trimmed."""
    cuts = {i + 1 for i, ch in enumerate(text) if ch in lexicon.SENTENCE_END} | {m.start() for m in PARAGRAPH_BREAK.finditer(text)}
    out, s = [], 0
    for c in sorted(cuts):
        out.append((s, c))
        s = c
    out.append((s, len(text)))
    trimmed = []
    for a, b in out:
        piece = text[a:b]
        a2 = a + len(piece) - len(piece.lstrip())
        b2 = b - (len(piece) - len(piece.rstrip()))
        if b2 - a2 >= 2:
            trimmed.append((a2, b2))
    return trimmed


def _same_paragraph(text: str, a_end: int, b_start: int) -> bool:
    """No paragraph break between two sentences: no newline between them, and their gap, when it is blank,
    is not a flattened break (the characters on either side of it decide)."""
    gap = text[a_end:b_start]
    if "\n" in gap:
        return False
    blank = bool(gap) and not gap.strip(" \t\u3000\xa0")
    return not (blank and FLAT_BREAK.search(text[max(0, a_end - 1) : b_start + 1]))


def is_heading(text: str, sents: list[tuple[int, int]], i: int) -> bool:
    """A short line of its own that does not end a sentence: numbered (二、 （一） 3.) or a paragraph alone."""
    a, b = sents[i]
    line = text[a:b]
    if len(line) > MAX_HEADING or line[-1] in "，,、":
        return False
    # a numbered line that is one short phrase (“六、推进线上线下融合。”) is a heading even with a full stop
    if any(p.match(line) for _, p in lexicon.HEADING_PATTERNS) and not re.search(r"[，,；;：:]", line[:-1]):
        return True
    alone = (i == 0 or not _same_paragraph(text, sents[i - 1][1], a)) and (i + 1 == len(sents) or not _same_paragraph(text, b, sents[i + 1][0]))
    return alone and line[-1] not in "。！？；!?;"


def spans_of(hit: Hit) -> list[Span]:
    text = hit.chunk.text
    sents = sentence_bounds(text)
    out: list[Span] = []
    seen: set[tuple[int, int]] = set()
    headings = [is_heading(text, sents, i) for i in range(len(sents))]
    lead_of, lead = [], ""
    for i, (a, b) in enumerate(sents):
        lead_of.append(lead)  # the last heading before sentence i
        if headings[i]:
            lead = text[a:b]

    def add(i: int, j: int, shape: str) -> None:
        a, b = sents[i][0], sents[j][1]
        if (a, b) not in seen and (b - a <= MAX_SPAN_CHARS or i == j):
            seen.add((a, b))
            out.append(Span(hit, a, b, j - i + 1, shape, lead_of[i], i == j and headings[i]))

    for i, (a, b) in enumerate(sents):
        add(i, i, "sentence")
        if headings[i] and i + 1 < len(sents) and not headings[i + 1]:
            # what the heading introduces: its first paragraph, and all up to the next heading; each with the
            # heading and without it
            j, first = i + 1, None
            while j + 1 < len(sents) and not headings[j + 1] and sents[j + 1][1] - a <= MAX_SPAN_CHARS:
                if first is None and not _same_paragraph(text, sents[j][1], sents[j + 1][0]):
                    first = j
                j += 1
            for end in {first if first is not None else j, j}:
                add(i, end, "section")
                add(i + 1, end, "body")
        sentence = text[a:b]
        # a sentence that names a list: take the items that follow it
        follows_items = i + 1 < len(sents) and lexicon.LIST_ITEM.match(text[sents[i + 1][0] : sents[i + 1][1]])
        if lexicon.LIST_INTRO.search(sentence) or sentence.endswith(("：", ":")) or follows_items:
            j = i
            while (
                j + 1 < len(sents)
                and sents[j + 1][1] - a <= MAX_SPAN_CHARS
                and (j == i or lexicon.LIST_ITEM.match(text[sents[j + 1][0] : sents[j + 1][1]]) or _same_paragraph(text, sents[j][1], sents[j + 1][0]))
            ):
                j += 1
            if j > i:
                add(i, j, "list")
        for extra in range(1, MAX_RUN_ON + 1):
            j = i + extra
            if j < len(sents) and _same_paragraph(text, sents[j - 1][1], sents[j][0]):
                add(i, j, "run_on")
            else:
                break
    # whole short paragraphs
    para_start = 0
    for k in range(len(sents)):
        last = k + 1 == len(sents) or not _same_paragraph(text, sents[k][1], sents[k + 1][0])
        if last:
            if k > para_start:
                add(para_start, k, "paragraph")
            para_start = k + 1
    return out


def names_a_list(sentence: str) -> bool:
    """Does the sentence name a list it does not spell out (“实施‘三大工程’：”, “重点抓好以下六个方面工作。”)?"""
    return bool(lexicon.LIST_INTRO.search(sentence.rstrip("。；;"))) or sentence.endswith(("：", ":"))


def _marker_style(sentence: str) -> str:
    """Which kind of item marker starts the sentence (一是 / （一） / 1、 / 第一), "" for none."""
    m = lexicon.LIST_ITEM.match(sentence)
    if not m:
        return ""
    mark = m.group(0).strip()
    return "是" if mark.endswith("是") else "第" if mark.startswith("第") else "（" if mark[0] in "（(" else "1"


def item_head(text: str, a: int, b: int) -> tuple[int, int]:
    """The head of an item sentence ``text[a:b]``: all of it when short, else up to the first clause end after
    the marker's first words."""
    if b - a <= ITEM_HEAD_CHARS:
        return a, b
    for i in range(a + 6, min(b, a + ITEM_HEAD_CHARS + 20)):
        if text[i] in "，,；;：:。":
            return a, i + 1
    return a, a + ITEM_HEAD_CHARS


def item_heads(hit: Hit, following: Sequence[Chunk], count: int | None = None) -> list[Span]:
    """Spans of shape "heads" for the sentences of ``hit``'s passage that name a list: each with the heads of the
    items that follow it, in this passage and the ``following`` ones of the report (items share the marker kind
    of the first; the list ends at a heading that is no item, at ``count`` items, or after ``MAX_ITEMS``)."""
    passages = [hit] + [dataclasses.replace(hit, chunk=c) for c in following if c.doc_id == hit.chunk.doc_id]
    sentences: list[tuple[Hit, int, int, bool]] = []  # (passage, start, end, is a heading) in report order
    covered = hit.chunk.start
    for h in passages:
        text = h.chunk.text
        bounds = sentence_bounds(text)
        for k, (a, b) in enumerate(bounds):
            if h.chunk.start + a >= covered:  # passages overlap: a sentence is read once
                sentences.append((h, a, b, is_heading(text, bounds, k)))
        covered = max(covered, h.chunk.end)
    out = []
    for i, (h, a, b, _) in enumerate(sentences):
        if h is not hit or not names_a_list(hit.chunk.text[a:b]):
            continue
        items: list[Span] = []
        style = ""
        origin = hit.chunk.start + b
        for h2, a2, b2, heading in sentences[i + 1 :]:
            sentence = h2.chunk.text[a2:b2]
            if h2.chunk.start + a2 - origin > ITEMS_READ_ON:
                break
            mark = _marker_style(sentence)
            if not mark:
                if heading or names_a_list(sentence):
                    break  # a heading that is no item, or another list, ends this one
                continue  # an item's details
            if style and mark != style:
                continue  # a sub-item of another kind inside an item
            style = mark
            s2, e2 = item_head(h2.chunk.text, a2, b2)
            items.append(Span(h2, s2, e2, 1, "item"))
            if len(items) >= (count or MAX_ITEMS):
                break
        if len(items) >= 2:
            out.append(Span(hit, a, b, 1 + len(items), "heads", items=tuple(items)))
    return out


def candidate_spans(hits: list[Hit], heads: Sequence[Span] = ()) -> list[Span]:
    """Every candidate span of ``hits``, then the list ``heads`` spans (``item_heads``) given."""
    return [span for hit in hits for span in spans_of(hit)] + list(heads)
