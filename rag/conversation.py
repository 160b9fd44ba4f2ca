"""Follow-up questions without an LLM: turn “那2023年呢？” into a standalone question, and carry the report.

In: the new question and the earlier answers of the conversation (``Answer``s, oldest first).
Out: a ``FollowUp``: the standalone question to retrieve with, and the report id to prefer when the new
question does not name a report of its own. Pure string rules; no model, no I/O.

Rules, in order:
1. an elliptical question (“那2023年呢？”, “那辽市镇呢？”, “上半年的呢”) repeats the previous question with the
   new year / period / place put in (years replace years, a place replaces the previous locator);
2. a question that points back (它, 该镇, 这个镇, 那里, 其…) or names no report keeps the previous report;
3. a question that names a report itself is left alone (the retriever finds that report).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from .query import find_locator
from .schema import Answer

_LEAD = re.compile(r"^(?:那么|那|还有|另外|然后|再问一下|再问|请问|那请问)[，,\s]*")
_TRAIL = re.compile(r"(?:的情况|情况)?(?:呢|吗|啊|呀)?[？?。！!\s]*$")
_PERIOD = re.compile(r"(?:19|20)\d{2}年(?:上半年|下半年|1[-—至~]\d{1,2}月|\d{1,2}月)?|上半年|下半年|全年|明年|去年|今年|1[-—至~]\d{1,2}月")
_QUESTION_WORD = re.compile(r"多少|几|什么|哪|谁|如何|怎么|怎样|是否|吗|how|what|which|who|when|where", re.I)
_POINTER = re.compile(r"它|该镇|该县|该市|该区|这个镇|那个镇|这个地方|那里|这里|当地|该地|这份报告|这个报告|其(?!他|中|余|实)|他们|这个县|这个市")
_ELLIPSIS_MAX = 12
_PLAN_WORDS = {"计划", "打算", "安排", "工作计划", "工作打算", "目标", "思路", "工作思路", "规划"}
_PLACE_NAME = re.compile(r"[\u4e00-\u9fff]{1,6}(?:镇|县|市|区|乡|街道)")
_PLACE_HEAD = re.compile(r"^[\u4e00-\u9fff]{1,6}?(?:镇|乡|街道|县|区|市)(?![镇乡县区市])")
_ASKING = re.compile(r"(?:是|有|为|达到|完成了?)?(?:多少|几|什么|哪些|哪|谁)[^，,。]*[？?]?$")


@dataclass(frozen=True)
class FollowUp:
    standalone: str  # the question to retrieve with
    prefer_doc: str | None  # report id carried over from the conversation
    rule: str  # which rule applied: "none" | "ellipsis" | "pointer" | "carry"


def answer_report(answer: Answer) -> str | None:
    """The report an earlier answer was about: its first citation's, else its best hit's."""
    if answer.citations:
        return answer.citations[0].chunk.doc_id
    return answer.hits[0].chunk.doc_id if answer.hits and answer.status != "not_found" else None


def _report_prefix(question: str) -> str:
    """The part of a question that names its report: a locator phrase (“永北圩所在的镇”) or a leading place
    name (“辽市镇”); empty if none."""
    locator, rest = find_locator(question)
    if locator:
        return question[: len(question) - len(rest)].rstrip("，, ")
    place = _PLACE_HEAD.match(question)
    return place.group(0) if place else ""


_PLACE_ANYWHERE = re.compile(r"[\u4e00-\u9fff]{2,6}?(?:镇|乡|县|市|区|省|自治区|街道)(?![长委政级内外里])")
_ENGLISH_NAME = re.compile(r"(?<![.?!]\s)(?<!^)\b[A-Z][a-z]{3,}\b")
_NOT_A_PLACE = frozenset("全镇 全市 全县 全区 全省 该镇 该市 该县 该区 本镇 本市 我镇 我市 这个镇 那个镇 城镇 乡镇 市镇 社区".split())


def _names_a_place(question: str) -> bool:
    """Does the question name a place of its own (a town, county, city, province; in English a capitalised
    name inside the sentence)? Pointers (该镇, 这个镇) and generic words (全镇, 乡镇) are not places."""
    for m in _PLACE_ANYWHERE.finditer(question):
        word = m.group(0)
        if not any(word.endswith(g) for g in _NOT_A_PLACE) and not _POINTER.search(word):
            return True
    return bool(_ENGLISH_NAME.search(question))


def follow_up(question: str, history: Sequence[Answer]) -> FollowUp:
    q = question.strip()
    if not history:
        return FollowUp(q, None, "none")
    previous = history[-1]
    prev_q = previous.standalone_question or previous.question
    prev_doc = answer_report(previous) or next((answer_report(a) for a in reversed(history[:-1]) if answer_report(a)), None)
    prefix = _report_prefix(prev_q)

    core = _TRAIL.sub("", _LEAD.sub("", q))
    if core and len(core) <= _ELLIPSIS_MAX and not _QUESTION_WORD.search(core) and prev_q:
        periods = _PERIOD.findall(core)
        rest = _PERIOD.sub("", core).strip("的，, ")
        base = prev_q
        if periods:
            base = _PERIOD.sub(periods[0], base, count=1) if _PERIOD.search(base) else periods[0] + base
        if not rest:
            return FollowUp(base, prev_doc, "ellipsis")
        if _PLACE_NAME.fullmatch(rest) or find_locator(rest + "的情况")[0]:
            # “那城关镇呢？”, “那永北圩所在的镇呢？”: another report, same question
            body = base[len(prefix):] if prefix and base.startswith(prefix) else base
            return FollowUp(rest + body.lstrip("的，, "), None, "ellipsis")
        if rest in _PLAN_WORDS:
            # “那2023年的计划呢？”: the report's plan for that period
            kept = "".join(_PERIOD.findall(base)[:1])
            return FollowUp(f"{prefix}{kept}有什么工作计划？", prev_doc, "ellipsis")
        # “自营出口额呢？”: same report and period, another thing asked about
        tail = _ASKING.search(base)
        kept = "".join(_PERIOD.findall(base)[:1])
        asked = tail.group(0) if tail else "是多少？"
        return FollowUp(f"{prefix}{kept}{rest}{asked}", prev_doc, "ellipsis")
    if _names_a_place(q):
        # a new question about a place of its own (“请问辽市镇…”, “…in Jiangxi?”) is never read as being about
        # the report under discussion
        return FollowUp(q, None, "none")
    pointer = _POINTER.search(q)
    if pointer:
        if prefix:
            q = q[: pointer.start()] + prefix + q[pointer.end():]
        return FollowUp(q, prev_doc, "pointer")
    return FollowUp(q, prev_doc, "carry")
