"""What a question asks for — its *focus* — read from its wording: ``QueryPlan`` + word rarity in, ``Focus`` out.

The focus is what evidence must match for the question to count as answered:
- ``terms``: the measure or attribute asked about (低保户数, 营业收入, 由谁负责), as words weighted by rarity.
  The locator phrase (“华海药业所在镇”) and period words are not terms: they say where and when to look,
  not what is asked. Words that name a report are told apart per report, when a candidate is scored
  (``Focus.split_terms``): the right report being found is never evidence that it answers.
- ``periods``: the period asked about (a year, 上半年, 1-9月, 去年), normalised by ``lexicon.periods``.
- ``answer_type``: number | person | place | time | list | open | fact | which_reports, and for numbers the ``units`` that a
  figure answering it carries (多少户 → 户, 百分之多少 → %).
- ``quoted``: terms the question puts in quotes (“河长制”): they name exactly what is asked about.
Pure; no model, no I/O beyond jieba's dictionary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from .. import lexicon
from ..query import QueryPlan, find_locator
from ..report_identity import NamedReport, named_report
from ..text import content_words, normalise

_PERIOD_WORD = re.compile(r"^(?:(?:19|20)\d{2}年?|\d{1,2}月|[上下]半年|半年|今年|去年|明年|本年|全年|上年|当年|季度|\d{1,2}|年|月|年度)$")


@dataclass(frozen=True)
class Focus:
    question: str
    terms: dict[str, float] = field(default_factory=dict)  # asked-about word -> weight (idf)
    periods: frozenset[str] = frozenset()
    answer_type: str = "fact"
    units: tuple[str, ...] = ()
    quoted: tuple[str, ...] = ()
    locator: str = ""
    english: bool = False
    entities: frozenset[str] = frozenset()  # terms that name something (a place, a company) rather than a measure
    asked: frozenset[str] = frozenset()  # terms of the clauses that hold a question word (the rest sets the scene)
    head: frozenset[str] = frozenset()  # terms next to a question word: the measure asked (营业收入是多少, 多少名民警)
    list_count: int | None = None  # how many items a list question names (“哪五大战略”)
    report: NamedReport = NamedReport()  # the years and places by which it names its report (“2022年江西省政府工作报告”)
    translation: str = ""  # an English question in Chinese, by a language model (``QueryPlan.translation``)

    @property
    def read_question(self) -> str:
        """The question as a language model reading a Chinese passage is given it: in Chinese when there is a
        translation (a small model judges a Chinese question against a Chinese passage far better)."""
        return self.translation or self.question

    @property
    def total(self) -> float:
        return sum(self.terms.values())

    @property
    def key_term(self) -> str:
        """The rarest asked-about word: the one a passage can least afford to miss."""
        return max(self.terms, key=self.terms.get) if self.terms else ""

    def split_terms(self, report_names: str) -> tuple[dict[str, float], dict[str, float]]:
        """(asked, locating): the terms this report's context line does not name, and those it does.

        When nearly every word names the report (“…2023年工作思路是什么” in the report titled so), those words
        are the question itself, and all terms count as asked."""
        locating = {t: w for t, w in self.terms.items() if report_names and t in report_names}
        asked = {t: w for t, w in self.terms.items() if t not in locating}
        if sum(asked.values()) < LOCATING_FLOOR * self.total:
            return dict(self.terms), {}
        return asked, locating


# Below this share of the question's weight left after removing report names, those names are the question.
LOCATING_FLOOR = 0.3


_UNIT_WORD = re.compile(rf"(?:余|多)?[万亿千百]?(?:{lexicon.UNITS})")


def asked_and_head(text: str, terms: list[str]) -> tuple[frozenset[str], frozenset[str]]:
    """(asked, head) among ``terms`` of the question ``text`` (normalised): the terms in the clauses holding a
    question word, and those next to a question word — every term after it in its clause (多少名**民警**), and
    the one or two adjacent terms that end just before it, links skipped (**营业收入**是多少, **接待**了多少).
    Units are not heads (多少**万亿元**). Both empty when no clause holds a question word."""
    clauses = lexicon.asked_clauses(text)
    if not clauses:
        return frozenset(), frozenset()
    asked = {t for t in terms if any(t in text[a:b] for a, b, _ in clauses)}
    head: set[str] = set()
    measures = [t for t in terms if not _UNIT_WORD.fullmatch(t) and t not in lexicon.UNIT_ALIASES]
    for a, b, words in clauses:
        for ws, we in words:
            head.update(t for t in measures if t in text[we:b])
            before = text[a:ws]
            for _ in range(2):
                ending = [t for t in measures if before.endswith(t)]
                if not ending:
                    before = lexicon.ASK_LINK.sub("", before)
                    ending = [t for t in measures if before.endswith(t)]
                if not ending:
                    break
                word = max(ending, key=len)
                head.add(word)
                before = before[: -len(word)]
    return frozenset(asked), frozenset(head)


def answer_type(plan: QueryPlan) -> str:
    if plan.kind in ("which_reports", "open", "list", "number"):
        return plan.kind
    if lexicon.WHO_QUESTION.search(plan.question):
        return "person"
    if lexicon.WHERE_QUESTION.search(plan.question):
        return "place"
    if lexicon.WHEN_QUESTION.search(plan.question):
        return "time"
    return "fact"


_NAME_TAGS = ("ns", "nt", "nr", "nz")


def name_terms(text: str, terms: list[str]) -> frozenset[str]:
    """The terms that name something: jieba's tagger (with its guesses for unknown words) tags a part of them
    as a place, organisation, person or other proper name (华海药业 ⊃ 华海/ns; 营业收入 = 营业/n + 收入/v)."""
    import jieba.posseg as pseg

    from ..text import _segmenter

    _segmenter()
    named = []
    pos = 0
    for pair in pseg.cut(text):
        if pair.flag.startswith(_NAME_TAGS):
            named.append((pos, pos + len(pair.word)))
        pos += len(pair.word)
    out = set()
    for t in terms:
        at = text.find(t)
        while at >= 0:
            if any(a < at + len(t) and at < b for a, b in named):
                out.add(t)
                break
            at = text.find(t, at + 1)
    return frozenset(out)


def _asked_words(content: str) -> list[str]:
    """The content words of a question's content that can say what it asks: not periods, framing or pointers."""
    return [
        w for w in content_words(content)
        if not _PERIOD_WORD.match(w) and w not in lexicon.QUESTION_FRAMING and not lexicon.DEMONSTRATIVE.match(w)
    ]


def make_focus(plan: QueryPlan, idf: Callable[[str], float], passages: str = "") -> Focus:
    """The focus of a planned question; ``idf`` weighs each word by its rarity in the index. An English
    question is read in the words of its language-model translation (``QueryPlan.translation``) when it has one,
    and its words are translated with CC-CEDICT into the Chinese words ``passages`` use (``crosslingual``)."""
    words = _asked_words(plan.content)
    # an English question with a language model's translation is read in the translation's words, as a
    # Chinese question is (粮食产量, where the dictionary gives 粮 and 中 for “grain” and “China”)
    translated = find_locator(plan.translation)[1] if plan.english and plan.translation else ""
    if plan.english:
        from ..crosslingual import translate

        # English words cannot match a Chinese report: keep the Chinese names and numbers it quotes (G316,
        # 1143), and add the translation's words and the dictionary translations the passages use (of those,
        # single characters only without a translation: alone they match anywhere)
        def chinese_or_number(w: str) -> bool:
            return not w.isascii() or w.isdigit()

        words = [w for w in words if chinese_or_number(w)]
        words += [w for w in _asked_words(translated) if w not in words and chinese_or_number(w)]
        dictionary = translate(plan.content, normalise(passages), idf).values()
        words += [zh for zh in dictionary if zh not in words and (len(zh) >= 2 or not translated)]
    terms: dict[str, float] = {}
    for w in words:
        # a word already inside a longer word of the question is not counted twice (永北圩 ⊃ 永北)
        if not any(w != other and w in other for other in words):
            terms[w] = idf(w)
    quoted = tuple(normalise(q) for q in lexicon.QUOTED_TERM.findall(plan.content))
    if plan.english:
        asked, head = asked_and_head(normalise(translated), list(terms)) if translated else (frozenset(), frozenset())
    else:
        asked, head = asked_and_head(normalise(plan.content), list(terms))
    return Focus(
        question=plan.question,
        terms=terms,
        periods=lexicon.english_periods(plan.question) if plan.english else lexicon.periods(lexicon.REPORT_NAMING_YEAR.sub(" ", plan.question)),
        answer_type=answer_type(plan),
        units=plan.units,
        quoted=quoted,
        locator=plan.locator,
        english=plan.english,
        entities=name_terms(normalise(plan.content), list(terms)),
        asked=asked,
        head=head,
        list_count=None if plan.english else lexicon.list_count(normalise(plan.content)),
        report=named_report(plan.question),
        translation=plan.translation,
    )
