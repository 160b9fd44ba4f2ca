"""The one place the stages are wired: load -> split -> embed -> index -> retrieve -> answer -> cite.

``Assistant`` owns a loaded index, an embedder, a retriever and an answerer; ``ask()`` is safe to call
from several threads at once (the index is read-only; the embedder serialises its own calls; an ingest
swaps the index under a lock). The CLI, the evaluation scripts and the chat all call ``Assistant.ask``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import numbers
import re
import threading
import time
from pathlib import Path

from typing import Iterator, Sequence

from .answer import Gate, load_model, make_reader
from .conversation import follow_up
from .config import RETRIEVAL_MODES, Settings, load_settings
from .errors import EmptyQuestionError, IndexMissingError
from .filters import resolve_reports
from .index import load_index
from .ingest import IngestReport, Progress, ingest, settings_fingerprint
from .lexicon import is_english, strip_zero_width
from .query import plan_query
from .retrieve import CrossEncoderReranker, HybridRetriever
from .schema import Answer
from .text import normalise

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_question(question) -> str:
    """The question as text the models can encode: lone surrogates (from a broken paste or a bad client)
    and zero-width characters removed, whitespace stripped."""
    return strip_zero_width(_SURROGATE.sub("", str(question))).strip()


def check_options(top_k, mode, extra_hits: int = 0) -> None:
    """Raise ValueError for a per-question option the retriever would otherwise misread."""
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral) or top_k <= 0):
        raise ValueError(f"top_k must be a positive integer, got {top_k!r}")
    if mode is not None and mode not in RETRIEVAL_MODES:
        raise ValueError(f"mode must be 'dense', 'bm25' or 'hybrid', got {mode!r}")
    if isinstance(extra_hits, bool) or not isinstance(extra_hits, numbers.Integral) or extra_hits < 0:
        raise ValueError(f"extra_hits must be an integer >= 0, got {extra_hits!r}")


class Assistant:
    """Question answering over one index folder."""

    def __init__(self, index_dir: str | Path, settings: Settings | None = None, embedder=None):
        self.settings = settings or load_settings()
        self.index_dir = Path(index_dir)
        if embedder is None:
            from embeddings import make_embedder

            embedder = make_embedder(self.settings.embedding)
        self.embedder = embedder
        self._lock = threading.RLock()
        self._reranker = CrossEncoderReranker(self.settings.reranker) if self.settings.reranker.enabled else None
        self.store = self._open_store()
        self._build_parts()

    def _open_store(self):
        """The index read through the storage protocol: the folder's live version, or the Milvus store."""
        if self.settings.store.backend == "milvus":
            from .ingest_milvus import open_milvus_store

            return open_milvus_store(self.settings, self.index_dir, self.embedder)
        return load_index(self.index_dir, settings_fingerprint(self.settings, self.embedder), roll_back=self.settings.corpus.auto_rollback)

    def _build_parts(self) -> None:
        self.retriever = HybridRetriever(self.store, self.embedder, self.settings.retrieval, self._reranker)
        docs = self.store.doc_by_id
        if getattr(self, "_reader_model", None) is None:
            self._reader_model = load_model(self.settings.answer.model_file)
            self.reader = make_reader(self.settings.answer.mode, self._llm)
        self.gate = Gate(
            self._reader_model,
            self.store.idf,
            lambda doc_id: docs[doc_id].context if doc_id in docs else "",
            self.settings.answer.max_reports,
            text_of=self._report_text,
            doc_freq=self.store.doc_freq,
            following=self._following,
            verifier=self._verifier,
        )

    @functools.cached_property
    def _verifier(self):
        """The language model that reads doubtful best spans before the gate decides (``answer.verifier``), built
        once; None when off. "llm": the [llm] model; without weights fitted for it in the reader model it would
        judge on an unknown scale, so the gate then decides alone and the log says so. "auto": the local model
        if it is installed (``verify.installed_verifier``), else None. "none": None."""
        mode = self.settings.answer.verifier
        if mode == "none":
            return None
        from .answer import verify

        fitted = self._reader_model.verifier
        if mode == "auto":
            found = verify.installed_verifier(self.settings.llm, fitted.identity if fitted else None)
            log.info("answer.verifier = 'auto': %s", f"{found.identity} reads doubtful questions" if found else "no local model installed; the gate decides alone")
            return found
        model = verify.make_verifier(self.settings.llm)
        if fitted is None or fitted.identity != model.identity:
            log.warning(
                "answer.verifier = 'llm', but %s holds no weights for %s (fitted for: %s); the gate decides alone. "
                "Fit them with scripts/fit_verifier.py",
                self.settings.answer.model_file, model.identity, fitted.identity if fitted else "none",
            )
        return model

    @functools.cached_property
    def _translator(self):
        """The language model that also translates English questions (``retrieval.translator``), built once; None
        when off. "auto": the local model if it is installed (``translate.installed_translator``); "llm": the
        [llm] model; "none": the dictionary translates alone."""
        mode = self.settings.retrieval.translator
        if mode == "none":
            return None
        from . import translate

        if mode == "auto":
            found = translate.installed_translator(self.settings.llm)
            log.info("retrieval.translator = 'auto': %s", f"{found.identity} translates English questions" if found else "no local model installed; the dictionary translates alone")
            return found
        return translate.make_translator(self.settings.llm)

    @functools.cached_property
    def _translation_memory(self):
        """The translations already made for this library's questions (``rag.translation_memory``)."""
        from .translation_memory import TranslationMemory

        return TranslationMemory.beside(self.index_dir)

    def _following(self, chunk, limit: int = 8) -> list:
        """Up to ``limit`` passages after ``chunk`` in its report, in order (the gate's ``following``)."""
        passages = self.store.passages
        out: list = []
        found = False
        for i in passages.passages_of(chunk.doc_id):
            c = passages.chunk(i)
            if found:
                out.append(c)
                if len(out) == limit:
                    break
            found = found or c.chunk_id == chunk.chunk_id
        return out

    def _report_text(self, doc_id: str) -> str:
        """A report's title, names line and full text, normalised; kept per index version (the gate's
        ``text_of``)."""
        cache = self.__dict__.setdefault("_report_texts", {})
        store = self.store
        key = (str(store.path), doc_id)
        if key not in cache:
            if len(cache) > 4 * len(store.docs) + 64:  # older versions' entries
                cache.clear()
            doc = store.doc_by_id.get(doc_id)
            cache[key] = normalise(f"{doc.title}\n{doc.context}\n{doc.text}") if doc is not None else ""
        return cache[key]

    @classmethod
    def from_dir(
        cls,
        reports_dir: str | Path,
        index_dir: str | Path | None = None,
        settings: Settings | None = None,
        embedder=None,
        progress: Progress | None = None,
    ) -> "Assistant":
        """Build or update the index of ``reports_dir`` (only new reports are embedded), then load it."""
        settings = settings or load_settings()
        if embedder is None:
            from embeddings import make_embedder

            embedder = make_embedder(settings.embedding)
        index_dir = Path(index_dir) if index_dir is not None else Path(reports_dir) / ".rag_index"
        report = ingest(reports_dir, index_dir, settings, embedder, progress=progress)
        assistant = cls(index_dir, settings, embedder)
        assistant.last_ingest = report
        return assistant

    def ingest(self, reports_dir: str | Path, rebuild: bool = False, progress: Progress | None = None) -> IngestReport:
        """Update this assistant's index from a folder and switch to the new version."""
        report = ingest(reports_dir, self.index_dir, self.settings, self.embedder, rebuild=rebuild, progress=progress)
        store = self._open_store()
        with self._lock:
            self.store = store
            self._build_parts()
        return report

    def _llm(self):
        """The LLM answerer, built on first use (answer.mode = "llm")."""
        with self._lock:
            if getattr(self, "_llm_answerer", None) is None:
                from .llm_answer import LLMAnswerer
                from .llm_models import make_chat_model

                self._llm_answerer = LLMAnswerer(make_chat_model(self.settings.llm), self.settings.llm.passages)
            return self._llm_answerer

    def _similarity(self, question: str, query_vector=None):
        """A function scoring sentences against the question with the embedding model (the question is
        embedded once: by retrieval when it ran dense, else here on first use, capped like retrieval's)."""
        cached = [query_vector]

        def score(texts: list[str]) -> list[float]:
            if not texts:
                return []
            if cached[0] is None:
                cached[0] = self.embedder.encode_queries([question[: self.settings.retrieval.max_query_chars]])[0]
            vecs = self.embedder.encode_passages(texts)
            return [float(x) for x in vecs @ cached[0]]

        return score

    def warm(self) -> None:
        """Load the language models the assistant uses beside the reader (verifier, translator) and evaluate
        their prompts' fixed heads, so that the first question after start does not wait for them. For a
        background thread at server start; a model that fails here is left for the questions to find (each
        then answers without it)."""
        verifier = self.gate.verifier if self.gate.verifier_weights is not None else None  # one never asked: left
        for helper in (verifier, self._translator):
            warm = getattr(helper, "warm", None)
            if warm is None:
                continue
            try:
                warm()
            except Exception as exc:  # a broken model costs its own use, noted on each answer: not the start
                log.warning("could not warm %s: %s", getattr(helper, "identity", helper), exc)

    def ask(
        self,
        question: str,
        top_k: int | None = None,
        mode: str | None = None,
        extra_hits: int = 0,
        history: Sequence[Answer] = (),
        reports: Sequence[str] | None = None,
    ) -> Answer:
        """Answer one question with cited quotes. Raises EmptyQuestionError for an empty question.

        ``top_k`` / ``mode`` override retrieval for this question. ``extra_hits`` retrieves that many more
        passages for the caller to inspect (``Answer.hits``) without changing what the answer is built from
        (the evaluation uses it to score hit@10). ``history``: the conversation's earlier answers, oldest
        first; a follow-up (“那2023年呢？”) is rewritten into a standalone question and keeps the report
        under discussion unless it names another (see ``rag.conversation``). A bad ``top_k`` (not a positive
        integer) or ``mode`` (not dense/bm25/hybrid) raises ValueError; lone surrogates and zero-width
        characters are removed from the question. ``reports``: report file names (as ``rag info`` lists them)
        or doc ids; passages are retrieved from those reports only (None: all). A name the index does not
        hold, or an empty list, raises UnknownReportError (a ValueError)."""
        *_, answer = self.ask_stream(question, top_k, mode, extra_hits, history, reports)
        return answer

    def ask_stream(
        self,
        question: str,
        top_k: int | None = None,
        mode: str | None = None,
        extra_hits: int = 0,
        history: Sequence[Answer] = (),
        reports: Sequence[str] | None = None,
    ) -> Iterator[str | Answer]:
        """Like ``ask``, as a stream: with ``answer.mode = "llm"`` the model's text pieces as it writes them,
        then always the final, checked ``Answer`` (which replaces the streamed text when the checks change it)."""
        check_options(top_k, mode, extra_hits)
        question = "" if question is None else clean_question(question)
        if not question:
            raise EmptyQuestionError("the question is empty")
        question = question[:MAX_QUESTION_CHARS]
        with self._lock:
            retriever, gate = self.retriever, self.gate
        # resolved against the index this question reads (an ingest may swap it meanwhile)
        allowed = resolve_reports(retriever.store.docs, reports)
        k = top_k or self.settings.retrieval.top_k
        started = time.perf_counter()
        asked = question
        turn = follow_up(question, list(history))
        if turn.prefer_doc is not None and turn.rule != "ellipsis" and gate.names_what_report_lacks(plan_query(turn.standalone), turn.prefer_doc):
            # a new question about a place or company the report under discussion never mentions is not about it
            turn = dataclasses.replace(turn, prefer_doc=None, rule="none")
        question = turn.standalone
        if self.settings.answer.mode == "llm" and history:
            # with a language model, the follow-up is condensed by the model; the carried report stays
            question = self._llm().condense(asked, list(history)) or question
        notes: list[str] = []
        t = time.perf_counter()
        translation = self._translation(question, notes)
        translate_s = time.perf_counter() - t
        result = retriever.search(question, top_k=k + max(0, extra_hits), mode=mode, prefer_doc=turn.prefer_doc,
                                  allowed_docs=allowed, translation=translation)
        query = plan_query(question, translation)
        used = result.hits if len(result.hits) <= k or query.kind == "which_reports" else result.hits[:k]
        t = time.perf_counter()
        # the gate decides the status before any reader writes: one place, whatever the reader
        plan = gate.plan(query, used, self._similarity(question, result.query_vector), result.doc_scores, result.named_doc)
        timings_gate = time.perf_counter() - t
        stream = getattr(self.reader, "stream", None)
        if stream is None:
            answer = self.reader.read(plan, used)
        else:
            for piece in stream(plan, used):
                if isinstance(piece, Answer):
                    answer = piece
                else:
                    yield piece
        timings = dict(result.timings)
        timings["translate"] = translate_s
        timings["gate"] = timings_gate
        timings["answer"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - started
        yield dataclasses.replace(
            answer,
            hits=list(result.hits),
            timings={**answer.timings, **timings},
            question=asked,
            standalone_question=question,
            notes=notes + list(answer.notes),
            confidence=plan.decision.probability if plan.decision.best is not None else 0.0,
            carried_report=self._carried_title(turn.prefer_doc, query),
        )

    def _translation(self, question: str, notes: list[str]) -> str:
        """An English question in Chinese by the translator (``rag.translate``); "" for a Chinese question or
        without one (what happened is added to ``notes``)."""
        if self._translator is None or not is_english(question):
            return ""
        from .translate import translation

        out = translation(self._translator, question, notes, self._translation_memory)
        if out:
            notes.append(f"translation: {out}")
        return out

    def _carried_title(self, doc_id: str | None, query) -> str:
        """The title of the report a follow-up was kept on (retrieval keeps it unless a locator names one)."""
        doc = self.store.doc_by_id.get(doc_id) if doc_id else None
        return doc.title if doc is not None and not query.locator else ""


_default: Assistant | None = None
_default_lock = threading.Lock()


def default_assistant() -> Assistant:
    """The assistant over the bundled reports (config.toml's corpus), building its index on first use."""
    global _default
    with _default_lock:
        if _default is None:
            settings = load_settings()
            try:
                _default = Assistant(settings.corpus.index_dir, settings)
            except IndexMissingError:
                _default = Assistant.from_dir(settings.corpus.reports_dir, settings.corpus.index_dir, settings)
        return _default


def ask(question: str, top_k: int | None = None, mode: str | None = None, history: Sequence[Answer] = ()) -> Answer:
    """Answer a question over the bundled reports (see ``default_assistant``)."""
    return default_assistant().ask(question, top_k=top_k, mode=mode, history=history)
