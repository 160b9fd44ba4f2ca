"""Explicit features of a candidate span against a question's focus: ``(Focus, Span)`` in, ``dict[str, float]`` out.

Every feature names what it measures; how much each counts is not decided here but fitted on the training
split by ``scripts/fit_reader.py`` (``reader_model.json``). The same functions feed the span scorer, the gate,
the fitting script and the evaluation, so what is fitted is what runs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from .. import lexicon
from ..report_identity import place_line, report_year, report_years, year_mismatch
from ..text import normalise
from .candidates import Span
from .focus import Focus

_CLAUSE_BREAK = re.compile(r"[，,；;。]")
PARTIAL_CREDIT = 0.5  # a word of the question whose characters are mostly in the text (新兵 ~ 兵员) counts half

SPAN_FEATURES = (
    "cov", "cov_section", "attr_cov", "entity_cov", "missing_max", "attr_key", "attr_missing_max", "clause_cov", "num_near", "bigram", "key", "locating_only", "dense",
    "passage_dense", "english_dense", "dense_top",
    "num_fit", "num_any", "num_none", "mask_fit", "person", "list_fit", "list_shape", "quote_fit", "quoted_missing",
    "period_match", "period_conflict", "period_unstated", "rank", "retrieval", "novelty", "length", "extra_sents", "open_len",
    "open_extra", "heading", "lead_cov", "section_shape", "body_shape", "rerank",
    "ask_cov", "head_cov", "head_all", "period_off_default", "report_year_mismatch", "place", "time", "first_figure_fit",
    "named_place_away", "list_count_fit", "list_count_short", "heads_shape",
)
GATE_FEATURES = (
    "span_logit", "cov", "max_cov", "attr_cov", "max_attr_cov", "entity_cov", "missing_max", "clause_cov", "num_near",
    "key", "key_anywhere", "attr_key", "attr_key_anywhere", "attr_missing_max",
    "period_conflict", "period_match", "period_unstated", "period_in_hits", "asks_period", "type_fit", "dense",
    "passage_dense", "english", "english_dense", "report_named", "n_terms",
    "ask_cov", "head_cov", "max_head_cov", "head_all", "period_off_default", "period_off_default_hits", "report_year_mismatch",
    "named_place_away", "named_report_nowhere", "list_count_fit", "first_figure_fit",
)
def match(word: str, text: str) -> float:
    """1 if the word is in the text; partial credit when most of its characters are."""
    if word in text:
        return 1.0
    if len(word) >= 2 and not word.isascii():
        shared = sum(ch in text for ch in word) / len(word)
        return PARTIAL_CREDIT * shared if shared >= 0.5 else 0.0
    return 0.0


def coverage(terms: dict[str, float], text: str) -> float:
    """Share of the terms' weight found in ``text`` (normalised)."""
    total = sum(terms.values())
    if total <= 0:
        return 0.0
    return sum(w * match(t, text) for t, w in terms.items()) / total


def _bigrams(text: str) -> set[str]:
    runs = re.findall(r"[\u4e00-\u9fff]{2,}", text)
    return {run[i : i + 2] for run in runs for i in range(len(run) - 1)}


@lru_cache(maxsize=4096)
def _places(sentence: str) -> frozenset[str]:
    """The place names jieba's tagger sees in the text (ns, two characters or more)."""
    import jieba.posseg as pseg

    from ..text import _segmenter

    _segmenter()
    return frozenset(p.word for p in pseg.cut(sentence) if p.flag.startswith("ns") and len(p.word) >= 2)


def names_new_place(text: str, question: str) -> bool:
    """Does the text name a place the question does not (the answer to 在哪个城市…)?"""
    return any(p not in question for p in _places(text))


_DATE = re.compile(r"(?:19|20)\d{2}年|\d{1,2}月(?:\d{1,2}日)?")


def names_new_date(text: str, question: str) -> bool:
    """Does the text give a year or a date the question does not (the answer to 哪一年…)?"""
    return any(m.group(0) not in question for m in _DATE.finditer(text))


@lru_cache(maxsize=4096)
def _has_person(sentence: str) -> bool:
    """Does the text name a person (jieba's part-of-speech tag nr*) other than a national leader?"""
    import jieba.posseg as pseg

    from ..text import _segmenter

    _segmenter()
    return any(p.flag.startswith("nr") and len(p.word) >= 2 and p.word not in lexicon.NATIONAL_LEADERS for p in pseg.cut(sentence))


def novelty(span: str, question: str) -> float:
    """Share of the span's Chinese characters not in the question: low when a span only restates it."""
    chars = [ch for ch in span if "\u4e00" <= ch <= "\u9fff"]
    if not chars:
        return 1.0
    asked = set(question)
    return sum(ch not in asked for ch in chars) / len(chars)


NEAR = 15  # characters between an asked-about word and the figure that answers it, at most


def clause_coverage(terms: dict[str, float], text: str) -> float:
    """The best coverage of the terms by two adjacent clauses: an answer says what was asked in one place,
    a sentence that merely mentions the same words does so across its length."""
    pieces = [p for p in re.split(r"[，,；;。：:！？]", text) if p]
    if len(pieces) <= 2:
        return coverage(terms, text)
    return max(coverage(terms, a + "，" + b) for a, b in zip(pieces, pieces[1:]))


Figure = tuple[int, int, str]  # (start, end, unit) of a figure or `*` mask, as ``lexicon.figures_with_units`` gives it


def all_figures(text: str, units: tuple[str, ...] = ()) -> list[Figure]:
    """Every figure and every `*` mask of ``text`` that could answer a question asking in ``units``, in order."""
    return sorted(lexicon.answer_figures(text, units) + lexicon.answer_figures(text, units, masked=True))


def unit_answers(unit: str, units: tuple[str, ...]) -> bool:
    """Can a figure with ``unit`` answer a question asking in ``units``? Any unit when it asks none; a bare
    number never."""
    return bool(unit) and (not units or lexicon.unit_fits(unit, units))


def figure_near(terms: dict[str, float], text: str, units: tuple[str, ...], figures: list[Figure] | None = None) -> bool:
    """Is a figure (or `*` mask) in a fitting unit at most ``NEAR`` characters after an asked-about word,
    in the same clause (…保障城乡低保1120户; 新兵5名)? ``figures``: ``all_figures(text)`` when already known."""
    starts = [a for a, _, u in (all_figures(text, units) if figures is None else figures) if unit_answers(u, units)]
    if not starts:
        return False
    for t in terms:
        at = text.find(t)
        while at >= 0:
            end = at + len(t)
            if any(0 <= a - end <= NEAR and not _CLAUSE_BREAK.search(text, end, a) for a in starts):
                return True
            at = text.find(t, at + 1)
    return False


def first_figure_fit(terms: dict[str, float], text: str, units: tuple[str, ...], figures: list[Figure] | None = None) -> float:
    """The figure that states an asked-about measure is the first one after it in its clause (进出口总额增长3.4%:
    3.4%). 1 when, after some occurrence of an asked word, that figure has a unit the question asks for (or any
    unit when it asks none); -1 when such figures exist after asked words but none fits (a growth rate where a sum
    is asked); 0 when no asked word is followed by a figure in its clause. ``figures``: ``all_figures(text)``
    when already known."""
    figures = all_figures(text, units) if figures is None else figures
    if not figures:
        return 0.0
    seen = False
    for t in terms:
        at = text.find(t)
        while at >= 0:
            end = at + len(t)
            after = next((f for f in figures if f[0] >= end), None)
            if after is not None and not _CLAUSE_BREAK.search(text, end, after[0]):
                seen = True
                if unit_answers(after[2], units):
                    return 1.0
            at = text.find(t, end)
    return -1.0 if seen else 0.0


@dataclass
class SpanFacts:
    """What the gate and the reader need to know about one scored span besides its features."""

    span: Span
    features: dict[str, float]
    asked: dict[str, float]
    score: float = 0.0
    year: int | None = None  # the year of the span's report (``report_year``)
    place_away: bool = False  # the question names its report's place and this report's names line lacks it


def off_default_period(asked: frozenset[str], stated: frozenset[str], year: int | None) -> bool:
    """A year is asked that the text does not state and that is neither the report's year nor the one before
    (the year a report reviews, or plans for, without naming it): the passage speaks of another period."""
    return bool(year) and any(p.startswith("Y") and p not in stated and int(p[1:]) not in (year, year - 1) for p in asked)


def names_absent(focus: Focus, report_text: str) -> float:
    """Share of the weight of the names the question uses (places, organisations) that the report never
    mentions, not even by the distinctive part of the name. ``report_text``: normalised title, context line
    and full text of the report. (As a span-scorer and gate feature it did not raise 5-fold CV on train,
    0.584 vs 0.587, so it is not one; the conversation uses it to decide whether a report carries over.)"""
    names = {t: w for t, w in focus.terms.items() if t in focus.entities}
    total = sum(names.values())
    if total <= 0 or not report_text:
        return 0.0
    return sum(w for t, w in names.items() if lexicon.name_core(t) not in report_text) / total


def span_features(
    focus: Focus,
    span: Span,
    report_names: str,
    top_score: float,
    dense: float = 0.0,
    rerank: float = 0.0,
) -> SpanFacts:
    text = normalise(span.text)
    chunk = span.hit.chunk
    section = normalise(chunk.section)
    asked, locating = focus.split_terms(report_names)
    cov = coverage(asked, text)
    cov_section = coverage(asked, section + "\n" + text)
    entities = {t: w for t, w in asked.items() if t in focus.entities}
    attributes = {t: w for t, w in asked.items() if t not in entities}
    total = sum(asked.values())
    missing_max = max((w for t, w in asked.items() if t not in text), default=0.0) / total if total else 0.0
    q_bigrams = _bigrams(normalise(focus.question.replace(focus.locator, "") if focus.locator else focus.question))
    bigram = len(q_bigrams & _bigrams(text)) / len(q_bigrams) if q_bigrams else 0.0
    key = max(asked, key=asked.get) if asked else ""
    # the rarest word of what is asked (not of the names that say where): 营业收入 in “华海药业的营业收入”
    attr_key = max(attributes, key=attributes.get) if attributes else key
    attr_total = sum(attributes.values())
    # what the asked clauses name, and the words next to the question word (the measure asked), without the
    # words that name this report; without such clauses, all that is asked
    ask = {t: w for t, w in asked.items() if t in focus.asked} or asked
    head = {t: w for t, w in asked.items() if t in focus.head} or ask
    kind = focus.answer_type
    number = kind == "number"
    shown_figures, masked_figures = lexicon.answer_figures(text, focus.units), lexicon.answer_figures(text, focus.units, masked=True)
    figures = sorted(shown_figures + masked_figures)
    shown = [u for _, _, u in shown_figures]
    masked = [u for _, _, u in masked_figures if u]
    fit = any(u and lexicon.unit_fits(u, focus.units) for u in shown) or (not focus.units and any(shown))
    mask_fit = any(lexicon.unit_fits(u, focus.units) for u in masked)
    items = max(text.count(lexicon.ENUMERATION_MARK) + 1 if lexicon.ENUMERATION_MARK in text else 0, len(lexicon.LIST_ITEM.findall(span.text)))
    year = report_year(chunk.title, chunk.source, report_names)
    stated = lexicon.periods(section + " " + text, year)
    asked_periods = lexicon.resolve_relative(focus.periods, year)
    # a report of the place the question names names it in its title or context line; a report that only
    # mentions the place somewhere (a neighbour, the province of a city) is not that report
    place_away = bool(focus.report.places) and not focus.report.place_fits(place_line(chunk.title, chunk.source, report_names))
    length = len(span.text)
    heading = float(span.heading or (length < 60 and (span.text.rstrip("。：:") in chunk.section or span.text == chunk.title)))
    f = {
        "cov": cov,
        "cov_section": cov_section,
        "attr_cov": coverage(attributes, text) if attributes else cov,
        "entity_cov": coverage(entities, text) if entities else cov,
        "missing_max": missing_max,
        "attr_key": float(bool(attr_key) and attr_key in text),
        "attr_missing_max": max((w for t, w in attributes.items() if t not in text), default=0.0) / attr_total if attr_total else 0.0,
        "clause_cov": clause_coverage(asked, text),
        "num_near": float(number and figure_near(attributes or asked, text, focus.units, figures)),
        "first_figure_fit": first_figure_fit(head, text, focus.units, figures) if number else 0.0,
        "bigram": bigram,
        "key": float(bool(key) and key in text),
        "locating_only": float(cov == 0 and bool(locating) and coverage(locating, text) > 0),
        "dense": dense,
        "passage_dense": span.hit.dense_score or 0.0,
        "english_dense": dense if focus.english else 0.0,
        "dense_top": 0.0,  # set by the gate once the embedding model has scored the best spans
        "num_fit": float(number and fit),
        "num_any": float(number and bool(shown)),
        "num_none": float(number and not shown and not masked),
        "mask_fit": float(number and mask_fit and bool(focus.units)),
        "person": float(kind == "person" and _has_person(span.text)),
        "place": float(kind == "place" and names_new_place(text, normalise(focus.question))),
        "time": float(kind == "time" and names_new_date(text, normalise(focus.question))),
        "list_fit": float(kind == "list" and items >= 2),
        "list_shape": float(kind == "list" and span.shape in ("list", "heads")),
        "heads_shape": float(kind == "list" and span.shape == "heads"),
        "quote_fit": float(kind == "fact" and lexicon.QUOTE_OPEN in span.text),
        "quoted_missing": float(any(q not in text for q in focus.quoted)),
        "period_match": float(bool(asked_periods) and bool(asked_periods & stated)),
        "period_conflict": float(bool(asked_periods) and lexicon.conflicting_periods(asked_periods, stated)),
        "period_unstated": float(bool(asked_periods) and not (asked_periods & stated)),
        "rank": 1.0 / span.hit.rank,
        "retrieval": span.hit.score / top_score if top_score > 0 else 0.0,
        "novelty": novelty(span.text, focus.question),
        "length": min(length, 400) / 100.0,
        "extra_sents": float(span.sentences - 1),
        "open_len": min(length, 400) / 100.0 if kind == "open" else 0.0,
        "open_extra": float(span.sentences - 1) if kind == "open" else 0.0,
        "heading": heading,
        "lead_cov": coverage(asked, normalise(span.lead)) if span.lead else 0.0,
        "section_shape": float(span.shape == "section"),
        "body_shape": float(span.shape == "body"),
        "rerank": rerank,
        "ask_cov": coverage(ask, text),
        "head_cov": coverage(head, text),
        "head_all": float(all(t in text for t in head)),
        "period_off_default": float(off_default_period(asked_periods, stated, year)),
        "report_year_mismatch": float(year_mismatch(focus.report.years, report_years(chunk.title, chunk.source, report_names))),
        "named_place_away": float(place_away),
        # the question names how many items (哪五大战略): a span with fewer holds part of the list at most
        "list_count_fit": float(kind == "list" and bool(focus.list_count) and items >= (focus.list_count or 0)),
        "list_count_short": float(kind == "list" and bool(focus.list_count) and items < (focus.list_count or 0)),
    }
    return SpanFacts(span, f, asked, year=year, place_away=place_away)


def gate_features(focus: Focus, best: SpanFacts, all_facts: list[SpanFacts], span_logit: float, report_share_gap: float) -> dict[str, float]:
    """Question-level evidence that the best span answers what was asked."""
    f = best.features
    key = max(best.asked, key=best.asked.get) if best.asked else ""
    kind = focus.answer_type
    type_fit = {
        "number": max(f["num_fit"], f["mask_fit"]),
        "list": f["list_fit"],
        "person": f["person"],
        "place": f["place"],
        "time": f["time"],
    }.get(kind, 1.0)
    doc = best.span.hit.chunk.doc_id
    same_report = [s for s in all_facts if s.span.hit.chunk.doc_id == doc]
    year = best.year
    stated = lexicon.periods(" ".join({s.span.hit.chunk.text for s in same_report}) + " " + best.span.hit.chunk.title, year)
    asked_periods = lexicon.resolve_relative(focus.periods, year)
    return {
        "span_logit": span_logit,
        "cov": f["cov"],
        "max_cov": max((s.features["cov"] for s in all_facts), default=0.0),
        "attr_cov": f["attr_cov"],
        "max_attr_cov": max((s.features["attr_cov"] for s in all_facts), default=0.0),
        "entity_cov": f["entity_cov"],
        "missing_max": f["missing_max"],
        "clause_cov": f["clause_cov"],
        "num_near": f["num_near"],
        "first_figure_fit": f["first_figure_fit"],
        "key": f["key"],
        "key_anywhere": float(bool(key) and any(key in normalise(s.span.text) for s in all_facts)),
        "attr_key": f["attr_key"],
        "attr_key_anywhere": max((s.features["attr_key"] for s in all_facts), default=0.0),
        "attr_missing_max": f["attr_missing_max"],
        "period_conflict": f["period_conflict"],
        "period_match": f["period_match"],
        "period_unstated": f["period_unstated"],
        "period_in_hits": float(bool(asked_periods) and bool(asked_periods & stated)),
        "asks_period": float(bool(asked_periods)),
        "type_fit": type_fit,
        "dense": f["dense"],
        "passage_dense": f["passage_dense"],
        "english": float(focus.english),
        "english_dense": f["english_dense"],
        "report_named": report_share_gap,
        "n_terms": math.log1p(len(focus.terms)),
        "ask_cov": f["ask_cov"],
        "head_cov": f["head_cov"],
        "max_head_cov": max((s.features["head_cov"] for s in all_facts), default=0.0),
        "head_all": f["head_all"],
        "period_off_default": f["period_off_default"],
        "period_off_default_hits": float(off_default_period(asked_periods, stated, year)),
        "report_year_mismatch": f["report_year_mismatch"],
        "named_place_away": f["named_place_away"],
        "list_count_fit": f["list_count_fit"],
        # no retrieved passage is of a report that fits the name the question gives its report: retrieval keeps
        # to the fitting reports when the library has one (``rag.report_identity``), so the library has none
        "named_report_nowhere": float(bool(all_facts) and all(s.place_away or s.features["report_year_mismatch"] for s in all_facts)),
    }
