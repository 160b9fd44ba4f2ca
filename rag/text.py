"""Chinese text helpers shared by the index and the answerer: tokens, figures, normalisation.

Pure functions of strings. jieba (the word segmenter) loads its dictionary on first use.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from functools import lru_cache

from .lexicon import MASKED_WITH_UNIT

TOKENIZER_NAME = "jieba-search+cjk-bigrams+pinyin-v1"

# Function words and question words: they say what is asked, not what it is about.
STOPWORDS = frozenset(
    """
    的 了 是 在 和 与 及 或 等 也 都 就 而 并 及其 以及 对 把 被 为 于 从 向 到 由 中 上 下 里 内 其 之 这 那 这些 那些
    这个 那个 哪 哪个 哪些 哪里 哪儿 哪几 几 几个 几项 几种 多少 什么 啥 怎么 怎样 如何 为什么 是否 吗 呢 吧 啊
    请问 请 一下 一共 共 总共 合计 大约 大概 约 有 有没有 没有 所 所在 该 各 每 个 位 名 次 项 方面 情况 具体 指 叫
    叫做 称为 主要 分别 其中 哪一个 一个 报告 报告中 提到 提及 文中 里面 名字 名称 第几 是谁 谁 这些 那些 今年
    镇 乡 市镇 乡镇 全镇 我镇 该镇 本镇 那个镇 这个镇
    the a an of in on at to for and or is are was were be been by with from as that this which what who whom how
    many much did does do when where why it its their there
    """.split()
)

_PUNCT_OR_SPACE = re.compile(r"^[\W_]+$", re.UNICODE)
_jieba_lock = threading.Lock()
_jieba = None


def _segmenter():
    """jieba, initialised once (its first use builds a prefix dictionary; keep it quiet)."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


def normalise(text: str) -> str:
    """Full-width letters/digits/punctuation to half-width (NFKC), lower case. Keeps `*`."""
    return unicodedata.normalize("NFKC", text).lower()


_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
_STOP_BIGRAMS = frozenset(w for w in STOPWORDS if len(w) == 2)


def cjk_bigrams(text: str) -> list[str]:
    """Overlapping character pairs of each run of Chinese characters, marked with a leading ``~``.

    Word segmentation is unstable on names and numbers-with-units (it may cut 永北圩 differently in a
    question and a report); character pairs match whatever the segmenter did, and reward contiguous
    phrases (“河长制工作”)."""
    out = []
    for run in _CJK_RUN.findall(text):
        out.extend("~" + run[i : i + 2] for i in range(len(run) - 1) if run[i : i + 2] not in _STOP_BIGRAMS)
    return out


def tokenize(text: str) -> list[str]:
    """BM25 tokens: jieba search-mode words (long words and their parts) plus CJK character bigrams;
    no punctuation or stopwords."""
    text = normalise(text)
    words = _segmenter().lcut_for_search(text)
    kept = [w for w in (w.strip() for w in words) if w and w not in STOPWORDS and not _PUNCT_OR_SPACE.match(w)]
    return kept + cjk_bigrams(text)


_QUESTION_WORD = re.compile(r"^(?:几|多少|哪|什么|怎么|如何)|^(?:何|啥)$")


def content_words(text: str) -> list[str]:
    """The words a passage must contain to answer ``text``: jieba search-mode words, no stopwords, deduplicated."""
    seen: dict[str, None] = {}
    for w in _segmenter().lcut_for_search(normalise(text)):
        w = w.strip()
        if w and w not in STOPWORDS and not _PUNCT_OR_SPACE.match(w) and not _QUESTION_WORD.match(w):
            seen[w] = None
    return list(seen)


def pinyin_tokens(text: str) -> list[str]:
    """``py:`` + the toneless pinyin of each pair of adjacent Chinese characters (永北 -> ``py:yongbei``).

    Lets a question written in English find the report by the names it spells in pinyin
    (“Yongbei dike”, “Huahai Pharmaceutical”)."""
    from pypinyin import lazy_pinyin

    out = []
    for run in _CJK_RUN.findall(text):
        syllables = lazy_pinyin(run)
        out.extend("py:" + syllables[i] + syllables[i + 1] for i in range(len(syllables) - 1))
    return out


def english_pinyin_query(text: str) -> list[str]:
    """Query-side partner of ``pinyin_tokens``: each ASCII word of an English question as ``py:word``."""
    return ["py:" + w for w in re.findall(r"[a-z]{4,}", text.lower())]


@lru_cache(maxsize=1)
def word_frequencies() -> tuple[dict[str, int], int]:
    """jieba's dictionary frequencies and their total: how common a word is in general Chinese."""
    seg = _segmenter()
    return seg.dt.FREQ, seg.dt.total


def masked_figures(text: str) -> list[str]:
    """Masked figures (`*` followed by a unit, or `*%`), e.g. ['*户', '*%'] (units: ``rag.lexicon``)."""
    return [m.group(0) for m in MASKED_WITH_UNIT.finditer(normalise(text))]


_SCALE = {"万": 10_000, "亿": 100_000_000}


def expand_scale(text: str) -> str:
    """28.01亿 -> 2801000000, 1.29万 -> 12900: the same figure written the other way."""

    def repl(m: re.Match) -> str:
        value = float(m.group(1)) * _SCALE[m.group(2)]
        return str(int(round(value))) if abs(value - round(value)) < 1e-6 else f"{value:g}"

    return re.sub(r"(\d+(?:\.\d+)?)(?:余|多)?([万亿])", repl, text)
