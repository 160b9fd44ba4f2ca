"""Hybrid retrieval: dense (FAISS inner product) + BM25 over jieba tokens, fused, with a report-level prior.

In: a question, an ``IndexStore``, an embedder, ``RetrievalSettings``. Out: ranked ``Hit``s.

Fusion is weighted reciprocal-rank fusion of the chunk rankings. Questions often name their report
indirectly (“永北圩所在的镇…”); a BM25 ranking of whole reports catches that, and its score, scaled to
[0, 1] against the best report, multiplies each chunk's fused score by ``1 + doc_weight * share``.
An optional cross-encoder (config ``[reranker]``) re-scores the fused top candidates.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .config import RerankerSettings, RetrievalSettings
from .index import NO_FILTER, IndexStore, SearchFilter
from .index.fusion import fuse
from .schema import Hit
from .query import plan_query
from .report_identity import ReportIdentities, named_report
from .text import english_pinyin_query, tokenize

LOCATOR_TOKEN_WEIGHT = 0.3
WHICH_REPORTS_TOP_K = 40  # "which reports mention X" needs passages from every report, not the best five

if TYPE_CHECKING:
    import numpy as np


@dataclass
class SearchResult:
    hits: list[Hit]
    timings: dict[str, float] = field(default_factory=dict)
    doc_scores: dict[str, float] = field(default_factory=dict)  # doc_id -> share of the best report's score
    query_vector: "np.ndarray | None" = None  # the embedded question (dense modes), reused to score sentences
    named_doc: str | None = None  # the report the question (or its conversation) clearly names, if any


NAMED_SHARE_RATIO = 0.5  # a question names a report when the runner-up's keyword share is at most this of the best


def _named_row(shares: "np.ndarray") -> int | None:
    """The row of the report that clearly stands out in ``shares`` (None: none does)."""
    if shares.size == 0 or float(shares.max()) <= 0:
        return None
    order = shares.argsort()[::-1]
    second = float(shares[order[1]]) if shares.size > 1 else 0.0
    return int(order[0]) if second <= NAMED_SHARE_RATIO * float(shares[order[0]]) else None


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder, loaded on first use (off by default: no weights offline)."""

    def __init__(self, settings: RerankerSettings):
        self.settings = settings
        self._model = None
        self._lock = threading.Lock()

    def rerank(self, question: str, hits: list[Hit]) -> list[Hit]:
        from .errors import EmbeddingError

        with self._lock:
            if self._model is None:
                try:
                    from sentence_transformers import CrossEncoder

                    self._model = CrossEncoder(self.settings.model, device="cpu")
                except Exception as exc:  # many library error types; surface one clear message
                    raise EmbeddingError(f"cannot load reranker {self.settings.model!r}: {exc}") from exc
            head = hits[: self.settings.top_n]
            scores = self._model.predict([(question, h.chunk.text) for h in head], show_progress_bar=False)
        order = sorted(range(len(head)), key=lambda i: -float(scores[i]))
        reranked = [head[i] for i in order] + hits[len(head):]
        return [
            Hit(h.chunk, float(scores[order[i]]) if i < len(head) else h.score, i + 1, h.dense_score, h.bm25_score)
            for i, h in enumerate(reranked)
        ]


class HybridRetriever:
    """Searches one loaded index. Thread-safe: the index is read-only, the embedder locks itself."""

    def __init__(self, store: IndexStore, embedder, settings: RetrievalSettings, reranker: CrossEncoderReranker | None = None):
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.reranker = reranker
        self._identities: ReportIdentities | None = None

    def reports_named(self, question: str) -> frozenset[str] | None:
        """The reports that fit the report ``question`` names by year or place (“2026年江西省政府工作报告”);
        None when it names none. Empty when the library holds no such report."""
        name = named_report(question)
        if not name:
            return None
        if self._identities is None:  # once per index version: the retriever is rebuilt with the store
            self._identities = ReportIdentities(self.store.docs)
        return self._identities.fitting(name)

    def doc_shares(self, query_tokens: list[str], filters: SearchFilter = NO_FILTER) -> "np.ndarray":
        """Each report's BM25 score for the question as a share of the best report's (0..1), in report order;
        reports the filter excludes score 0 and the best allowed one is the 1."""
        import numpy as np

        reports = self.store.report_sparse
        shares = np.zeros(reports.size(), dtype=np.float32)
        if not query_tokens:
            return shares
        found = reports.search([(t, 1.0) for t in query_tokens], reports.size(), filters)
        if len(found):
            shares[found.ids] = found.scores / found.scores[0]
        return shares

    def search(self, question: str, top_k: int | None = None, mode: str | None = None, prefer_doc: str | None = None,
               allowed_docs: frozenset[str] | None = None, translation: str = "") -> SearchResult:
        """Rank passages for ``question``. ``prefer_doc`` (a report id carried over from the conversation) is
        the report prior when the question names no report of its own (no locator or place name).
        ``allowed_docs``: doc ids the passages must come from (None: every report); applied inside the dense
        and keyword searches, not to their results (see ``rag.filters``). ``translation``: an English question in
        Chinese (``rag.translate``), searched for beside its dictionary translations."""
        import numpy as np

        settings = self.settings
        top_k = top_k or settings.top_k
        plan = plan_query(question, translation)
        if plan.kind == "which_reports":
            top_k = max(top_k, WHICH_REPORTS_TOP_K)
        mode = mode or settings.mode
        store = self.store
        timings: dict[str, float] = {}
        named = self.reports_named(question)
        if named:
            # the question names its report (“国务院1997年政府工作报告…”): search the reports that fit that name only;
            # when none fits, search all and let the gate see that no passage is of the report named
            narrowed = named if allowed_docs is None else named & allowed_docs
            allowed_docs = narrowed or allowed_docs
        filters = SearchFilter(allowed_docs)
        rows_ok = store.passages.allowed(filters)
        n_ok = store.passages.passage_count() if rows_ok is None else int(rows_ok.sum())
        if n_ok == 0:
            return SearchResult([], timings)

        dense = sparse = query_vec = None
        limit = min(settings.candidates, n_ok)
        if mode in ("dense", "hybrid"):
            t = time.perf_counter()
            # the model's cost grows with the text (a 2,000-character question took ~21 s): embed its head only
            dense_text = plan.content if settings.dense_on_content else question
            texts = [dense_text[: settings.max_query_chars]]
            if plan.translation:
                texts.append(plan.translation[: settings.max_query_chars])
            query_vec = self.embedder.encode_queries(texts)
            if len(texts) > 1:
                # an English question and its model translation, one query: the direction between the two
                # (train split, English questions: evidence in the top 5 0.89 -> 0.93 over keyword search alone)
                mean = query_vec.mean(axis=0, keepdims=True)
                query_vec = mean / max(float(np.linalg.norm(mean)), 1e-12)
            timings["embed_query"] = time.perf_counter() - t
            t = time.perf_counter()
            if query_vec.shape[1] != store.dim:
                from .errors import IndexMismatchError

                raise IndexMismatchError(f"the query vector has dim {query_vec.shape[1]}, the index has {store.dim}")
            dense = store.dense.search(query_vec[0], limit, filters)
            timings["dense"] = time.perf_counter() - t
        t = time.perf_counter()
        translated: list[str] = []
        if plan.english and settings.english_translations > 0:
            from .crosslingual import query_translations

            # dictionary query translation: English words cannot match a Chinese report; their translations can
            translated = [t for zh in query_translations(question, store.doc_freq, settings.english_translations) for t in tokenize(zh)]
        if plan.translation:
            # a model's translation says the question in the reports' phrases: searched beside the dictionary's words
            translated += tokenize(plan.translation)
        tokens = tokenize(question) + translated
        doc_tokens = tokens + (english_pinyin_query(question) if plan.english else [])
        if mode in ("bm25", "hybrid"):
            content_tokens = tokenize(plan.content) + translated
            in_content = set(content_tokens)
            # the locator picks the report; inside it, the passage is ranked on the rest of the question
            query = [(tok, 1.0) for tok in content_tokens] + [(tok, LOCATOR_TOKEN_WEIGHT) for tok in tokens if tok not in in_content]
            sparse = store.sparse.search(query, limit, filters)
        shares = self.doc_shares(doc_tokens, filters)
        if plan.locator:
            # “永北圩所在镇…”: the locator alone says which report; the rest may be rarer elsewhere
            locator_shares = self.doc_shares(tokenize(plan.locator) + (english_pinyin_query(plan.locator) if plan.english else []), filters)
            if locator_shares.any():
                shares = locator_shares
        doc_row = store.passages.doc_row
        if prefer_doc is not None and prefer_doc in doc_row and not plan.locator and (allowed_docs is None or prefer_doc in allowed_docs):
            # a follow-up that names no report of its own stays with the report under discussion
            shares = np.zeros(len(store.docs), dtype=np.float32)
            shares[doc_row[prefer_doc]] = 1.0
        doc_scores = {store.docs[i].doc_id: float(s) for i, s in enumerate(shares) if s > 0}
        named_row = _named_row(shares)
        boost = None
        # "which reports mention X" spans reports: no single report gets a head start
        if settings.doc_weight > 0 and shares.any() and plan.kind != "which_reports":
            def boost(ids):
                return settings.doc_weight * shares[[doc_row[store.passages.doc_of(int(i))] for i in ids]]
        fused = fuse(dense, sparse, settings.fusion, settings.dense_weight, settings.bm25_weight, settings.rrf_k, boost)
        timings["bm25"] = time.perf_counter() - t

        keep = max(top_k, self.reranker.settings.top_n if self.reranker else 0)
        dense_of = dict(zip(dense.ids.tolist(), dense.scores.tolist())) if dense is not None else None
        sparse_of = dict(zip(sparse.ids.tolist(), sparse.scores.tolist())) if sparse is not None else None
        hits = [
            Hit(
                chunk=store.passages.chunk(row),
                score=score,
                rank=i + 1,
                dense_score=dense_of.get(row, 0.0) if dense_of is not None else None,
                bm25_score=sparse_of.get(row, 0.0) if sparse_of is not None else None,
            )
            for i, (row, score) in enumerate(zip(fused.ids[:keep].tolist(), fused.scores[:keep].tolist()))
        ]
        if self.reranker is not None and hits:
            t = time.perf_counter()
            hits = self.reranker.rerank(question, hits)
            timings["rerank"] = time.perf_counter() - t
        return SearchResult(
            hits[:top_k], timings, doc_scores, None if query_vec is None else query_vec[0],
            store.docs[named_row].doc_id if named_row is not None else None,
        )
