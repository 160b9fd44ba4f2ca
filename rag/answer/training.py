"""What fitting and calibration need: each question of a labelled set run through retrieval and the gate's
span scoring, with its spans labelled against the gold answers. Used by ``scripts/fit_reader.py`` and the
evaluation's calibration figures; never at answer time.

In: an ``Assistant`` (a loaded index), labelled questions (``rag.evaluate.EvalQuestion``).
Out: ``Example``s — the focus, every candidate span's features and label, the report share gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..query import plan_query
from ..text import normalise
from .features import SpanFacts
from .focus import Focus
from .gate import share_gap

ANSWERABLE = ("number", "fact", "list", "span", "redacted")
SHORTEST_SLACK = 2.5  # a span labelled right is at most this many times the shortest right span (+40 chars)


def _norm(text: str) -> str:
    return normalise(text).replace(" ", "").replace("\u3000", "")


@dataclass
class Example:
    qid: str
    kind: str
    lang: str
    focus: Focus
    facts: list[SpanFacts]
    labels: list[int]
    gap: float
    answerable: bool
    tags: tuple[str, ...] = field(default_factory=tuple)
    corpus: str = ""
    group: str = ""  # the report it is about (``EvalQuestion.group``): cross-validation folds keep reports whole


def label_spans(facts: list[SpanFacts], kind: str, answers: list[str], evidence: list[str]) -> list[int]:
    """1 for spans that answer: they hold every gold string (a masked-figure question: its evidence), and are
    not much longer than the shortest span that does."""
    if kind == "redacted":
        gold = [_norm(e) for e in evidence if e]

        def right(text: str) -> bool:
            return any(g in text or (len(text) >= 0.5 * len(g) and text in g) for g in gold)
    elif kind in ANSWERABLE and answers:
        gold = [_norm(a) for a in answers]

        def right(text: str) -> bool:
            return all(g in text for g in gold)
    else:
        return [0] * len(facts)
    ok = [right(_norm(f.span.text)) for f in facts]
    lengths = [len(f.span.text) for f, good in zip(facts, ok) if good]
    if not lengths:
        return [0] * len(facts)
    limit = SHORTEST_SLACK * min(lengths) + 40
    return [int(good and len(f.span.text) <= limit) for f, good in zip(facts, ok)]


def run_example(assistant, q, similarity_cache: dict | None = None) -> Example:
    """Retrieve and plan exactly as ``ask`` does; the gate's ranked spans are the examples."""
    k = assistant.settings.retrieval.top_k
    translation = assistant._translation(q.question, [])
    result = assistant.retriever.search(q.question, top_k=k, translation=translation)
    query = plan_query(q.question, translation)
    hits = result.hits if query.kind == "which_reports" else result.hits[:k]
    base = assistant._similarity(q.question, result.query_vector)
    cache = similarity_cache if similarity_cache is not None else {}

    def similarity(texts: list[str]) -> list[float]:
        missing = [t for t in texts if (q.question, t) not in cache]
        for t, s in zip(missing, base(missing) if missing else []):
            cache[(q.question, t)] = s
        return [cache[(q.question, t)] for t in texts]

    plan = assistant.gate.plan(query, hits, similarity, result.doc_scores, result.named_doc)
    facts = plan.decision.ranked
    labels = label_spans(facts, q.kind, q.answers, q.evidence)
    return Example(q.id, q.kind, q.lang, plan.focus, facts, labels, share_gap(result.doc_scores), q.kind in ANSWERABLE, q.tags, q.corpus, q.group)
