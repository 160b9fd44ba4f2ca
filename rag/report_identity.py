"""Which report a question names, and which reports of the library fit that name.

People name a report by its place and year (“2026年江西省政府工作报告”, “金昌市2021年…”, “国务院1997年政府工作报告”,
“青岛市回顾2018年工作的报告”). A report's own name is its title, file name and context line (``rag.context``):
the place a report is of is named there, and its year is the year its title or file name gives, else its
context line's period and the year after it (a report reviewing 2018 is given in 2019 and called either).

In: a question and the library's ``StoredDocument``s. Out: ``NamedReport`` (the years and place cores the question
names) and the doc ids that fit it. Pure functions; no model, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Iterable

from . import lexicon
from .text import normalise

# a year in a file name stands alone (prov_2026_…, cn_state_council_1997.txt); hex ids (lb_a2019b) are no year
_FILE_YEAR = re.compile(r"(?<![0-9A-Za-z])((?:19|20)\d{2})(?![0-9A-Za-z])")
_PERIOD_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?=[–-]|年)")


def report_years(title: str, source: str = "", names_line: str = "") -> tuple[int, int] | None:
    """(first, last) year a question may name this report by: the year its title or file name gives; else its
    context line's period and the year after it. None when nothing gives a year."""
    m = lexicon.YEAR.search(title or "") or _FILE_YEAR.search(source or "")
    if m:
        return int(m.group(1)), int(m.group(1))
    years = [int(y) for y in _PERIOD_YEAR.findall(names_line or "")]
    return (min(years), max(years) + 1) if years else None


def report_year(title: str, source: str = "", names_line: str = "") -> int | None:
    """The one year a report's relative periods (今年, 去年) are read against: its title's or file name's year,
    else the last year of its context line's period."""
    years = report_years(title, source, names_line)
    if years is None:
        return None
    return years[1] if years[0] == years[1] else years[1] - 1


def place_line(title: str, source: str, names_line: str) -> str:
    """The normalised text that names the place a report is of: its title and file name when they name a place
    (“2026年山东省政府工作报告”, prov_2026_广东省.txt: the cities it mentions are not its place); else its title
    and context line (a city report that opens “各位代表：” is named by the names its text repeats)."""
    own = normalise(f"{title} {PurePath(source).stem}")
    return own if lexicon.places_in(own) else normalise(f"{title}\n{names_line}")


def year_mismatch(named: frozenset[int], years: tuple[int, int] | None) -> bool:
    """The question names its report by a year outside the years ``years`` this report may be called by."""
    return bool(named) and years is not None and not any(years[0] <= y <= years[1] for y in named)


@dataclass(frozen=True)
class NamedReport:
    """What a question says about the report it means: the years it may be called by, and each place it names as
    the distinctive cores that place may be written with in Chinese (one for a Chinese question: 江西; one or
    more for an English one: 苏州 or 宿州 for “Suzhou”)."""

    years: frozenset[int] = frozenset()
    places: tuple[tuple[str, ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.years or self.places)

    def place_fits(self, places: str) -> bool:
        """Does a report whose ``place_line`` is ``places`` name every place the question gives its report?"""
        return all(any(core in places for core in alternatives) for alternatives in self.places)

    def fits(self, years: tuple[int, int] | None, places: str) -> bool:
        """Does a report with these ``years`` and this ``place_line`` fit the name?"""
        return not year_mismatch(self.years, years) and self.place_fits(places)


# “回顾2018年工作的报告”: the year a report reviews; it was given the year after
_REVIEWED = re.compile(r"(?:回顾|总结)$")


def named_report(question: str) -> NamedReport:
    """The years and places by which ``question`` names its report (any of the years may be the report's)."""
    if lexicon.is_english(question):
        return english_named_report(question)
    years: set[int] = set()
    for m in lexicon.REPORT_NAMING_YEAR.finditer(question):
        year = int(m.group(0)[:4])
        years.add(year + 1 if _REVIEWED.search(question[: m.start()]) else year)
    return NamedReport(frozenset(years), tuple((core,) for core in lexicon.report_places(question)))


# English: the clause that says “report” names it (“In Jinhua's 2017 government work report, …”, “the report that
# reviews 2018”); its years, and its capitalised words that the dictionary knows as places, in pinyin or English
_EN_REPORT = re.compile(r"\breports?\b", re.I)
_EN_NAME = re.compile(r"\b([A-Z][a-z]{3,}(?: [A-Z][a-z]+)?)")


def english_place_cores(name: str) -> tuple[str, ...]:
    """The distinctive cores (as ``lexicon.report_places`` gives them) of the Chinese places an English or pinyin
    name may stand for (“Jinhua” -> 金华; “Inner Mongolia” -> 蒙古); empty when the dictionary knows no such place."""
    from .crosslingual import spelled_places

    for names in spelled_places(name):
        cores = tuple(sorted({core for core in (lexicon.name_core(zh)[-2:] for zh in names) if len(core) == 2}))
        if cores:
            return cores
    return ()


def english_named_report(question: str) -> NamedReport:
    years: set[int] = set()
    places: list[tuple[str, ...]] = []
    # a list of years (“the 2023, 2024 and 2025 reports”) stays in one clause
    for clause in lexicon.EN_CLAUSE.split(question):
        if not _EN_REPORT.search(clause):
            continue
        for m in lexicon.EN_YEAR.finditer(clause):
            year = int(m.group(1))
            years.add(year + 1 if lexicon.EN_REVIEW_BEFORE.search(clause, 0, m.start()) else year)
        for m in _EN_NAME.finditer(clause):
            cores = english_place_cores(m.group(1))
            if cores and cores not in places:
                places.append(cores)
    return NamedReport(frozenset(years), tuple(places))


class ReportIdentities:
    """Each report's years and names line, read once per index version; answers which reports fit a name."""

    def __init__(self, docs: Iterable):
        """``docs``: objects with ``doc_id``, ``source``, ``title`` and ``context``."""
        self._ids: list[tuple[str, tuple[int, int] | None, str]] = []
        for d in docs:
            self._ids.append((d.doc_id, report_years(d.title, d.source, d.context), place_line(d.title, d.source, d.context)))

    def fitting(self, name: NamedReport) -> frozenset[str] | None:
        """Doc ids of the reports that fit ``name``; None when it names nothing (every report may answer)."""
        if not name:
            return None
        return frozenset(doc_id for doc_id, years, line in self._ids if name.fits(years, line))
