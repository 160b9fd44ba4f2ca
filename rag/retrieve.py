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
from .filters import chunk_mask, doc_mask
from .index import IndexStore
from .schema import Hit
from .query import plan_query
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


def _ranks(scores: "np.ndarray", limit: int) -> dict[int, int]:
    """row -> 1-based rank for the ``limit`` best rows with a positive score."""
    import numpy as np

    if scores.size == 0:
        return {}
    limit = min(limit, scores.size)
    top = np.argpartition(-scores, limit - 1)[:limit]
    top = top[np.argsort(-scores[top], kind="stable")]
    return {int(r): i + 1 for i, r in enumerate(top) if scores[r] > 0}


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

    def doc_shares(self, query_tokens: list[str], docs_ok: "np.ndarray | None" = None) -> "np.ndarray":
        """Each report's BM25 score for the question as a share of the best report's (0..1); with ``docs_ok``
        (a boolean per report), the other reports score 0 and the best allowed one is the 1."""
        import numpy as np

        store = self.store
        if store.bm25_docs is None or not query_tokens:
            return np.zeros(len(store.docs), dtype=np.float32)
        known = [t for t in query_tokens if t in store.bm25_docs.vocab_dict]
        if not known:
            return np.zeros(len(store.docs), dtype=np.float32)
        scores = np.asarray(store.bm25_docs.get_scores(known), dtype=np.float32)
        if docs_ok is not None:
            scores = np.where(docs_ok, scores, np.float32(0))
        best = float(scores.max()) if scores.size else 0.0
        return scores / best if best > 0 else np.zeros_like(scores)

    def _bm25(self, tokens: list[str]) -> "np.ndarray":
        import numpy as np

        known = [tok for tok in tokens if tok in self.store.bm25_chunks.vocab_dict]
        if not known:
            return np.zeros(len(self.store.chunks), np.float32)
        return np.asarray(self.store.bm25_chunks.get_scores(known), dtype=np.float32)

    def _dense_search(self, query_vec: "np.ndarray", limit: int, rows_ok: "np.ndarray | None"):
        """FAISS inner-product search; with ``rows_ok``, only the allowed vectors are visited (an ID selector
        on the flat index), so the ``limit`` best come from the allowed reports however many others there are."""
        if rows_ok is None:
            return self.store.dense.search(query_vec, limit)
        import faiss
        import numpy as np

        selector = faiss.IDSelectorBatch(np.flatnonzero(rows_ok).astype(np.int64))
        return self.store.dense.search(query_vec, limit, params=faiss.SearchParameters(sel=selector))

    def search(self, question: str, top_k: int | None = None, mode: str | None = None, prefer_doc: str | None = None,
               allowed_docs: frozenset[str] | None = None) -> SearchResult:
        """Rank passages for ``question``. ``prefer_doc`` (a report id carried over from the conversation) is
        the report prior when the question names no report of its own (no locator or place name).
        ``allowed_docs``: doc ids the passages must come from (None: every report); applied inside the dense
        and keyword searches, not to their results (see ``rag.filters``)."""
        import numpy as np

        settings = self.settings
        top_k = top_k or settings.top_k
        plan = plan_query(question)
        if plan.kind == "which_reports":
            top_k = max(top_k, WHICH_REPORTS_TOP_K)
        mode = mode or settings.mode
        store = self.store
        timings: dict[str, float] = {}
        n = len(store.chunks)
        docs_ok = rows_ok = None
        if allowed_docs is not None:
            docs_ok = doc_mask([d.doc_id for d in store.docs], allowed_docs)
            rows_ok = chunk_mask(docs_ok, store.chunk_doc_rows)
        n_ok = n if rows_ok is None else int(rows_ok.sum())
        if n_ok == 0:
            return SearchResult([], timings)

        dense_scores = bm25_scores = query_vec = None
        fused = np.zeros(n, dtype=np.float64)
        limit = min(settings.candidates, n_ok)
        if mode in ("dense", "hybrid"):
            t = time.perf_counter()
            # the model's cost grows with the text (a 2,000-character question took ~21 s): embed its head only
            dense_text = plan.content if settings.dense_on_content else question
            query_vec = self.embedder.encode_queries([dense_text[: settings.max_query_chars]])
            timings["embed_query"] = time.perf_counter() - t
            t = time.perf_counter()
            if query_vec.shape[1] != store.dim:
                from .errors import IndexMismatchError

                raise IndexMismatchError(f"the query vector has dim {query_vec.shape[1]}, the index has {store.dim}")
            sims, rows = self._dense_search(query_vec, limit, rows_ok)
            dense_scores = np.zeros(n, dtype=np.float32)
            valid = rows[0] >= 0
            dense_scores[rows[0][valid]] = sims[0][valid]
            if settings.fusion == "rrf":
                for rank, row in enumerate(rows[0][valid], start=1):
                    fused[row] += settings.dense_weight / (settings.rrf_k + rank)
            elif valid.any():
                # cosine scores of one model sit in a narrow band: spread the candidates over [0, 1]
                top, low = float(sims[0][valid].max()), float(sims[0][valid].min())
                span = top - low if top > low else 1.0
                fused[rows[0][valid]] += settings.dense_weight * (sims[0][valid] - low) / span
            timings["dense"] = time.perf_counter() - t
        t = time.perf_counter()
        translated: list[str] = []
        if plan.english and settings.english_translations > 0:
            from .crosslingual import query_translations

            # dictionary query translation: English words cannot match a Chinese report; their translations can
            translated = [t for zh in query_translations(question, store.doc_freq, settings.english_translations) for t in tokenize(zh)]
        tokens = tokenize(question) + translated
        doc_tokens = tokens + (english_pinyin_query(question) if plan.english else [])
        if mode in ("bm25", "hybrid"):
            content_tokens = tokenize(plan.content) + translated
            in_content = set(content_tokens)
            locator_tokens = [tok for tok in tokens if tok not in in_content]
            bm25_scores = self._bm25(content_tokens)
            if locator_tokens:
                # the locator picks the report; inside it, the passage is ranked on the rest of the question
                bm25_scores = bm25_scores + LOCATOR_TOKEN_WEIGHT * self._bm25(locator_tokens)
            if rows_ok is not None:
                bm25_scores = np.where(rows_ok, bm25_scores, np.float32(0))  # before ranking: top-k of the allowed
            ranks = _ranks(bm25_scores, limit)
            if settings.fusion == "rrf":
                for row, rank in ranks.items():
                    fused[row] += settings.bm25_weight / (settings.rrf_k + rank)
            elif ranks:
                top = float(bm25_scores.max())
                rows_ = np.fromiter(ranks.keys(), dtype=np.int64)
                fused[rows_] += settings.bm25_weight * bm25_scores[rows_] / top
        shares = self.doc_shares(doc_tokens, docs_ok)
        if plan.locator:
            # “永北圩所在镇…”: the locator alone says which report; the rest may be rarer elsewhere
            locator_shares = self.doc_shares(tokenize(plan.locator) + (english_pinyin_query(plan.locator) if plan.english else []), docs_ok)
            if locator_shares.any():
                shares = locator_shares
        if prefer_doc is not None and prefer_doc in store.doc_row and not plan.locator and (docs_ok is None or docs_ok[store.doc_row[prefer_doc]]):
            # a follow-up that names no report of its own stays with the report under discussion
            shares = np.zeros(len(store.docs), dtype=np.float32)
            shares[store.doc_row[prefer_doc]] = 1.0
        doc_scores = {store.docs[i].doc_id: float(s) for i, s in enumerate(shares) if s > 0}
        named_row = _named_row(shares)
        # "which reports mention X" spans reports: no single report gets a head start
        if settings.doc_weight > 0 and shares.any() and plan.kind != "which_reports":
            fused *= 1.0 + settings.doc_weight * shares[np.asarray(store.chunk_doc_rows)]
        if rows_ok is not None:
            fused[~rows_ok] = 0.0  # already so (both searches were restricted); stated for the ranking below
        timings["bm25"] = time.perf_counter() - t

        order = [int(r) for r in np.argsort(-fused, kind="stable")[: max(top_k, self.reranker.settings.top_n if self.reranker else 0)] if fused[r] > 0]
        hits = [
            Hit(
                chunk=store.chunks[row],
                score=float(fused[row]),
                rank=i + 1,
                dense_score=float(dense_scores[row]) if dense_scores is not None else None,
                bm25_score=float(bm25_scores[row]) if bm25_scores is not None else None,
            )
            for i, row in enumerate(order)
        ]
        if self.reranker is not None and hits:
            t = time.perf_counter()
            hits = self.reranker.rerank(question, hits)
            timings["rerank"] = time.perf_counter() - t
        return SearchResult(
            hits[:top_k], timings, doc_scores, None if query_vec is None else query_vec[0],
            store.docs[named_row].doc_id if named_row is not None else None,
        )
