"""The language knowledge of the project, in one place: units and measure words, figures and `*` masks,
heading numerals and list markers, periods, question words, and English equivalents.

The splitter, the question planner, the answer features, the LLM checks and the evaluation all read these
patterns from here, so a unit or a list marker is recognised the same way everywhere. Nothing in this module
names a report or a question: it describes how Chinese government reports write figures, lists and dates.
Pure data and pure functions of strings; no I/O.
"""

from __future__ import annotations

import re
import unicodedata

# -- text boundaries ---------------------------------------------------------------------------------
SENTENCE_END = "。！？；!?;\n"
FULL_STOP = "。！？!?\n"  # ends a whole sentence; a clause cut at ； still reads on what came before it
CLAUSE_END = "，,：:。！？；!?;\n"
TRAILING_PUNCT = "，,：:；;、"

# Characters that print as nothing but break a figure apart for search and for the eye (“1\u200b120户”):
# zero-width space / non-joiner / joiner, word joiner, BOM used as zero-width no-break space.
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_ZERO_WIDTH_TABLE = dict.fromkeys(map(ord, ZERO_WIDTH))


def strip_zero_width(text: str) -> str:
    """``text`` without zero-width characters (see ``ZERO_WIDTH``)."""
    return text.translate(_ZERO_WIDTH_TABLE)


# -- figures, units, masks ---------------------------------------------------------------------------
# Measure words / units that follow a figure in these reports (longest first inside each alternative).
UNITS = (
    "%|％|‰|个百分点|平方米|平方公里|立方米|公里|千米|米|公顷|亩|万吨|吨|亿斤|万斤|公斤|千克|斤|万千瓦|千瓦时|千瓦|兆瓦|"
    "亿美元|万美元|美元|标准箱|万标箱|艘|架|万元|亿元|元|户|人次|人|名|位|家|个|项|次|件|起|条|"
    "座|所|处|栋|套|台|辆|场|期|批|类|支|场次|万|亿|天|小时|年|月|届|村|组|批次|车次|倍|株|棵|头|只|份|篇|张|本|kw|km"
)
# Measure words that count the same kind of thing (多少名 ~ *人, 多少家 ~ 个).
UNIT_SYNONYMS: tuple[frozenset[str], ...] = (
    frozenset({"人", "名", "位", "人次"}),
    frozenset({"家", "个", "户"}),
    frozenset({"次", "场", "起", "场次", "期"}),
    frozenset({"条", "项", "个"}),
    frozenset({"座", "个", "处", "所"}),
)
SCALE_PREFIXES = "万亿千百"
APPROX_SUFFIXES = "余多"

FIGURE = re.compile(r"\d+(?:[,，]\d{3})*(?:\.\d+)?(?:余|多)?(?:万|亿|千)?")
MASK = re.compile(r"[*＊]+(?:[.．][*＊]+)?")
UNIT_AFTER_FIGURE = re.compile(rf"^\s*(?:余|多)?(?:[万亿千百]?(?:{UNITS}))")
MASKED_WITH_UNIT = re.compile(rf"[*＊]+(?:[.．][*＊]+)?\s*(?:{UNITS})")
# A figure written in Chinese numerals (older reports: 七百六十六亿四千万元, 百分之二十五点五, 三百五十五元): a run of
# two or more numeral characters holding a magnitude (十 百 千 万 亿), so that 一些, 三大, 一九八二 stay words or
# years; it counts as a figure only with a unit after it (or as 百分之…, a percentage).
CN_DIGITS = "零〇○一二三四五六七八九"  # as years are written (一九八○年)
CN_FIGURE_DIGITS = CN_DIGITS + "两"
CN_MAGNITUDES = "十百千万亿"
CN_PERCENT = re.compile(rf"百分之[{CN_FIGURE_DIGITS}{CN_MAGNITUDES}]+(?:点[{CN_FIGURE_DIGITS}]+)?")
CN_FIGURE = re.compile(
    rf"(?<![{CN_FIGURE_DIGITS}{CN_MAGNITUDES}第])(?=[{CN_FIGURE_DIGITS}{CN_MAGNITUDES}]{{2}})"
    rf"[{CN_FIGURE_DIGITS}{CN_MAGNITUDES}]*[{CN_MAGNITUDES}][{CN_FIGURE_DIGITS}{CN_MAGNITUDES}]*(?:点[{CN_FIGURE_DIGITS}]+)?(?:余|多)?"
)
# An ordinal (第五, 第3位, 第三十三次, 第*): the answer to 排第几 / 第几批. It is a figure only for a question that
# asks for one (``ORDINAL_UNIT`` among its units): elsewhere 第一 is a word (第一批, 第三产业), not a figure.
ORDINAL_UNIT = "第"
ORDINAL_SUFFIXES = "名位个次批届条"
CHINESE_ORDINAL = re.compile(rf"第(?:[{CN_FIGURE_DIGITS}{CN_MAGNITUDES}\d]+|[*＊]+)[{ORDINAL_SUFFIXES}]?")

# -- structure: headings, lists ------------------------------------------------------------------------
CN_NUM = "一二三四五六七八九十百零〇两"
# (level, pattern) — lower level = higher in the hierarchy; patterns match at the start of a line.
HEADING_PATTERNS: list[tuple[int, re.Pattern[str]]] = [
    (0, re.compile(rf"^第[{CN_NUM}\d]+[章篇部分编]")),
    (1, re.compile(r"^(?:\d{4}年)?[^，。；！？\n]{0,12}(?:工作总结|工作打算|工作思路|工作计划|工作安排|工作要点|总体要求|主要目标)[：:]?$")),
    (2, re.compile(rf"^[{CN_NUM}]+、")),
    (3, re.compile(rf"^[（(][{CN_NUM}]+[）)]")),
    (4, re.compile(r"^\d{1,2}[、.．](?!\d)")),
    (5, re.compile(r"^[（(]\d{1,2}[）)]")),
    (6, re.compile(rf"^[{CN_NUM}]+是")),
]
ENUMERATED_LEVEL = 6
HEADING_NUMBER = re.compile(rf"^(?:[{CN_NUM}]+、|[（(][{CN_NUM}\d]+[）)]|\d+[、.．](?!\d))")
# an item of an enumeration inside running text: 一是… 二是…, 第一，…, （一）…, 1．…
LIST_ITEM = re.compile(rf"(?:^|(?<=[。；;：:\n]))\s*(?:[{CN_NUM}]+是|第[{CN_NUM}]+[，,、]|[（(][{CN_NUM}\d]+[）)]|\d{{1,2}}[、.．](?!\d))")
# a sentence that names a list it does not spell out yet: “实施‘三大工程’：”, “问题主要有：”, “包括以下几个方面”
LIST_INTRO = re.compile(rf"(?:[{CN_NUM}\d]+(?:大|项|个|条|种|类|方面|件|化|网|区|带|群)|以下|如下|主要有|主要是|包括|分别是)[^。；;]{{0,24}}[：:]?\s*$")
ENUMERATION_MARK = "、"
# How many items a list question expects: “哪五大战略”, “哪3位”, “分别是哪三项”, “‘五个到位’分别是什么”, “六个方面”.
LIST_COUNT = re.compile(rf"(?:哪|[“\"「]|以下)?([{CN_NUM}]{{1,3}}|\d{{1,2}})(?:个|项|条|大|类|种|件|位|样|方面|句|点|批|家|所)")
_DIGIT = {ch: i for i, ch in enumerate("〇一二三四五六七八九")} | {"零": 0, "○": 0, "两": 2}


def small_number(text: str) -> int | None:
    """一 … 九十九 or 1 … 99 as an int (三 → 3, 十二 → 12, 二十 → 20, 两 → 2); None for anything else."""
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _DIGIT and ch != "十" for ch in text):
        return None
    if "十" not in text:
        return _DIGIT[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    return (_DIGIT[tens] if tens else 1) * 10 + (_DIGIT[ones] if ones else 0)


def english_ordinal(ordinal: str) -> str:
    """第五 / 第3位 / 第十二名 in English (5th, 3rd, 12th); "" when it is not a small ordinal."""
    n = small_number(ordinal.lstrip(ORDINAL_UNIT).rstrip(ORDINAL_SUFFIXES))
    if n is None or n <= 0:
        return ""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def list_count(question: str) -> int | None:
    """The number of items a list question names (“哪五大战略” → 5), from the first count in its asked clauses, else
    in the question; None when it names none or a count no list has (1, or more than 20)."""
    asked = "".join(question[a:b] for a, b, _ in asked_clauses(question))
    for text in (asked, question):
        for m in LIST_COUNT.finditer(text):
            n = small_number(m.group(1))
            if n is not None and 2 <= n <= 20:
                return n
    return None
QUOTE_OPEN, QUOTE_CLOSE = "“", "”"
QUOTED_TERM = re.compile(r"[“\"「『]([^”\"」』\n]{1,20})[”\"」』]")

# -- periods ---------------------------------------------------------------------------------------------
YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})年")
CN_YEAR = re.compile(rf"(?<![{CN_DIGITS}])((?:一九|二[〇○零])[{CN_DIGITS}]{{2}})年")  # 一九八二年 in older reports
HALF_YEAR = re.compile(r"([上下])半年")
MONTH_RANGE = re.compile(r"(?<!\d)(\d{1,2})\s*[-—–～~至到－]\s*(\d{1,2})\s*月")
QUARTER = re.compile(r"(?:第)?([一二三四1-4])季度")
RELATIVE_YEAR = {"今年": 0, "本年": 0, "全年": 0, "当年": 0, "去年": -1, "上年": -1, "上一年": -1, "过去一年": -1, "明年": 1, "来年": 1}
RELATIVE_YEAR_RE = re.compile("|".join(sorted(RELATIVE_YEAR, key=len, reverse=True)))
SAME_YEAR = ("全年", "当年")  # the whole of / that very year: of the report's year alone, else of the year named before
YEAR_BEFORE = re.compile(r"(?:19|20)\d{2}年$")
COMPARED_WITH = ("比", "较", "于")  # 比上年, 较去年, 高于上年: a relative year after these is a comparison base
FIVE_YEAR_PLAN = re.compile(r"[“\"]?十([一二三四五六七八九])五[”\"]?(?:时期|期间|规划)?")
_CN_DIGIT = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def periods(text: str, report_year: int | None = None) -> frozenset[str]:
    """The periods a text speaks of, normalised: ``Y2022``, ``H1`` / ``H2`` (half years), ``M1-9`` (month
    ranges), ``Q3``, ``P14`` (the 14th five-year plan). Relative years (今年 / 去年 / 明年) become ``Y…`` when the
    report's own year is known, else ``R0`` / ``R-1`` / ``R1``."""
    text = unicodedata.normalize("NFKC", text)
    out: set[str] = {f"Y{y}" for y in YEAR.findall(text)}
    out |= {f"Y{''.join(str(_DIGIT[ch]) for ch in y)}" for y in CN_YEAR.findall(text)}
    out |= {"H1" if h == "上" else "H2" for h in HALF_YEAR.findall(text)}
    out |= {f"M{int(a)}-{int(b)}" for a, b in MONTH_RANGE.findall(text) if 1 <= int(a) < int(b) <= 12}
    out |= {f"Q{_CN_DIGIT.get(q, q)}" for q in QUARTER.findall(text)}
    out |= {f"P1{_CN_DIGIT[d]}" for d in FIVE_YEAR_PLAN.findall(text)}
    for m in RELATIVE_YEAR_RE.finditer(text):
        if text[max(0, m.start() - 1) : m.start()] in COMPARED_WITH or text.startswith("同期", m.end()):
            continue  # “比上年增长9%”, “与去年同期相比”: the base of a comparison, not the period spoken of
        if m.group(0) in SAME_YEAR and YEAR_BEFORE.search(text, 0, m.start()):
            continue  # “2021年全年”, “2020年当年”: the year just named, already counted
        shift = RELATIVE_YEAR[m.group(0)]
        out.add(f"Y{report_year + shift}" if report_year else f"R{shift}")
    return frozenset(out)


# English periods, in the same normal form. A year right before the words “… report” (“the 2017 government work
# report”) or after “reviewing” names the report, not the period asked.
EN_YEAR = re.compile(r"(?<![\d.,])((?:19|20)\d{2})(?![\d])")
EN_NAMING_YEAR = re.compile(r"(?:['’]s)?(?:\s+[\w-]+){0,3}?\s+reports?\b", re.I)
EN_REVIEW_BEFORE = re.compile(r"\breview(?:s|ed|ing)?\b(?:\s+\S+){0,2}\s*$", re.I)
EN_HALF = re.compile(r"\b(first|second)[ -]half\b", re.I)
EN_QUARTER = re.compile(r"\b(first|second|third|fourth|1st|2nd|3rd|4th)[ -]quarter\b|\bQ([1-4])\b", re.I)
EN_FIRST_MONTHS = re.compile(r"\bfirst (three|nine|eleven|six|ten|eight|seven|five|four|two) (quarters|months)\b", re.I)
EN_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december")
EN_MONTH_RANGE = re.compile(r"\b(" + "|".join(EN_MONTHS) + r")\s*(?:-|–|—|to|through|until)\s*(" + "|".join(EN_MONTHS) + r")\b", re.I)
EN_FIVE_YEAR_PLAN = re.compile(r"\b(1[0-9])(?:st|nd|rd|th)\s+five[- ]year\s+plan", re.I)
EN_RELATIVE_YEAR = {"this year": 0, "the current year": 0, "last year": -1, "the previous year": -1, "the year before": -1,
                    "next year": 1, "the coming year": 1, "the following year": 1}
EN_RELATIVE_YEAR_RE = re.compile(r"\b(?:" + "|".join(EN_RELATIVE_YEAR) + r")\b", re.I)
_EN_ORDINAL = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4}
_EN_COUNT = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11}


def five_year_plan_name(n: int) -> str | None:
    """The Chinese short name of the ``n``-th Five-Year Plan, 11 to 19 (13 -> 十三五); None outside that range."""
    digits = {v: k for k, v in _CN_DIGIT.items()}
    return f"十{digits[n - 10]}五" if 11 <= n <= 19 else None


def english_periods(question: str) -> frozenset[str]:
    """The periods an English question asks about, in the normal form of ``periods`` (``Y2019``, ``H1``, ``Q3``,
    ``M1-9``, ``P13``, ``R-1``); the years that name the report the question is about are left out."""
    out: set[str] = set()
    for m in EN_YEAR.finditer(question):
        if EN_NAMING_YEAR.match(question, m.end()) or EN_REVIEW_BEFORE.search(question, 0, m.start()):
            continue
        out.add(f"Y{m.group(1)}")
    out |= {"H1" if h.lower() == "first" else "H2" for h in EN_HALF.findall(question)}
    for word, digit in EN_QUARTER.findall(question):
        out.add(f"Q{_EN_ORDINAL[word.lower()] if word else int(digit)}")
    for count, what in EN_FIRST_MONTHS.findall(question):
        months = _EN_COUNT[count.lower()] * (3 if what.lower() == "quarters" else 1)
        if 2 <= months <= 12:
            out.add(f"M1-{months}")
    for a, b in EN_MONTH_RANGE.findall(question):
        first, last = EN_MONTHS.index(a.lower()) + 1, EN_MONTHS.index(b.lower()) + 1
        if first < last:
            out.add(f"M{first}-{last}")
    out |= {f"P{n}" for n in EN_FIVE_YEAR_PLAN.findall(question)}
    out |= {f"R{EN_RELATIVE_YEAR[m.group(0).lower()]}" for m in EN_RELATIVE_YEAR_RE.finditer(question)}
    return frozenset(out)


def resolve_relative(periods_: frozenset[str], report_year: int | None) -> frozenset[str]:
    """``R0`` / ``R-1`` / ``R1`` (今年 / 去年 / 明年 in a question) as years of a report of ``report_year``."""
    if report_year is None:
        return periods_
    return frozenset(f"Y{report_year + int(p[1:])}" if p.startswith("R") else p for p in periods_)


def period_kind(period: str) -> str:
    """``Y`` year, ``H`` half, ``M`` month range, ``Q`` quarter, ``P`` plan period, ``R`` relative year."""
    return period[:1]


def conflicting_periods(asked: frozenset[str], stated: frozenset[str]) -> bool:
    """True when, for a kind of period the question asks about, ``stated`` speaks of that kind but of none of
    the periods asked (asked 2021, the text says 2022; asked 上半年, the text says 1-9月: both parts of a year)."""

    def family(kind: str) -> str:
        return "part" if kind in "HMQ" else kind

    for fam in {family(period_kind(p)) for p in asked}:
        wanted = {p for p in asked if family(period_kind(p)) == fam}
        said = {q for q in stated if family(period_kind(q)) == fam}
        if said and not (wanted & said):
            return True
    # a year asked, and the text speaks of no year but of five-year plans that do not hold it (2025 asked,
    # the text gives the 十五五 targets)
    years = [int(p[1:]) for p in asked if period_kind(p) == "Y"]
    plans = [plan_years(int(q[1:])) for q in stated if period_kind(q) == "P"]
    if years and plans and not any(period_kind(q) == "Y" for q in stated):
        return not any(y in span for y in years for span in plans)
    return False


def plan_years(n: int) -> range:
    """The years of the ``n``-th Five-Year Plan (14 → 2021–2025; the 3rd began in 1966 after three years of
    adjustment)."""
    start = 1953 + 5 * (n - 1) if n <= 2 else 1966 + 5 * (n - 3)
    return range(start, start + 5)


# “2026年江西省政府工作报告”, “1997年政府工作报告”: a year that names the report, not the period asked about
REPORT_NAMING_YEAR = re.compile(r"(?:19|20)\d{2}年(?:[^，,。？?\s]{0,12}?)(?:政府)?工作(?:报告|总结)")


# -- the asked part of a question -------------------------------------------------------------------------
# A question often sets the scene before it asks (“报告提到西夏陵申遗成功，那么西夏陵接待了多少游客？”,
# “…产值突破100亿元，这家企业有多少名员工？”): the clauses holding a question word say what must be answered; the
# others restate what the report says, and a passage holding them is not thereby an answer.
ASK_WORD = re.compile(r"多少|几(?!乎)|哪|什么|啥|谁|(?<![任])何|怎|是否|吗|呢")
QUESTION_CLAUSE_BREAK = re.compile(r"[，,；;。：:！!？?]")
# Words that frame a question rather than name what it asks: reporting verbs and connectives (据…, 报告说…,
# 那么…), and a demonstrative with a measure word pointing back to the scene (这家企业, 该项目, 那宗土地).
QUESTION_FRAMING = frozenset("据 按 按照 根据 说 称 中称 中说 声称 指出 表示 提出 提出的 那么 那 此外 另外 到底 究竟 具体 目前 当时 此 本".split())
DEMONSTRATIVE = re.compile(r"^(?:这|那|该|此|本)(?:[个家场座项次宗批条所位名种类处届座栋起件支期年]|一)$")
# What may stand between a measure and the question word (营业收入是多少, 接待了多少, 全长约多少).
ASK_LINK = re.compile(r"(?:是|为|有|了|达|达到|约|共|一共|总共|大约|分别|都|各|具体|的|占|已|已经|还|在|到)+$")


# English: a clause ends at a stop or at a comma before the question proper (“In X's report, what was…”).
EN_CLAUSE = re.compile(r"[;:?!]|,\s*(?=(?:what|how|which|who|whom|when|where|why|did|does|do|is|are|was|were)\b)", re.I)


def asked_clauses(question: str) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """The clauses of ``question`` that hold a question word: (start, end, [(word start, word end), …]),
    offsets into ``question``; empty when none does (then the whole question is what is asked)."""
    out, start = [], 0
    bounds = [m.start() for m in QUESTION_CLAUSE_BREAK.finditer(question)] + [len(question)]
    for end in bounds:
        words = [(start + m.start(), start + m.end()) for m in ASK_WORD.finditer(question[start:end])]
        if words:
            out.append((start, end, words))
        start = end + 1
    return out


# -- question words ---------------------------------------------------------------------------------------
NUMBER_QUESTION = re.compile(
    r"多少|(?<!哪)几[个名户人次项家所座条起万亿年%场支批期天]|百分之|百分比|比例|比重|增长率|完成率|增幅|同比|金额|数量|总额|规模|排名第几|"
    r"how many|how much|what percentage|what proportion|what was the .*(?:value|amount|number|rate|output|revenue|growth)|"
    r"what (?:is|was) the (?:total|number|amount|value|rate|share)",
    re.I,
)
# a Chinese sentence that asks (a question mark or a question word), as opposed to one that states
CHINESE_QUESTION = re.compile(r"[？?]|多少|几|哪|什么|何|谁|怎|吗|是否")
LIST_QUESTION = re.compile(r"哪些|哪几|哪两|哪三|哪四|哪五|哪六|有哪|分别是|包括什么|包括哪|which (?:\w+ )?(?:ones|projects|crops|items)|what are the|list the|name the", re.I)
WHICH_REPORTS_QUESTION = re.compile(r"哪(?:些|几|几个|几份|个|份|一份)(?:[^，,？?。]{0,12}?(?:报告|总结)|镇|乡|县|市|区|省(?!份)|自治区|地方|文件|单位|乡镇|年)|which (?:of the )?(?:[\w-]+ )?(?:reports?|towns?|townships?|counties|documents?)\b", re.I)
OPEN_QUESTION = re.compile(
    r"有何|如何|怎样|怎么|为何|为什么|什么(?:样的)?(?:措施|政策|要求|规定|办法|举措|内容|作用|意义|目的|条件|标准|渠道|途径|方式|服务|支持|补贴|优惠|便利|安排|建议|注意事项|工作计划|计划|打算|目标|思路)|"
    r"哪些(?:措施|政策|要求|规定|办法|举措|内容|条件|标准|渠道|途径|方式|服务|支持|补贴|优惠|便利|安排|建议|注意事项|条例|文件)|\bhow\b(?!\s+(?:many|much))|\bwhy\b|what measures|what steps",
    re.I,
)
WHERE_QUESTION = re.compile(r"哪个(?:城市|国家|地方|地区|省份)|哪里|哪儿|在哪|何地|何处|\bwhere\b|\bwhich (?:city|country|province|place)\b", re.I)
WHEN_QUESTION = re.compile(r"哪一年|哪年|何年|何时|什么时候|哪个月|哪一天|几月|\bwhen\b|\bwhat year\b|\bwhich year\b", re.I)
WHO_QUESTION = re.compile(r"是谁|谁是|哪位|哪个人|哪些人|叫什么名字的人|由谁|谁来|\bwho\b", re.I)
PERCENT_QUESTION = re.compile(r"百分之|百分比|比例|比重|率|增幅|增长(?!了?多少[万亿]?[元吨户人个])|下降|同比|占比|\bpercent|\bpercentage\b|\brate\b|\bgrowth\b", re.I)
MONEY_QUESTION = re.compile(r"外资|资本|投资|资金|金额|产值|收入|出口|进口|总额|营收|税收|销售额|钱|value|revenue|investment|funds?\b|yuan|gdp|output", re.I)
UNIT_IN_QUESTION = re.compile(r"(?<!第)(?:多少|几)(?:万|亿|千|百)?(?P<unit>平方米|平方公里|亩|公顷|吨|万元|亿元|元|户|人次|人|名|位|家|个|项|次|件|起|条|座|所|处|场|期|批|支|天|钱|倍|公里|米)")
# a question that asks for a rank or an ordinal (居全省第几, 第几批, where did … rank)
ORDINAL_QUESTION = re.compile(r"第几|\bwhere did\b.*\brank|\brank(?:ed|s)? (?:where|what)|\bwhat (?:rank|place|position)\b|\bwhich (?:rank|place|position)\b", re.I)
# measure words a question can ask in that no figure carries (几名 asks for people; 多少钱 for 元)
UNIT_ALIASES = {"钱": "元"}

# English measure words -> the Chinese unit a figure carries
ENGLISH_UNITS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bhouseholds?\b", re.I), "户"),
    (re.compile(r"\b(?:people|persons?|residents?|individuals?)\b", re.I), "人"),
    (re.compile(r"\b(?:times|sessions|rounds|cases|incidents)\b", re.I), "次"),
    (re.compile(r"\b(?:square met(?:er|re)s?)\b", re.I), "平方米"),
    (re.compile(r"\b(?:mu)\b", re.I), "亩"),
    (re.compile(r"\b(?:tons?|tonnes?)\b", re.I), "吨"),
    (re.compile(r"\b(?:kilomet(?:er|re)s?|km)\b", re.I), "公里"),
    (re.compile(r"\b(?:enterprises|companies|firms)\b", re.I), "家"),
    (re.compile(r"\b(?:projects|items|points|sites)\b", re.I), "个"),
    (re.compile(r"\b(?:recruits|soldiers|volunteers|cadres|officials|members)\b", re.I), "名"),
    (re.compile(r"\b(?:rules|regulations|systems|measures|policies|roads|lines)\b", re.I), "条"),
    (re.compile(r"\b(?:villages)\b", re.I), "村"),
    (re.compile(r"\b(?:teams|squads)\b", re.I), "支"),
    (re.compile(r"\b(?:meetings|events|activities|campaigns)\b", re.I), "次"),
    (re.compile(r"\b(?:yuan|rmb)\b", re.I), "元"),
]


def unit_fits(unit: str, wanted: tuple[str, ...]) -> bool:
    """Does a figure's unit (``万元``, ``余户``, ``%``) count what a question asks for (``元``, ``户``, ``家``)?
    No wanted unit: any unit fits."""
    if not wanted:
        return True
    unit = unit.lstrip(APPROX_SUFFIXES)
    base = unit.lstrip(SCALE_PREFIXES) or unit
    if any(w in unit or unit.endswith(w) for w in wanted) or ("元" in wanted and unit in ("万", "亿")):
        return True
    return any(base in group and w in group for group in UNIT_SYNONYMS for w in wanted)


def figures_with_units(text: str, masked: bool = False) -> list[tuple[int, int, str]]:
    """(start, end, unit) of each figure — or each `*` mask when ``masked`` — in ``text`` (NFKC offsets,
    which equal the input's for the Chinese text of reports); the unit is "" when none follows. Figures written
    in Chinese numerals (``CN_FIGURE``, ``CN_PERCENT``) count when a unit follows them."""
    norm = unicodedata.normalize("NFKC", text)
    out = []
    for m in (MASK if masked else FIGURE).finditer(norm):
        tail = UNIT_AFTER_FIGURE.match(norm[m.end():])
        out.append((m.start(), m.end() + (tail.end() if tail else 0), tail.group(0).strip() if tail else ""))
    if not masked:
        percents = [(m.start(), m.end(), "%") for m in CN_PERCENT.finditer(norm)]
        out += percents
        for m in CN_FIGURE.finditer(norm):
            tail = UNIT_AFTER_FIGURE.match(norm[m.end():])
            if tail and not any(a <= m.start() < b for a, b, _ in percents):  # the number of a 百分之…
                out.append((m.start(), m.end() + tail.end(), tail.group(0).strip()))
        out.sort()
    return out


def answer_figures(text: str, units: tuple[str, ...], masked: bool = False) -> list[tuple[int, int, str]]:
    """``figures_with_units``, plus the ordinals (unit ``ORDINAL_UNIT``) when ``units`` asks for one: the
    figures that can answer a question asking in ``units``, in order."""
    out = figures_with_units(text, masked)
    if ORDINAL_UNIT in units:
        norm = unicodedata.normalize("NFKC", text)
        out += [(m.start(), m.end(), ORDINAL_UNIT) for m in CHINESE_ORDINAL.finditer(norm) if bool(MASK.search(m.group(0))) == masked]
        out.sort()
    return out

# People every report cites: the national leadership never answers “who in this town / province …”.
NATIONAL_LEADERS = frozenset("习近平 毛泽东 邓小平 江泽民 胡锦涛 李强 李克强 周恩来 孙中山 马克思 列宁 温家宝 朱镕基 李鹏 赵紫阳 华国锋".split())


# The generic tail of a place or organisation name: a report may name 辽市 where a question says 辽市镇.
NAME_TAIL = re.compile(r"(?:特别行政区|自治区|自治州|自治县|有限公司|股份公司|街道|社区|公司|集团|省|市|县|区|镇|乡|村|圩|旗|盟)$")


# A place name inside a phrase that names a report (“江西省宜春市袁州区彬江镇”, “永北圩所在的镇”): shortest
# run of two or more characters before a place tail; runs holding a pointer or generic word are not names.
PLACE_IN_PHRASE = re.compile(r"[\u4e00-\u9fff]{2,8}?(?:特别行政区|自治区|自治州|自治县|街道|社区|省|市|县|区|镇|乡|村|圩)")
NOT_A_NAME = re.compile(r"所在|的|那个|这个|哪|全|该|本|我|其|各|每|某|份|城|乡镇|市镇")


def places_in(phrase: str) -> list[str]:
    """The place names a report-naming phrase holds, in order (深圳市, 彬江镇, 永北圩)."""
    return [m.group(0) for m in PLACE_IN_PHRASE.finditer(phrase) if not NOT_A_NAME.search(m.group(0)[:-1])]


def is_english(text: str) -> bool:
    """Written in English: most of its non-space characters are ASCII letters."""
    letters = sum(ch.isascii() and ch.isalpha() for ch in text)
    return letters > 0.5 * max(1, len(text.replace(" ", "")))


# A phrase that names the report a question is about: everything before 工作报告 / 工作总结 in its clause
# (“据2026年江西省政府工作报告”, “青岛市回顾2018年工作的政府工作报告”), or the place and year a question opens with
# (“金昌市2021年…”).
REPORT_NAMING = re.compile(
    r"[^，,。？?！!；;\s（(）)]{0,24}?工作(?:报告|总结)"
    r"|^(?:据|按|根据|在)?[\u4e00-\u9fff]{2,10}?(?:特别行政区|自治区|省|市|县|区|旗|盟|州)(?=(?:19|20)\d{2}年)"
)


def report_places(question: str) -> tuple[str, ...]:
    """The places in the phrases of ``question`` that name its report, each by the last two characters of its
    distinctive part (江西 of 2026年江西省…, 青岛 of 青岛市回顾…, 多斯 of 鄂尔多斯市): a report of that place names
    them in its title or context line."""
    cores = [name_core(p)[-2:] for m in REPORT_NAMING.finditer(question) for p in places_in(m.group(0))]
    return tuple(dict.fromkeys(c for c in cores if len(c) == 2))


def name_core(name: str) -> str:
    """The distinctive part of a name (深圳市 → 深圳, 辽市镇 → 辽市); the name itself when too little is left."""
    core = NAME_TAIL.sub("", name)
    return core if len(core) >= 2 else name
