"""The extractive answerer: question + ranked hits in, ``Answer`` with ``[n]`` citations out. No LLM.

It quotes the sentence (trimmed to the clauses that matter) of the retrieved passages that best answers
the question, so every figure in the answer is, character for character, the figure of the cited passage.

- ``answered``: the quote(s), each followed by its marker ``[n]``.
- ``redacted``: the figure asked for is printed as ``*`` in the report; the answer says so, quotes the
  masked sentence and never guesses a number.
- ``not_found``: the best sentence covers too little of what the question asks (``min_support``, a share of
  the question's key terms weighted by rarity, or for questions not in Chinese a dense-similarity margin);
  the answer says the reports do not contain it and cites nothing.
- ``which_reports`` questions (哪些报告…) get one quote per report that supports the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from .config import AnswerSettings
from .query import QueryPlan
from .schema import Answer, Chunk, Citation, Hit
from .text import UNITS, content_words, normalise

PARTIAL_CREDIT = 0.5
_SHORT_SENTENCE = 50
_MIN_QUOTE = 16

_SENT_END = "。！？；!?;\n"
_CLAUSE_END = "，,：:。！？；!?;\n"
_FIGURE = re.compile(r"\d+(?:[,，]\d{3})*(?:\.\d+)?(?:余|多)?(?:万|亿|千)?")
_HEADING_NUMBER = re.compile(r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[）)]|\d+[、.．])")
_MASK = re.compile(r"[*＊]+(?:[.．][*＊]+)?")
_UNIT_RE = re.compile(rf"^\s*(?:余|多)?(?:[万亿千百]?(?:{UNITS}))")
# measure words that count the same things (多少名 ~ *人, 多少家 ~ 个)
_UNIT_SYNONYMS = [{"人", "名", "位", "人次"}, {"家", "个", "户"}, {"次", "场", "起", "场次", "期"}, {"条", "项", "个"}, {"座", "个", "处", "所"}]

NOT_FOUND_TEXT = "报告中没有找到能回答这个问题的内容。"
NOT_FOUND_TEXT_EN = "The reports do not contain the answer to this question."
REDACTED_LEAD = "报告中该数字以“*”遮盖，无法给出具体数值。原文："
REDACTED_LEAD_EN = "The report masks this figure with “*”, so no number can be given. The passage: "


@dataclass
class _Sentence:
    hit: Hit
    start: int  # offsets in the chunk text
    end: int
    text: str
    coverage: float = 0.0
    score: float = 0.0
    masked_match: bool = False
    figure_match: bool = False
    heading: bool = False


@dataclass
class _Scorer:
    plan: QueryPlan
    idf: Callable[[str], float]
    weights: dict[str, float] = field(default_factory=dict)
    total: float = 0.0

    def __post_init__(self) -> None:
        words = content_words(self.plan.content)
        # a word already covered by a longer word of the question is not counted twice (永北圩 ⊃ 永北)
        for w in words:
            if not any(w != other and w in other for other in words):
                self.weights[w] = self.idf(w)
        self.total = sum(self.weights.values())

    def match(self, word: str, text: str) -> float:
        """1 if the word is in the text; partial credit for shared characters (新兵 ~ 兵员)."""
        if word in text:
            return 1.0
        if len(word) >= 2 and not word.isascii():
            shared = sum(ch in text for ch in word) / len(word)
            return PARTIAL_CREDIT * shared if shared >= 0.5 else 0.0
        return 0.0

    def coverage(self, text: str, report_names: str = "") -> float:
        """Share of the question's word weight found in ``text``. Words that name the report (found in its
        context line, ``report_names``) but not in ``text`` are neutral: the right report was found, and
        such a word says nothing about whether this sentence answers."""
        text = normalise(text)
        got = total = 0.0
        for t, w in self.weights.items():
            m = self.match(t, text)
            if m < 1.0 and report_names and t in report_names:
                continue
            got += w * m
            total += w
        if total < NEUTRAL_FLOOR * self.total:
            # nearly every word names the report (“…2023年工作思路是什么？” in the report titled so): those
            # words are then the question itself, not a pointer to the report
            return self.coverage(text) if report_names else 0.0
        return got / total if total > 0 else 0.0

    def has_key_word(self, text: str, report_names: str = "") -> bool:
        """Does ``text`` contain, whole, at least one of the question's words that is not rare-as-noise
        common (idf >= KEY_WORD_IDF) and does not just name the report?"""
        text = normalise(text)
        return any(t in text for t, w in self.weights.items() if w >= KEY_WORD_IDF and t not in report_names)

    def missing(self, text: str, report_names: str = "") -> set[str]:
        text = normalise(text)
        return {t for t in self.weights if t not in text and t not in report_names}


def top_passage_answer(question: str, hits: list[Hit]) -> Answer:
    """The day-one baseline (``answer.mode = "top_passage"``): the best passage is the answer, cited as [1].
    It never refuses and never checks a figure; the evaluation compares our answerer against it."""
    if not hits:
        return Answer(NOT_FOUND_TEXT, "not_found", [], hits, question)
    chunk = hits[0].chunk
    citation = Citation(1, chunk, chunk.text, chunk.start, chunk.end)
    return Answer(f"{chunk.text}[1]", "answered", [citation], hits, question)


_QUOTED = re.compile(r"[“\"「]([^”\"」]{1,20})[”\"」]")
_PART = re.compile(r"多少|几[个名户人次项家所座条起万亿年%场支批期天]|什么|哪些|哪个|哪|谁|是否")


_LEADERS = frozenset("习近平 毛泽东 邓小平 江泽民 胡锦涛 李强 李克强 周恩来 孙中山 马克思 列宁".split())
_WHO = re.compile(r"是谁|谁是|哪位|哪个人|哪些人|叫什么名字的人|\bwho\b", re.I)


def _asks_who(question: str) -> bool:
    return bool(_WHO.search(question))


def _has_person(sentence: str) -> bool:
    """Does the sentence name a person (jieba's part-of-speech tag nr*)?"""
    import jieba.posseg as pseg

    from .text import _segmenter

    _segmenter()
    # the national leadership is cited in every report; it never answers “who in this town…”
    return any(p.flag.startswith("nr") and len(p.word) >= 2 and p.word not in _LEADERS for p in pseg.cut(sentence))


def _english_content_words(text: str) -> int:
    from .text import STOPWORDS

    return sum(1 for w in re.findall(r"[A-Za-z]{3,}", text) if w.lower() not in STOPWORDS)


def _question_parts(question: str) -> int:
    """How many things a question asks (…多少户？涉及多少人？ asks two)."""
    return len(_PART.findall(question))


def _novelty(sentence: str, question: str) -> float:
    """Share of the sentence's Chinese characters that are not in the question: low when a sentence only
    restates the question (“…做到“三个逐一、三个优先”。”) and the answer follows it."""
    chars = [ch for ch in sentence if "\u4e00" <= ch <= "\u9fff"]
    if not chars:
        return 1.0
    asked = set(question)
    return sum(ch not in asked for ch in chars) / len(chars)


def _named_report(doc_scores: dict[str, float]) -> str | None:
    """The report a question names, when its keyword score clearly dominates (the runner-up below
    ``NAMED_REPORT_RATIO`` of it); else None."""
    if not doc_scores:
        return None
    ranked = sorted(doc_scores.items(), key=lambda kv: -kv[1])
    top_id, top = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    return top_id if top > 0 and second <= NAMED_REPORT_RATIO * top else None


def _split(text: str, ends: str) -> list[tuple[int, int]]:
    spans, s = [], 0
    for i, ch in enumerate(text):
        if ch in ends:
            if text[s : i + 1].strip():
                spans.append((s, i + 1))
            s = i + 1
    if text[s:].strip():
        spans.append((s, len(text)))
    return spans


def _figures_with_units(text: str, masked: bool) -> list[tuple[int, int, str]]:
    """(start, end, unit) for each figure (or `*` mask) followed by a unit in ``text``."""
    out = []
    pattern = _MASK if masked else _FIGURE
    for m in pattern.finditer(normalise(text)):
        tail = _UNIT_RE.match(normalise(text)[m.end():])
        unit = tail.group(0).strip() if tail else ""
        out.append((m.start(), m.end() + (tail.end() if tail else 0), unit))
    return out


def _unit_ok(unit: str, wanted: tuple[str, ...]) -> bool:
    if not wanted:
        return True
    unit = unit.lstrip("余多")
    base = unit.lstrip("万亿千百") or unit
    if any(w in unit or unit.endswith(w) for w in wanted) or ("元" in wanted and unit in ("万", "亿")):
        return True
    return any(base in group and w in group for group in _UNIT_SYNONYMS for w in wanted)


class ExtractiveAnswerer:
    def __init__(self, settings: AnswerSettings, idf: Callable[[str], float], context_of: Callable[[str], str] = lambda _: ""):
        self.settings = settings
        self.idf = idf
        self.context_of = context_of

    def _threshold(self, plan: QueryPlan) -> float:
        """Open questions (有何措施 / 如何…) are answered in other words than they are asked: a lower bar."""
        return self.settings.min_support_open if plan.kind == "open" else self.settings.min_support

    # -- candidate sentences -------------------------------------------------------------------------
    def _sentences(self, hits: list[Hit], scorer: _Scorer) -> list[_Sentence]:
        plan = scorer.plan
        out = []
        quoted = [normalise(q) for q in _QUOTED.findall(plan.content)]
        for hit in hits:
            text = hit.chunk.text
            section = hit.chunk.section
            names = normalise(self.context_of(hit.chunk.doc_id))
            for a, b in _split(text, _SENT_END):
                sentence = text[a:b].strip()
                lead = len(text[a:b]) - len(text[a:b].lstrip())
                a += lead
                b = a + len(sentence)
                if len(sentence) < 2:
                    continue
                cand = _Sentence(hit, a, b, sentence)
                own = scorer.coverage(sentence, names)
                # the section heading vouches for a sentence a little (“（一）社会保障…” over its body)
                cand.coverage = max(own, 0.8 * own + 0.2 * scorer.coverage(section + "\n" + sentence, names))
                if plan.kind == "number":
                    cand.figure_match = any(_unit_ok(u, plan.units) and u for _, _, u in _figures_with_units(sentence, False)) or (
                        not plan.units and bool(_FIGURE.search(sentence))
                    )
                    cand.masked_match = any(_unit_ok(u, plan.units) and u for _, _, u in _figures_with_units(sentence, True))
                type_fit = 0.0
                if plan.kind == "number":
                    type_fit = 0.15 if (cand.figure_match or cand.masked_match) else -0.1
                elif plan.kind == "list":
                    type_fit = 0.08 if ("、" in sentence or "“" in sentence) else 0.0
                elif plan.kind == "fact":
                    type_fit = 0.05 if "“" in sentence else 0.0
                # a heading names a topic and its body answers it; a heading that enumerates (、) can answer a list
                heading = (sentence.rstrip("。：:") in section or sentence == hit.chunk.title) and len(sentence) < 60
                cand.heading = heading
                if heading and plan.kind in ("fact", "list", "open") and "、" not in _HEADING_NUMBER.sub("", sentence):
                    type_fit -= HEADING_PENALTY
                # a term the question puts in quotes (“月光夜谈”) names exactly what is asked about
                if quoted and not all(q in normalise(sentence) for q in quoted):
                    type_fit -= QUOTED_MISSING_PENALTY
                cand.score = cand.coverage + type_fit + 0.1 / hit.rank
                out.append(cand)
        return out

    # -- trimming --------------------------------------------------------------------------------------
    def _trim(self, cand: _Sentence, scorer: _Scorer) -> tuple[int, int]:
        """The shortest run of the sentence's clauses that keeps what it says about the question.

        Kept: every question word the sentence covers; for number questions the figure asked for; for
        list questions the enumeration (、) next to it; at least ``_MIN_QUOTE`` characters."""
        text = cand.text
        if len(text) <= _SHORT_SENTENCE or scorer.plan.kind == "open":
            # an open question's answer is the whole measure or rule, not one clause of it
            return cand.start, cand.end
        clauses = _split(text, _CLAUSE_END)
        if len(clauses) <= 1:
            return cand.start, cand.end
        plan = scorer.plan

        def seg(i: int, j: int) -> str:
            return text[clauses[i][0] : clauses[j][1]]

        def wanted_figure(i: int) -> bool:
            piece = seg(i, i)
            return any(_unit_ok(u, plan.units) and u for _, _, u in _figures_with_units(piece, False) + _figures_with_units(piece, True))

        need_figure = plan.kind == "number" and (cand.figure_match or cand.masked_match)
        full = scorer.coverage(text)
        best = None
        for i in range(len(clauses)):
            for j in range(i, len(clauses)):
                if scorer.coverage(seg(i, j)) >= full - 0.02 and (not need_figure or any(wanted_figure(k) for k in range(i, j + 1))):
                    length = clauses[j][1] - clauses[i][0]
                    if best is None or length < best[0]:
                        best = (length, i, j)
                    break
        if best is None:
            return cand.start, cand.end
        _, i, j = best
        if plan.kind == "number":
            # …1120户1774人: keep the figures that follow the matched clause
            while j + 1 < len(clauses) and wanted_figure(j + 1) and not wanted_figure(j):
                j += 1
        elif plan.kind == "list":
            if "、" not in seg(i, j):
                if j + 1 < len(clauses) and "、" in seg(j + 1, j + 1):
                    j += 1
                elif i > 0 and "、" in seg(i - 1, i - 1):
                    i -= 1
        else:
            # the answer to 叫什么 / 是什么 is usually the quoted name or the clause right after the match
            if "“" not in seg(i, j):
                if i > 0 and "“" in seg(i - 1, i - 1):
                    i -= 1
                elif j + 1 < len(clauses):
                    j += 1
        # a clause ending in a colon introduces what follows (…有两家服务业：豆福网络…和禧宴科技…)
        while j + 1 < len(clauses) and text[clauses[j][1] - 1] in "：:":
            j += 1
        while clauses[j][1] - clauses[i][0] < _MIN_QUOTE and (i > 0 or j + 1 < len(clauses)):
            if j + 1 < len(clauses):
                j += 1
            else:
                i -= 1
        a, b = clauses[i][0], clauses[j][1]
        while b > a and text[b - 1] in "，,：:；;、":
            b -= 1
        return cand.start + a, cand.start + b

    # -- answer ----------------------------------------------------------------------------------------
    def _cite(self, cand: _Sentence, n: int, bounds: tuple[int, int] | None = None) -> Citation:
        a, b = bounds or (cand.start, cand.end)
        chunk: Chunk = cand.hit.chunk
        quote = chunk.text[a:b]
        return Citation(n=n, chunk=chunk, quote=quote, quote_start=chunk.start + a, quote_end=chunk.start + b)

    def answer(
        self,
        plan: QueryPlan,
        hits: list[Hit],
        dense_rescue: Callable[[list[str]], list[float]] | None = None,
        doc_scores: dict[str, float] | None = None,
    ) -> Answer:
        """Answer from ``hits``. ``doc_scores`` (report id -> share of the best report's keyword score) lets a
        question that clearly names one report be answered from that report only."""
        english = plan.english
        named = _named_report(doc_scores or {})
        if named is not None and plan.kind != "which_reports":
            # “永北圩所在镇…”: a figure from another report would be a wrong answer, not a partial one
            hits = [h for h in hits if h.chunk.doc_id == named] or hits
        if not hits:
            return Answer(NOT_FOUND_TEXT_EN if english else NOT_FOUND_TEXT, "not_found", [], hits, plan.question)
        scorer = _Scorer(plan, self.idf)
        cands = self._sentences(hits, scorer)
        if not cands:
            return Answer(NOT_FOUND_TEXT_EN if english else NOT_FOUND_TEXT, "not_found", [], hits, plan.question)
        if english and _english_content_words(plan.content) >= 2:
            return self._answer_by_similarity(plan, hits, cands, dense_rescue)
        if english or scorer.total <= 0:
            # nothing to look for (“？？？”, “请问”, an emoji): no passage can be said to answer it
            return Answer(NOT_FOUND_TEXT_EN if english else NOT_FOUND_TEXT, "not_found", [], hits, plan.question, notes=["no content words"])
        if plan.kind == "which_reports":
            return self._answer_which_reports(plan, hits, cands)
        cands.sort(key=lambda c: -c.score)
        if dense_rescue is not None and plan.kind in SEMANTIC_KINDS and SEMANTIC_WEIGHT > 0:
            # descriptive answers paraphrase: let the embedding model help choose among the closest few
            pool = [c for c in cands[:SEMANTIC_POOL] if c.coverage >= cands[0].coverage - 0.25]
            if len(pool) > 1:
                sims = dense_rescue([c.text for c in pool])
                mean = sum(sims) / len(sims)
                for c, sim in zip(pool, sims):
                    c.score += SEMANTIC_WEIGHT * (sim - mean)
                cands[: len(pool)] = sorted(pool, key=lambda c: -c.score)
        best = cands[0]
        support = best.coverage
        notes = [f"support={support:.2f}"]
        if support < self._threshold(plan) and dense_rescue is not None and support >= RESCUE_MIN_SUPPORT:
            # A paraphrase (新兵 ~ 兵员) defeats word matching. Accept one of the best few sentences when the
            # embedding model finds it close to the question AND it carries the kind of figure asked for
            # (a number question with an explicit unit): without that check the model's similarity alone
            # cannot tell an answer from a sentence on a neighbouring topic.
            pool = cands[:3]
            sims = dense_rescue([c.text for c in pool])
            notes.append(f"dense_rescue={max(sims):.3f}" if sims else "dense_rescue=none")
            fits = [
                c
                for c, s in zip(pool, sims)
                if s >= DENSE_RESCUE_SIM and plan.kind == "number" and plan.units and c.figure_match
                and scorer.has_key_word(c.text, normalise(self.context_of(c.hit.chunk.doc_id)))
            ]
            if fits:
                best = fits[0]
                support = self.settings.min_support
        if support >= self._threshold(plan) and _asks_who(plan.question) and not _has_person(best.text):
            notes.append("asks who, the sentence names nobody")
            support = 0.0
        if support < self._threshold(plan):
            return Answer(NOT_FOUND_TEXT, "not_found", [], hits, plan.question, notes=notes)
        return self._compose(plan, hits, best, cands, scorer, notes)

    def _compose(self, plan, hits, best, cands, scorer, notes) -> Answer:
        bounds = self._trim(best, scorer)
        if plan.kind == "number":
            # the figure asked for is the one next to the question's words: look only inside the quote
            window = best.hit.chunk.text[bounds[0] : bounds[1]]
            shown = [u for _, _, u in _figures_with_units(window, False) if u and _unit_ok(u, plan.units)]
            masked = [u for _, _, u in _figures_with_units(window, True) if u and _unit_ok(u, plan.units)]
            any_shown = [u for _, _, u in _figures_with_units(window, False) if u]
            any_masked = [u for _, _, u in _figures_with_units(window, True) if u]
            # the figure asked for is masked — or the quote's only figures are masks (units may be worded differently)
            if (masked and not shown) or (any_masked and not any_shown):
                citation = self._cite(best, 1, bounds)
                lead = REDACTED_LEAD_EN if plan.english else REDACTED_LEAD
                return Answer(f"{lead}“{citation.quote}”[1]", "redacted", [citation], hits, plan.question, notes=notes)
        chosen = [best]
        restates = plan.kind in ("fact", "list") and (_novelty(best.text, plan.question) < RESTATE_NOVELTY or best.text.rstrip().endswith(("：", ":")))
        if (plan.kind == "open" or restates) and len(best.text) < OPEN_ANSWER_CHARS:
            # a measure or rule often runs on into the next sentence: keep reading while it stays on topic
            follow = sorted((c for c in cands if c.hit.chunk.chunk_id == best.hit.chunk.chunk_id and c.start >= best.end), key=lambda c: c.start)
            total = len(best.text)
            text = best.hit.chunk.text
            end = best.end
            for c in follow[:3]:
                if c.heading or total + len(c.text) > OPEN_ANSWER_CHARS or "\n" in text[end : c.start]:
                    break  # a new paragraph is a new topic
                end = c.end
                chosen.append(c)
                total += len(c.text)
        if best.heading and plan.kind in ("fact", "list", "open") and len(chosen) == 1:
            # a heading only names the topic: add the sentence that opens its body
            follow = [c for c in cands if c.hit.chunk.chunk_id == best.hit.chunk.chunk_id and c.start >= best.end]
            if follow:
                chosen.append(min(follow, key=lambda c: c.start))
        if len(chosen) == 1 and self.settings.max_quotes > 1 and _question_parts(plan.question) > 1:
            # a two-part question (…多少户？涉及多少人？) may need a second sentence for the rest
            missing = scorer.missing(best.text, normalise(self.context_of(best.hit.chunk.doc_id)))
            gain = sum(scorer.weights[t] for t in missing) / scorer.total if scorer.total else 0
            if gain > 0.2:
                for cand in cands[1:]:
                    new = sum(scorer.weights[t] for t in missing if t in normalise(cand.text)) / scorer.total
                    same_doc = cand.hit.chunk.doc_id == best.hit.chunk.doc_id
                    if new >= 0.6 * gain and same_doc and cand.text not in best.text and best.text not in cand.text:
                        chosen.append(cand)
                        break
        citations, parts = [], []
        n_of: dict[str, int] = {}
        spans: list[tuple[_Sentence, int, int]] = []
        for cand in chosen:
            a, b = self._trim(cand, scorer)
            last = spans[-1] if spans else None
            if last and last[0].hit.chunk.chunk_id == cand.hit.chunk.chunk_id and 0 <= a - last[2] <= 2:
                # adjacent sentences of one passage stay one verbatim quote
                spans[-1] = (last[0], last[1], b)
            else:
                spans.append((cand, a, b))
        for cand, a, b in spans:
            n = n_of.setdefault(cand.hit.chunk.chunk_id, len(n_of) + 1)
            citation = self._cite(cand, n, (a, b))
            citations.append(citation)
            parts.append(f"{citation.quote.rstrip('。；;')}[{n}]")
        text = "；".join(parts) + "。"
        if plan.english:
            text = "According to the report: " + text
        return Answer(text, "answered", citations, hits, plan.question, notes=notes)

    def _answer_which_reports(self, plan, hits, cands) -> Answer:
        # “哪些报告提到了“五包一”…”: a report counts only if its sentence has the thing itself
        quoted = [normalise(q) for q in _QUOTED.findall(plan.content)]
        scorer = _Scorer(plan, self.idf)
        key = max(scorer.weights, key=scorer.weights.get) if scorer.weights else ""
        must = quoted or ([key] if key else [])
        by_doc: dict[str, _Sentence] = {}
        for cand in sorted(cands, key=lambda c: -c.score):
            text = normalise(cand.text)
            if not all(m in text for m in must):
                continue
            if cand.coverage >= self.settings.min_support and cand.hit.chunk.doc_id not in by_doc:
                by_doc[cand.hit.chunk.doc_id] = cand
        picked = list(by_doc.values())[: self.settings.max_reports]
        if not picked:
            return Answer(NOT_FOUND_TEXT, "not_found", [], hits, plan.question)
        lines, citations = [], []
        for n, cand in enumerate(picked, start=1):
            scorer = _Scorer(plan, self.idf)
            citation = self._cite(cand, n, self._trim(cand, scorer))
            citations.append(citation)
            lines.append(f"- 《{cand.hit.chunk.title}》（{cand.hit.chunk.source}）：{citation.quote.rstrip('。；;')}[{n}]")
        head = f"共有 {len(picked)} 份报告提到："
        return Answer(head + "\n" + "\n".join(lines), "answered", citations, hits, plan.question)

    def _answer_by_similarity(self, plan, hits, cands, dense_rescue) -> Answer:
        """Questions not in Chinese: words cannot be matched, so rank the sentences of the retrieved passages
        by the multilingual model's similarity, and answer only when the best one is close enough and — for
        a number question — carries a figure in the unit asked for (households -> 户). Otherwise refuse."""
        if dense_rescue is None:
            return Answer(NOT_FOUND_TEXT_EN, "not_found", [], hits, plan.question)
        pool = cands[:60]
        sims = dense_rescue([c.text for c in pool])
        for cand, sim in zip(pool, sims):
            fits = plan.kind != "number" or (bool(plan.units) and (cand.figure_match or cand.masked_match))
            cand.coverage = sim
            cand.score = sim + (ENGLISH_FIT_BONUS if fits else 0.0)
        pool.sort(key=lambda c: -c.score)
        best = pool[0]
        fits = plan.kind != "number" or (bool(plan.units) and (best.figure_match or best.masked_match))
        notes = [f"dense={best.coverage:.3f}", f"units={','.join(plan.units) or '-'}"]
        if best.coverage < DENSE_ANSWER_SIM or not fits:
            return Answer(NOT_FOUND_TEXT_EN, "not_found", [], hits, plan.question, notes=notes)
        if plan.kind == "number" and best.masked_match and not best.figure_match:
            citation = self._cite(best, 1)
            return Answer(f"{REDACTED_LEAD_EN}“{citation.quote}”[1]", "redacted", [citation], hits, plan.question, notes=notes)
        citation = self._cite(best, 1)
        return Answer(f"According to the report: {citation.quote.rstrip('。；;')}[1].", "answered", [citation], hits, plan.question, notes=notes)


DENSE_RESCUE_SIM = 0.875
RESCUE_MIN_SUPPORT = 0.3
KEY_WORD_IDF = 2.0
OPEN_ANSWER_CHARS = 160
RESTATE_NOVELTY = 0.35
SEMANTIC_KINDS = ("open", "fact", "list")
QUOTED_MISSING_PENALTY = 0.2
NEUTRAL_FLOOR = 0.3
SEMANTIC_POOL = 6
SEMANTIC_WEIGHT = 2.0
NAMED_REPORT_RATIO = 0.5
HEADING_PENALTY = 0.15
DENSE_ANSWER_SIM = 0.74
ENGLISH_FIT_BONUS = 0.03
