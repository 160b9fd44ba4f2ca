"""Scoring one answered question against its gold labels.

In: an ``EvalQuestion``, the ``Answer`` that ``Assistant.ask`` gave, and a ``Gold`` (the corpus folder and the
index's passage store, which resolve gold file names and evidence quotes to report ids, offsets and chunk ids).
Out: a ``QuestionRecord`` with every check and a sentence for each failed one. Also the answer matching it uses
(``normalise_answer``, ``contains_answer``, ``char_f1``) and ``unsupported_figures``. Reads the gold report
files (to hash them); writes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..schema import Answer, content_id
from ..text import expand_scale
from .questions import ANSWERABLE, KINDS_WITH_ANSWERS, EvalQuestion

_MARKER = re.compile(r"\[\d+\]")
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def normalise_answer(text: str) -> str:
    """NFKC (full-width digits), no spaces, no thousands separators, no [n] markers."""
    text = unicodedata.normalize("NFKC", _MARKER.sub("", text))
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    return re.sub(r"\s+", "", text)


def contains_answer(text: str, gold: str) -> bool:
    t, g = normalise_answer(text), normalise_answer(gold)
    return g in t or expand_scale(g) in expand_scale(t)


def char_f1(prediction: str, gold: str) -> float:
    """Character-level F1 (punctuation and spaces ignored), as in Chinese reading-comprehension scoring."""
    p = Counter(_PUNCT.sub("", normalise_answer(prediction)))
    g = Counter(_PUNCT.sub("", normalise_answer(gold)))
    common = sum((p & g).values())
    if not common:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(g.values())
    return 2 * precision * recall / (precision + recall)


@dataclass
class QuestionRecord:
    """One question under one configuration: what came back and how each check went."""

    id: str
    kind: str
    question: str
    answer: str
    status: str
    lang: str
    neg: str
    tags: list[str]
    confidence: float | None  # the gate's probability (reliability diagram)
    citations: list[dict]
    report_ranking: list[str]  # report ids of the hits, best first, deduplicated
    hit_ids: list[str]  # chunk ids of the hits, best first
    gold_reports: list[str]  # report ids holding the answer
    gold_passages: list[str]  # chunk ids (of the whole index) overlapping the gold evidence
    evidence_rank: int | None  # 1-based rank of the first hit overlapping the gold evidence
    report_rank: int | None  # 1-based rank of the first gold report among report_ranking
    checks: dict[str, Any]
    failures: list[str]
    timings: dict[str, float]


class Gold:
    """Gold reports and evidence spans of the corpus, resolved by content (duplicate files map to one id)."""

    def __init__(self, corpus_dir: Path, store):
        self.corpus_dir = corpus_dir
        self.store = store
        self._id_of_file: dict[str, str | None] = {}

    def doc_id(self, name: str) -> str | None:
        if name not in self._id_of_file:
            path = self.corpus_dir / name
            self._id_of_file[name] = content_id(path.read_bytes()) if path.is_file() else None
        return self._id_of_file[name]

    def spans(self, q: EvalQuestion) -> list[tuple[str, int, int]]:
        """(doc_id, start, end) of each evidence quote found in a gold report."""
        out = []
        doc_ids = [d for d in (self.doc_id(n) for n in q.docs) if d]
        for ev in q.evidence:
            for doc_id in doc_ids:
                doc = self.store.doc_by_id.get(doc_id)
                if doc is None:
                    continue
                pos = doc.text.find(ev)
                if pos < 0:
                    pos = unicodedata.normalize("NFKC", doc.text).find(unicodedata.normalize("NFKC", ev))
                if pos >= 0:
                    out.append((doc_id, pos, pos + len(ev)))
                    break
        return out


def _gold_passages(store, spans) -> list[str]:
    """Chunk ids of the passages that overlap a gold span (``(doc_id, start, end)``)."""
    found = (store.passages.chunk(i) for d in sorted({d for d, _, _ in spans}) for i in store.passages.passages_of(d))
    return sorted(c.chunk_id for c in found if _overlaps(c, spans))


def _overlaps(chunk, spans) -> bool:
    return any(chunk.doc_id == d and chunk.start < e and s < chunk.end for d, s, e in spans)


def unsupported_figures(answer: Answer, question: str) -> list[str]:
    """Figures of the shown answer that are in neither the passage its stretch of text cites nor the question.
    Each stretch of text up to a marker ``[n]`` is a claim about passage n; report titles, file names and the
    count line of a "which reports" answer are labels, not claims."""
    from ..llm_checks import figure_in
    from ..llm_checks import figures as llm_figures

    passages = {c.n: c.chunk.text for c in answer.citations}
    claims = re.sub(r"《[^》]*》|（[^）]*\.(?:txt|md|docx|pdf)）|^共有 \d+ 份报告提到：", "", answer.text, flags=re.M)
    bad = []
    for segment, n in re.findall(r"(.*?)\[(\d+)\]", claims, flags=re.S):
        for figure in llm_figures(segment):
            if int(n) in passages and not figure_in(figure, passages[int(n)]) and not figure_in(figure, question):
                bad.append(figure)
    return bad


def score_question(q: EvalQuestion, answer: Answer, gold: Gold) -> QuestionRecord:
    """Every check for one answered question, with a sentence for each failure."""
    gold_docs = {d for d in (gold.doc_id(n) for n in q.docs) if d}
    spans = gold.spans(q)
    failures: list[str] = []
    checks: dict[str, Any] = {}

    ranking: list[str] = []
    for h in answer.hits:
        if h.chunk.doc_id not in ranking:
            ranking.append(h.chunk.doc_id)
    report_rank = next((i + 1 for i, d in enumerate(ranking) if d in gold_docs), None)
    evidence_rank = next((h.rank for h in answer.hits if _overlaps(h.chunk, spans)), None)
    if gold_docs and report_rank is None:
        failures.append(f"retrieval: no gold report among the {len(answer.hits)} hits")
    if spans and evidence_rank is None:
        failures.append(f"retrieval: no hit overlaps the gold evidence «{q.evidence[0][:30]}»")
    elif evidence_rank and evidence_rank > 5:
        failures.append(f"retrieval: gold evidence first at rank {evidence_rank} (> 5)")
    if q.evidence and not spans:
        failures.append("gold evidence not found verbatim in the gold report (check the question file)")

    text = answer.text
    if q.kind in KINDS_WITH_ANSWERS:
        missing = [a for a in q.answers if not contains_answer(text, a)]
        checks["answer_correct"] = answer.status == "answered" and not missing
        if missing:
            failures.append(f"answer lacks {', '.join(repr(m) for m in missing)}")
        if q.kind == "span" and q.answers:
            checks["char_f1"] = max(char_f1(text, a) for a in q.answers)
    elif q.kind == "multi":
        cited = {c.chunk.doc_id for c in answer.citations}
        checks["answer_correct"] = bool(gold_docs) and gold_docs <= cited
        if not checks["answer_correct"]:
            names = sorted(n for n in q.docs if gold.doc_id(n) not in cited)
            failures.append(f"reports not cited: {', '.join(names)}")
    elif q.kind == "redacted":
        checks["answer_correct"] = checks["redacted_ok"] = answer.status == "redacted"
        if answer.status != "redacted":
            failures.append(f"masked figure: expected status redacted, got {answer.status}")
    elif q.kind == "unanswerable":
        checks["answer_correct"] = checks["refused_ok"] = answer.status == "not_found" and not answer.citations
        if not checks["refused_ok"]:
            failures.append(f"not in the reports: expected not_found with no citation, got {answer.status} with {len(answer.citations)} citations")

    if q.kind in ANSWERABLE or q.kind == "redacted":
        checks["false_refusal"] = answer.status == "not_found"
        if checks["false_refusal"]:
            failures.append("answerable question refused (not_found)")

    # citations: precision over the cited passages, recall over the gold reports
    if answer.citations and (gold_docs or q.kind == "unanswerable"):
        good = 0
        unique = {c.n: c for c in answer.citations}
        for n, c in sorted(unique.items()):
            ok = (c.chunk.doc_id in gold_docs) if q.kind == "multi" or not spans else _overlaps(c.chunk, spans)
            good += ok
            if not ok:
                failures.append(f"citation [{n}] ({c.chunk.source} @{c.chunk.start}) does not hold the gold evidence")
        checks["citations"] = len(unique)
        checks["citations_correct"] = good
    if gold_docs:
        cited = {c.chunk.doc_id for c in answer.citations}
        checks["report_recall"] = len(cited & gold_docs) / len(gold_docs)
    if answer.status == "answered" and answer.citations:
        bad = unsupported_figures(answer, q.question)
        checks["unsupported_figures"] = bool(bad)
        if bad:
            failures.append(f"figures not in the cited passages: {', '.join(bad)}")
    if any(n.startswith("llm:") for n in answer.notes):
        checks["llm_fallback"] = any("extractive answer used" in n for n in answer.notes)

    return QuestionRecord(
        id=q.id,
        kind=q.kind,
        question=q.question,
        answer=text,
        status=answer.status,
        lang=q.lang,
        neg=q.neg,
        tags=list(q.tags),
        confidence=answer.confidence,
        citations=[
            {"n": c.n, "source": c.chunk.source, "section": c.chunk.section, "start": c.quote_start, "end": c.quote_end, "quote": c.quote}
            for c in answer.citations
        ],
        report_ranking=ranking,
        hit_ids=[h.chunk.chunk_id for h in answer.hits],
        gold_reports=sorted(gold_docs),
        gold_passages=_gold_passages(gold.store, spans) if spans else [],
        evidence_rank=evidence_rank,
        report_rank=report_rank,
        checks=checks,
        failures=failures,
        timings=dict(answer.timings),
    )
