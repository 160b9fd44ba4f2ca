"""Candidate answer spans in the retrieved passages: ``list[Hit]`` in, ``list[Span]`` out.

A span is a run of whole sentences of one passage: a sentence; a sentence with the list that follows it
(“实施‘三大工程’：一是…二是…”); a sentence with the next one or two of the same paragraph (a measure that runs
on); the whole paragraph when it is short. Which of them answers is decided by the scored features
(``features.py``), not here. Offsets are into the passage text, so ``hit.chunk.text[start:end]`` is the span.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import lexicon
from ..schema import Hit

MAX_SPAN_CHARS = 400  # longest candidate: about a paragraph; longer answers are not short answers
MAX_RUN_ON = 2  # sentences a measure may run on into


@dataclass(frozen=True)
class Span:
    hit: Hit
    start: int  # offsets in hit.chunk.text
    end: int
    sentences: int  # how many sentences it joins
    shape: str  # "sentence" | "list" | "run_on" | "paragraph"

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.start : self.end]


def sentence_bounds(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, cut after 。！？； and newlines, blanks trimmed."""
    out, s = [], 0
    for i, ch in enumerate(text):
        if ch in lexicon.SENTENCE_END:
            out.append((s, i + 1))
            s = i + 1
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
    return "\n" not in text[a_end:b_start]


def spans_of(hit: Hit) -> list[Span]:
    text = hit.chunk.text
    sents = sentence_bounds(text)
    out: list[Span] = []
    seen: set[tuple[int, int]] = set()

    def add(i: int, j: int, shape: str) -> None:
        a, b = sents[i][0], sents[j][1]
        if (a, b) not in seen and (b - a <= MAX_SPAN_CHARS or i == j):
            seen.add((a, b))
            out.append(Span(hit, a, b, j - i + 1, shape))

    for i, (a, b) in enumerate(sents):
        add(i, i, "sentence")
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


def candidate_spans(hits: list[Hit]) -> list[Span]:
    return [span for hit in hits for span in spans_of(hit)]
