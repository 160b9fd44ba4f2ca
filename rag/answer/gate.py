"""The answerability gate: decides the status of an answer before any reader writes it.

In: a ``QueryPlan``, the ranked ``Hit``s, a sentence-similarity function (the embedding model), the report
shares from retrieval. Out: an ``AnswerPlan`` — the question's ``Focus`` and a ``Decision``: ``answered`` /
``redacted`` / ``not_found``, the scored candidate spans (best first) and the gate's probability.

1. Every candidate span (``candidates.py``) gets its features (``features.py``) and a score from the fitted
   span model; the embedding model re-scores only the best few (it is the slow part).
2. The gate model turns the best span's evidence — how much of the focus it covers, its period, whether it
   carries the kind of answer asked for — into a probability that the question is answered there; below the
   calibrated threshold the answer is ``not_found``. A match on the words that name the report is never
   evidence by itself (``Focus.split_terms``).
3. With a verifier (``verify.py``: a language model reading the best span against the question) and weights
   fitted for it, the gate's probability and the model's judgement combine into the decision; the model is
   asked only about doubtful questions (gate probability within the fitted band around the threshold) and
   only when its judgement can change the outcome; elsewhere, or when it fails, the gate decides alone.
4. Answered questions asking for a figure are ``redacted`` when the figure that answers the focus — the one
   after the asked-about words, wherever it sits in the sentence — is printed as ``*``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from .. import lexicon
from ..query import QueryPlan
from ..schema import AnswerStatus, Chunk, Hit
from ..text import cjk_bigrams, normalise
from .candidates import candidate_spans, item_heads, with_its_sentence
from .features import SpanFacts, gate_features, names_absent, span_features
from .focus import Focus, make_focus
from .model import ReaderModel, VerifierWeights
from ..local_model import crowded
from .verify import Verifier, VerifierError

# Embedding a span costs about 60 ms on 2 cores: Chinese questions use the passage's own dense score (free,
# from retrieval); questions in another language, matched through a dictionary, also embed the best spans.
DENSE_POOL = 0
DENSE_POOL_NO_TERMS = 16
HEADS_HITS = 3  # a list question gathers item heads after the lists its best passages name

Similarity = Callable[[list[str]], list[float]]


@dataclass(frozen=True)
class Decision:
    status: AnswerStatus
    best: SpanFacts | None
    ranked: list[SpanFacts] = field(default_factory=list)
    probability: float = 0.0
    notes: list[str] = field(default_factory=list)
    reports: list[SpanFacts] = field(default_factory=list)  # which-reports questions: one accepted span per report


@dataclass(frozen=True)
class AnswerPlan:
    """What a reader is given: the question, its focus and the gate's decision."""

    query: QueryPlan
    focus: Focus
    decision: Decision

    @property
    def question(self) -> str:
        return self.query.question


def share_gap(doc_scores: Mapping[str, float]) -> float:
    ranked = sorted(doc_scores.values(), reverse=True) + [0.0, 0.0]
    return ranked[0] - ranked[1]


def asked_figure_is_masked(span_text: str, focus: Focus, asked: Mapping[str, float]) -> bool:
    """Is the figure that answers the focus printed as ``*``?

    The answering figure is the first figure (or mask) with a fitting unit after the last asked-about word
    of its sentence; without such a word before it, the nearest one to an asked-about word; with no asked
    word at all, the span's first fitting figure."""
    text = normalise(span_text)
    figures = [(a, b, u, False) for a, b, u in lexicon.answer_figures(text, focus.units)] + [
        (a, b, u, True) for a, b, u in lexicon.answer_figures(text, focus.units, masked=True)
    ]
    figures = [f for f in figures if f[2] and lexicon.unit_fits(f[2], focus.units)]
    if not figures:
        return False
    figures.sort()
    ends = sorted(i + len(t) for t in asked for i in _find_all(text, t))
    if not ends:
        return figures[0][3]

    def distance(fig: tuple[int, int, str, bool]) -> tuple[int, int]:
        before = [e for e in ends if e <= fig[0]]
        if before:
            gap = text[before[-1] : fig[0]]
            crosses = sum(ch in lexicon.SENTENCE_END for ch in gap)
            return (crosses, fig[0] - before[-1])
        return (9, min(abs(e - fig[0]) for e in ends))

    return min(figures, key=distance)[3]


def _find_all(text: str, word: str) -> list[int]:
    out, i = [], text.find(word)
    while i >= 0 and word:
        out.append(i)
        i = text.find(word, i + 1)
    return out


class Gate:
    """Scores candidate spans and decides the status. Thread-safe (holds no per-question state)."""

    def __init__(
        self,
        model: ReaderModel,
        idf: Callable[[str], float],
        context_of: Callable[[str], str],
        max_reports: int = 8,
        text_of: Callable[[str], str] | None = None,
        doc_freq: Callable[[str], int] | None = None,
        following: Callable[[Chunk], list[Chunk]] | None = None,
        verifier: Verifier | None = None,
    ):
        """``context_of``: a report's names line, by doc id; ``text_of``: its title, names line and full text,
        normalised (``text.normalise``); ``doc_freq``: passages holding a keyword-index token; ``following``:
        the passages after a passage in its report, in order (a list's items run into them); ``verifier``: a
        language model that reads the best span against the question, used when ``model`` holds weights fitted
        for it (``verifier_weights``)."""
        self.model = model
        self.idf = idf
        self.context_of = context_of
        self.text_of = text_of
        self.doc_freq = doc_freq
        self.max_reports = max_reports
        self.following = following
        self.verifier = verifier

    @property
    def verifier_weights(self) -> VerifierWeights | None:
        """The weights combining the gate with this gate's verifier: None without a verifier, or when the model
        file holds none fitted for the verifier's model (another model's judgements are on another scale)."""
        weights = self.model.verifier
        if self.verifier is None or weights is None or weights.identity != self.verifier.identity:
            return None
        return weights

    def score_spans(self, focus: Focus, hits: list[Hit], similarity: Similarity | None, pool: int | None = None) -> list[SpanFacts]:
        """Every candidate span with its features and score, best first. ``pool``: how many of the best are
        re-scored with the embedding model (None: the default for this focus; 0: none; -1: all)."""
        if not hits:
            return []
        top = max(h.score for h in hits)
        names = {h.chunk.doc_id: normalise(self.context_of(h.chunk.doc_id)) for h in hits}
        heads = []
        if focus.answer_type == "list":
            for h in hits[:HEADS_HITS]:
                heads += item_heads(h, self.following(h.chunk) if self.following else [], focus.list_count)
        facts = [span_features(focus, s, names[s.hit.chunk.doc_id], top) for s in candidate_spans(hits, heads)]
        self._score(facts)
        facts.sort(key=lambda f: -f.score)
        if pool is None:
            pool = DENSE_POOL_NO_TERMS if focus.english or not focus.terms else DENSE_POOL
        head = facts if pool < 0 else facts[:pool]
        if similarity is not None and head:
            sims = similarity([f.span.text for f in head])
            closest = max(sims, default=None)
            for f, sim in zip(head, sims):
                f.features["dense"] = sim
                # the embedding model's similarities crowd into a narrow band (0.78–0.86) whatever the span:
                # which span it puts first says more than by how much
                f.features["dense_top"] = float(sim == closest)
                f.features["english_dense"] = sim if focus.english else 0.0
            floor = min(sims) if sims else 0.0
            for f in facts[len(head):]:
                # not re-scored: assume no closer than the least similar span that was
                f.features["dense"] = floor
                f.features["english_dense"] = floor if focus.english else 0.0
            self._score(facts)
            facts.sort(key=lambda f: -f.score)
        return facts

    def _score(self, facts: list[SpanFacts]) -> None:
        for f, score in zip(facts, self.model.span.logits([f.features for f in facts])):
            f.score = score

    def plan(
        self,
        query: QueryPlan,
        hits: list[Hit],
        similarity: Similarity | None = None,
        doc_scores: Mapping[str, float] | None = None,
        named: str | None = None,
    ) -> AnswerPlan:
        """``doc_scores``: each report's keyword share from retrieval; ``named``: the report the question
        clearly names (retrieval's ``named_doc``), whose passages alone may answer it."""
        doc_scores = doc_scores or {}
        if named is not None and query.kind != "which_reports":
            # the question names one report: a figure from another would be a wrong answer, not a partial one
            hits = [h for h in hits if h.chunk.doc_id == named] or hits
        focus = make_focus(query, self.idf, "\n".join(h.chunk.text for h in hits) if query.english else "")
        return AnswerPlan(query, focus, self.decide(focus, hits, similarity, share_gap(doc_scores)))

    def names_what_report_lacks(self, query: QueryPlan, doc_id: str) -> bool:
        """Does the question name a place or organisation that report never mentions? Then the question is
        not about that report, whatever the conversation was about."""
        if self.text_of is None:
            return False
        return names_absent(make_focus(query, self.idf), self.text_of(doc_id)) > 0

    def probability(self, focus: Focus, best: SpanFacts, ranked: list[SpanFacts], gap: float) -> float:
        return self.model.gate.probability(gate_features(focus, best, ranked, best.score, gap))

    def places_no_report_names(self, focus: Focus) -> list[str]:
        """The places the question names (in its report-naming phrase, or a name with a place tail: 镇, 县, 市,
        省, 村…) that no passage of the library mentions: the two characters before the tail (the distinctive
        end of the name, 辽市 of 辽市镇; a phrase's run may start early, 年深圳市) never occur side by side.
        On the train split this caught 4 of 93 unanswerable questions and refused none of 351 answerable ones
        (scripts/fit_reader.py's sets); it is what tells a deleted or never-added town apart."""
        if self.doc_freq is None:
            return []
        places = lexicon.places_in(focus.locator) + [t for t in focus.terms if t in focus.entities and lexicon.NAME_TAIL.search(t)]
        absent = []
        for place in dict.fromkeys(places):
            core = lexicon.name_core(place)
            pair = cjk_bigrams(core[-2:])
            if pair and self.doc_freq(pair[0]) == 0:
                absent.append(place)
        return absent

    def decide(self, focus: Focus, hits: list[Hit], similarity: Similarity | None, gap: float = 0.0) -> Decision:
        no_terms = not focus.terms and not focus.english
        if not hits or no_terms:
            # nothing to look for (“？？？”, “请问”): no passage can be said to answer it
            return Decision("not_found", None, notes=["no content words" if no_terms else "no passages"])
        unknown = self.places_no_report_names(focus)
        if unknown:
            # a passage about another place, however close its words, does not answer for this one
            return Decision("not_found", None, notes=[f"no report names {'、'.join(unknown)}"])
        ranked = self.score_spans(focus, hits, similarity)
        if not ranked:
            return Decision("not_found", None, notes=["no candidate spans"])
        if focus.answer_type == "which_reports":
            return self._which_reports(focus, ranked, gap)
        best = ranked[0]
        p = self.probability(focus, best, ranked, gap)
        notes = [f"gate={p:.2f}", f"threshold={self.model.threshold:.2f}", f"span={best.score:.2f}"]
        answered, p = self._verified(focus, best, p, notes)
        if not answered:
            return Decision("not_found", best, ranked, p, notes)
        if focus.answer_type == "number" and asked_figure_is_masked(best.span.text, focus, best.asked):
            return Decision("redacted", best, ranked, p, notes)
        return Decision("answered", best, ranked, p, notes)

    def _verified(self, focus: Focus, best: SpanFacts, p: float, notes: list[str]) -> tuple[bool, float]:
        """(answered, probability): the gate's own decision, or, with a verifier, the combined one — asking the
        verifier only when its judgement can change the outcome. A verifier that fails leaves the gate's."""
        weights = self.verifier_weights
        if weights is None:
            return p >= self.model.threshold, p
        settled = weights.settled(p)
        if settled is not None:
            notes.append("verifier not needed")
            return settled, p
        if crowded():
            notes.append("verifier skipped: questions are waiting")
            return p >= self.model.threshold, p
        try:
            judgement = self.verifier.judge(focus.read_question, with_its_sentence(best.span))
        except VerifierError as exc:
            notes.append(f"verifier failed: {exc}")
            return p >= self.model.threshold, p
        combined = weights.probability(p, judgement)
        notes.append(f"verifier={judgement:.2f} combined={combined:.2f}/{weights.threshold:.2f}")
        return combined >= weights.threshold, combined

    def _which_reports(self, focus: Focus, ranked: list[SpanFacts], gap: float) -> Decision:
        """“哪些报告提到…”: the gate decides on the best span holding the thing itself (the quoted term, else the
        rarest word asked about); if it passes, every report with a span that holds it counts."""
        must = focus.quoted or ((focus.key_term,) if focus.key_term else ())
        by_doc: dict[str, SpanFacts] = {}
        for f in ranked:
            doc = f.span.hit.chunk.doc_id
            if doc not in by_doc and all(m in normalise(f.span.text) for m in must):
                by_doc[doc] = f
        picked = list(by_doc.values())[: self.max_reports]
        if not picked:
            return Decision("not_found", ranked[0], ranked, 0.0, ["no report holds the asked term"])
        p = self.probability(focus, picked[0], ranked, gap)
        if p < self.model.threshold:
            return Decision("not_found", picked[0], ranked, p, [f"gate={p:.2f}", "which reports: the best span does not pass"])
        return Decision("answered", picked[0], ranked, p, [f"gate={p:.2f}", f"reports={len(picked)}"], picked)
