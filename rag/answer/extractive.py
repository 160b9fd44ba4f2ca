"""The extractive reader: an ``AnswerPlan`` (with the gate's decision) and hits in, an ``Answer`` out. No LLM.

It quotes the best span the gate found — trimmed to the clauses that carry the focus when it is a long
single sentence — so every figure in the answer is, character for character, the figure of the cited
passage. A masked figure is quoted with a notice and no number; ``not_found`` cites nothing. An English
question gets an English sentence that states the figure and quotes the Chinese source.
"""

from __future__ import annotations

import dataclasses

from .. import lexicon
from ..schema import Answer, Citation, Hit
from ..text import normalise
from .features import SpanFacts, coverage, novelty
from .gate import AnswerPlan
from .messages import NOT_FOUND_TEXT, NOT_FOUND_TEXT_EN, REDACTED_LEAD, REDACTED_LEAD_EN, english_lead

TRIM_ABOVE = 50  # a sentence longer than this is trimmed to the clauses that answer
MIN_QUOTE = 16  # a trimmed quote keeps at least this many characters
RESTATED_NOVELTY = 0.3  # a clause with at most this share of characters not in the question restates it


def _clauses(text: str) -> list[tuple[int, int]]:
    out, s = [], 0
    for i, ch in enumerate(text):
        if ch in lexicon.CLAUSE_END:
            if text[s : i + 1].strip():
                out.append((s, i + 1))
            s = i + 1
    if text[s:].strip():
        out.append((s, len(text)))
    return out


def drop_restated(text: str, question: str) -> int:
    """Where the answer starts once the leading clauses that only restate the question are dropped (“对于因疫情
    影响暂停举办的展会项目，如年内…” asked “…暂停举办的展会项目有何支持政策”): clauses whose Chinese characters
    are nearly all in the question, as long as at least ``MIN_QUOTE`` characters remain."""
    start = 0
    for a, b in _clauses(text):
        if text[a:b].rstrip()[-1:] in lexicon.SENTENCE_END or len(text) - b < MIN_QUOTE:
            break
        if novelty(text[a:b], question) > RESTATED_NOVELTY:
            break
        start = b
    return start


def trim(facts: SpanFacts, plan: AnswerPlan) -> tuple[int, int]:
    """Offsets (in the passage) of the part of the span that answers. A span answering an open question
    (有何政策, 如何处理) loses its leading clauses that restate it; a fact question's answer may be a name made of
    the question's own characters (团螺村 for 团螺山所在镇哪个村), so there they stay. A long single sentence is
    cut to the shortest run of its clauses that keeps its coverage of the focus and, for a figure question, a
    figure in the unit asked for. Multi-sentence spans (lists, measures that run on) and open questions are not
    cut further."""
    span, focus = facts.span, plan.focus
    if focus.answer_type == "open":
        start = span.start + drop_restated(span.text, focus.question)
        span = dataclasses.replace(span, start=start)
    text = span.text
    if len(text) <= TRIM_ABOVE or span.sentences > 1 or focus.answer_type in ("open", "list") or not facts.asked:
        return span.start, span.end
    clauses = _clauses(text)
    if len(clauses) <= 1:
        return span.start, span.end

    def piece(i: int, j: int) -> str:
        return normalise(text[clauses[i][0] : clauses[j][1]])

    def has_figure(i: int) -> bool:
        found = lexicon.answer_figures(piece(i, i), focus.units) + lexicon.answer_figures(piece(i, i), focus.units, masked=True)
        return any(u and lexicon.unit_fits(u, focus.units) for _, _, u in found)

    need_figure = focus.answer_type == "number" and any(has_figure(k) for k in range(len(clauses)))
    full = coverage(facts.asked, normalise(text))
    best = None
    for i in range(len(clauses)):
        for j in range(i, len(clauses)):
            if coverage(facts.asked, piece(i, j)) >= full - 0.02 and (not need_figure or any(has_figure(k) for k in range(i, j + 1))):
                if best is None or clauses[j][1] - clauses[i][0] < best[0]:
                    best = (clauses[j][1] - clauses[i][0], i, j)
                break
    if best is None:
        return span.start, span.end
    _, i, j = best
    if focus.answer_type == "number":
        # …1120户1774人: keep the figures that follow the matched clause
        while j + 1 < len(clauses) and has_figure(j + 1) and not has_figure(j):
            j += 1
    elif lexicon.QUOTE_OPEN not in piece(i, j) and j + 1 < len(clauses):
        # the answer to 叫什么 / 是什么 is usually the clause right after the words that match
        j += 1
    while j + 1 < len(clauses) and text[clauses[j][1] - 1] in "：:":
        j += 1  # a clause ending in a colon introduces what follows
    while clauses[j][1] - clauses[i][0] < MIN_QUOTE and (i > 0 or j + 1 < len(clauses)):
        if j + 1 < len(clauses):
            j += 1
        else:
            i -= 1
    a, b = clauses[i][0], clauses[j][1]
    while b > a and text[b - 1] in lexicon.TRAILING_PUNCT:
        b -= 1
    return span.start + a, span.start + b


def cite(facts: SpanFacts, n: int, bounds: tuple[int, int]) -> Citation:
    chunk = facts.span.hit.chunk
    a, b = bounds
    return Citation(n=n, chunk=chunk, quote=chunk.text[a:b], quote_start=chunk.start + a, quote_end=chunk.start + b)


def asked_figure(quote: str, plan: AnswerPlan) -> str:
    """The first figure with a fitting unit in the quote, as printed (for the English answer sentence); an
    ordinal with its English form (第五 (5th)). Digits glued to a Latin letter are part of a name (PM2.5, G316,
    5G), not a figure."""
    text = normalise(quote)
    for a, b, unit in lexicon.answer_figures(quote, plan.focus.units):
        if (a > 0 and text[a - 1].isascii() and text[a - 1].isalpha()) or (b < len(text) and text[b].isascii() and text[b].isalpha()):
            continue
        if unit == lexicon.ORDINAL_UNIT and (english := lexicon.english_ordinal(text[a:b])):
            return f"{text[a:b]} ({english})"
        if unit and lexicon.unit_fits(unit, plan.focus.units):
            return text[a:b]
    return ""


class ExtractiveReader:
    """Quotes the span the gate chose; ``read(plan, hits) -> Answer``."""

    def read(self, plan: AnswerPlan, hits: list[Hit]) -> Answer:
        d = plan.decision
        english = plan.focus.english
        if d.status == "not_found" or d.best is None:
            return Answer(NOT_FOUND_TEXT_EN if english else NOT_FOUND_TEXT, "not_found", [], hits, plan.question, notes=list(d.notes))
        if d.reports:
            return self._which_reports(plan, hits)
        if d.best.span.items and d.status == "answered":
            return self._list_heads(plan, hits)
        citation = cite(d.best, 1, trim(d.best, plan))
        quote = citation.quote.rstrip("。；;，,")
        if d.status == "redacted":
            lead = REDACTED_LEAD_EN if english else REDACTED_LEAD
            return Answer(f"{lead}“{citation.quote}”[1]", "redacted", [citation], hits, plan.question, notes=list(d.notes))
        if english:
            text = f"{english_lead(asked_figure(citation.quote, plan))}“{quote}”[1]."
        else:
            text = f"{quote}[1]。"
        return Answer(text, "answered", [citation], hits, plan.question, notes=list(d.notes))

    def _list_heads(self, plan: AnswerPlan, hits: list[Hit]) -> Answer:
        """The sentence that names a list and the head of each item, in order, each marked with the passage it
        is quoted from; one citation per passage, quoting it from its first piece to its last."""
        span = plan.decision.best.span
        pieces = [span] + list(span.items)
        numbers: dict[str, int] = {}
        bounds: dict[str, list] = {}
        for piece in pieces:
            chunk = piece.hit.chunk
            numbers.setdefault(chunk.chunk_id, len(numbers) + 1)
            lo, hi, _ = bounds.get(chunk.chunk_id, (piece.start, piece.end, chunk))
            bounds[chunk.chunk_id] = [min(lo, piece.start), max(hi, piece.end), chunk]
        citations = [
            Citation(numbers[cid], chunk, chunk.text[a:b], chunk.start + a, chunk.start + b)
            for cid, (a, b, chunk) in bounds.items()
        ]
        marked = [f"{p.text.rstrip('。；;，,：:')}[{numbers[p.hit.chunk.chunk_id]}]" for p in pieces]
        text = marked[0] + "：" + "；".join(marked[1:]) + "。"
        if plan.focus.english:
            text = english_lead("") + text
        return Answer(text, "answered", citations, hits, plan.question, notes=list(plan.decision.notes) + [f"list items={len(span.items)}"])

    def _which_reports(self, plan: AnswerPlan, hits: list[Hit]) -> Answer:
        lines, citations = [], []
        for n, facts in enumerate(plan.decision.reports, start=1):
            citation = cite(facts, n, trim(facts, plan))
            citations.append(citation)
            chunk = facts.span.hit.chunk
            lines.append(f"- 《{chunk.title}》（{chunk.source}）：{citation.quote.rstrip('。；;')}[{n}]")
        head = f"共有 {len(citations)} 份报告提到："
        return Answer(head + "\n" + "\n".join(lines), "answered", citations, hits, plan.question, notes=list(plan.decision.notes))


class TopPassageReader:
    """The day-one baseline: the best passage is the answer, cited as [1]. It ignores the gate (never
    refuses, never checks a figure); the evaluation compares the other readers against it."""

    def read(self, plan: AnswerPlan, hits: list[Hit]) -> Answer:
        if not hits:
            return Answer(NOT_FOUND_TEXT, "not_found", [], hits, plan.question)
        chunk = hits[0].chunk
        citation = Citation(1, chunk, chunk.text, chunk.start, chunk.end)
        return Answer(f"{chunk.text}[1]", "answered", [citation], hits, plan.question)
