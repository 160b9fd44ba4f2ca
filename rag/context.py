"""Report-level context: the title, period and distinctive names (places, organisations) of a report.

Questions often name a report by something mentioned elsewhere in it (“永北圩所在的镇”, “华海药业所在镇”).
Adding a short context line to every chunk's index text lets such a question find the chunk that holds
the answer. The context depends on the report alone (never on the rest of the corpus), so adding a report
never changes — and never re-embeds — the others.

In: a ``Document``. Out: a ``ReportContext``. Uses jieba's part-of-speech tagger and word frequencies.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from .schema import Document
from .text import STOPWORDS, normalise, word_frequencies

# part-of-speech tags of names: places, organisations, other proper nouns, people
_NAME_TAGS = {"ns", "nt", "nz", "nr", "nrt", "nrfg"}
_QUOTED = re.compile(r"[“\"「『]([^”\"」』\n]{2,10})[”\"」』]")
_YEAR = re.compile(r"(20\d{2}|19\d{2})年")
_GENERIC = frozenset("中国 全国 全省 全市 全县 全镇 全区 党中央 国务院 省委 市委 县委 区委 镇党委 政府 人民 我镇 我们 习近平 新时代 总书记".split())


@dataclass(frozen=True)
class ReportContext:
    title: str
    period: str
    names: tuple[str, ...]

    def line(self) -> str:
        """One line for the index text, e.g. ``2022年工作总结｜2022–2023｜永北圩、京九铁路…``."""
        parts = [p for p in (self.title, self.period, "、".join(self.names)) if p]
        return "｜".join(parts)


def report_period(text: str) -> str:
    years = sorted({int(y) for y in _YEAR.findall(text[:20000]) if 1949 <= int(y) <= 2100})
    if not years:
        return ""
    # the report's own years: the most mentioned ones, not every historical year it cites
    counts = Counter(int(y) for y in _YEAR.findall(text[:20000]))
    top = sorted(y for y, c in counts.most_common(2))
    return f"{top[0]}年" if len(top) == 1 or top[0] == top[-1] else f"{top[0]}–{top[-1]}年"


def distinctive_names(text: str, limit: int) -> tuple[str, ...]:
    """Up to ``limit`` names that are frequent in this report and rare in general Chinese."""
    if limit <= 0 or not text.strip():
        return ()
    import jieba.posseg as pseg

    from .text import _segmenter

    _segmenter()  # initialise jieba once, quietly
    freq, total = word_frequencies()
    counts: Counter[str] = Counter()
    for pair in pseg.cut(normalise(text[:200000])):
        word, tag = pair.word.strip(), pair.flag
        if len(word) < 2 or word in STOPWORDS or word in _GENERIC or "*" in word:
            continue
        if tag in _NAME_TAGS or (tag.startswith("n") and freq.get(word, 0) == 0 and len(word) >= 3):
            counts[word] += 1
    for quoted in _QUOTED.findall(text[:200000]):
        if "*" not in quoted:
            counts[normalise(quoted)] += 1

    def score(item: tuple[str, int]) -> float:
        word, count = item
        rarity = -math.log((freq.get(word, 0) + 1) / total)
        return (1 + math.log(count)) * rarity

    ranked = sorted(counts.items(), key=lambda kv: (-score(kv), kv[0]))
    return tuple(word for word, _ in ranked[:limit])


# a place as a report names itself: a name, then the kind of place (镇 town, 乡 township, 街道 subdistrict)
_PLACE_KIND = "(?:镇|乡|街道)"
_TITLE_PLACE = re.compile(rf"^([\u4e00-\u9fff]{{2,8}}?{_PLACE_KIND})(?=(?:19|20)\d{{2}}年)")


def report_place(title: str, text: str, names: tuple[str, ...] | list[str] = ()) -> str:
    """The place a report is about, e.g. ``辽市镇``: named at the head of its title (``城南镇2023年工作总结``),
    else the distinctive name (``names``, see ``distinctive_names``) that the text most often follows with a
    kind of place. Empty when the report masks its place (``*镇``), as many do."""
    match = _TITLE_PLACE.match(title)
    if match:
        return match.group(1)
    counts: Counter[str] = Counter()
    for name in names:
        # town names are two or three characters (辽市, 城关); a longer name before 镇 is a slogan (“共同富裕镇样板”)
        if not 2 <= len(name) <= 3 or "*" in name:
            continue
        for found in re.findall(re.escape(name) + _PLACE_KIND, text[:200000]):
            counts[found] += 1
    return max(sorted(counts), key=counts.__getitem__) if counts else ""


def report_context(doc: Document, limit: int) -> ReportContext:
    return ReportContext(title=doc.title, period=report_period(doc.text), names=distinctive_names(doc.text, limit))
