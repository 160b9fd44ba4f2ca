"""What a question asks for, read from its wording: ``str`` in, ``QueryPlan`` out. No model, no I/O.

- locator: a phrase that names the report indirectly (“X所在的镇”, “以X闻名的那个镇”,
  “华海药业所在镇”, “临海这个镇”). It picks the report, not the passage, so retrieval ranks passages
  on the rest of the question (``content``) and uses the locator only to find the report.
- kind: ``number`` (多少 / 几 / 百分之 / how many), ``list`` (哪些 / 哪几 / 哪两), ``which_reports``
  (哪些报告 / 哪个镇 — the answer spans reports), ``open`` (有何 / 如何 / 什么措施 — a measure, rule or
  reason, answered in the report's own words), or ``fact``.
- units: the measure words a number question expects (多少户 → 户; 百分之多少 → %).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import lexicon

# “X所在(的)镇”, “X的那个镇”, “X这个镇”, “推行X的镇，…” at the start of a question
_PLACE = r"(?:镇|乡|县|市|区|村|街道|地方|城市|省|公司|企业|单位)"
_LOCATOR_PATTERNS = [
    re.compile(rf"^(?P<loc>.{{1,30}}?)(?:所在的?[^，,？?的]{{0,4}}?|的那个|那个|这个){_PLACE}[的，,、]?"),
    # “推行某种模式的镇，…”: a clause describing the town, then 的镇
    re.compile(rf"^(?P<loc>[^，,？?。]{{2,30}}?)的{_PLACE}(?![长委政级内外])[，,的]?"),
    re.compile(r"^(?P<loc>.{1,12}?)[（(](?P<loc2>[^）)]{1,12})[）)][的，,]?"),
    # a question that starts with a town or county name (“辽市镇上半年…”, “城关镇下半年…”)
    re.compile(r"^(?![全我该本各每这那此])(?P<loc>[\u4e00-\u9fff]{1,6}?(?:镇|乡|街道|县|区))(?![镇乡县区市街])(?:的|在|对)?"),
]
_LOCATOR_EN = re.compile(r"\b(?:in|of|for) the (?:town|county|city|district|place)\s+(?:that|which|where|whose)\s+(?P<loc>[^,?]+)", re.I)

@dataclass(frozen=True)
class QueryPlan:
    question: str
    content: str  # the question without its locator phrase: what the passage must say
    locator: str = ""
    kind: str = "fact"  # number | list | which_reports | open | fact
    units: tuple[str, ...] = field(default_factory=tuple)
    english: bool = False
    translation: str = ""  # an English question in Chinese, written by a language model (translate.py); "" without one


def find_locator(question: str) -> tuple[str, str]:
    """(locator phrase, rest of the question). Empty locator when the question names no report indirectly."""
    q = question.strip()
    for pattern in _LOCATOR_PATTERNS:
        m = pattern.match(q)
        if m:
            loc = m.group("loc").strip("“”\"' ")
            if "loc2" in m.groupdict() and m.group("loc2"):
                loc = f"{loc} {m.group('loc2')}"
            rest = q[m.end():].strip(" ，,、")
            if len(rest) >= 4:
                return loc, rest
    m = _LOCATOR_EN.search(q)
    if m:
        rest = (q[: m.start()] + q[m.end():]).strip(" ,")
        if len(rest) >= 8:
            return m.group("loc").strip(), rest
    return "", q


def plan_query(question: str, translation: str = "") -> QueryPlan:
    """``translation``: the question in Chinese (translate.py), kept on the plan of an English question only."""
    q = question.strip()
    locator, content = find_locator(q)
    english = lexicon.is_english(q)
    if lexicon.WHICH_REPORTS_QUESTION.search(q):
        kind = "which_reports"
    elif (lexicon.NUMBER_QUESTION.search(q) or lexicon.ORDINAL_QUESTION.search(q)) and not lexicon.OPEN_QUESTION.search(q):
        kind = "number"
    elif lexicon.OPEN_QUESTION.search(q):
        kind = "open"
    elif lexicon.LIST_QUESTION.search(q):
        kind = "list"
    else:
        kind = "fact"
    units: list[str] = []
    for m in lexicon.UNIT_IN_QUESTION.finditer(q):
        unit = m.group("unit")
        units.append(lexicon.UNIT_ALIASES.get(unit, unit))
    if english:
        units.extend(unit for pattern, unit in lexicon.ENGLISH_UNITS if pattern.search(q))
        # the translation names the measure word a figure carries (多少家公司 → 家) where English has none
        units.extend(lexicon.UNIT_ALIASES.get(m.group("unit"), m.group("unit")) for m in lexicon.UNIT_IN_QUESTION.finditer(translation))
    # what is asked decides the unit, not the scene the question sets (“产值突破100亿元，这家企业有多少名员工”);
    # a clause asking a rank (生产总值在全省排第几) asks for an ordinal, not for the measure it ranks; a question
    # that also asks a figure (是多少？居全省第几？) keeps the figure's units, whose sentence states the rank too
    clauses = [q[a:b] for a, b, _ in lexicon.asked_clauses(q)] or [q]
    ordinal = [bool(lexicon.ORDINAL_QUESTION.search(c)) for c in clauses]
    if kind == "number" and all(ordinal):
        units.append(lexicon.ORDINAL_UNIT)
    asked = "".join(c for c, rank in zip(clauses, ordinal) if not rank)
    if kind == "number" and lexicon.PERCENT_QUESTION.search(asked):
        units.append("%")
    if kind == "number" and lexicon.MONEY_QUESTION.search(asked):
        units.append("元")
    return QueryPlan(question=q, content=content, locator=locator, kind=kind, units=tuple(dict.fromkeys(units)), english=english,
                     translation=translation if english else "")
