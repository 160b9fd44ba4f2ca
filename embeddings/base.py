"""The embedder contract shared by every backend, as a LangChain ``Embeddings``.

In: texts. Out: L2-normalised float32 vectors, queries and passages encoded with the model's own
prompts (e5: ``query: `` / ``passage: ``). ``embed_documents`` / ``embed_query`` give lists for LangChain;
``encode_passages`` / ``encode_queries`` give numpy arrays for the index. ``describe()`` names the model
for the index manifest. Models load on first use; constructing an embedder is cheap.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from abc import abstractmethod
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from langchain_core.embeddings import Embeddings

if TYPE_CHECKING:  # numpy is imported lazily at run time
    import numpy as np


@dataclass(frozen=True)
class EmbedderInfo:
    """What the index manifest records about the model that made its vectors."""

    backend: str
    model: str
    dim: int
    query_prompt: str
    passage_prompt: str
    normalized: bool = True

    def as_dict(self) -> dict:
        return {
            "backend": self.backend,
            "model": self.model,
            "dim": self.dim,
            "query_prompt": self.query_prompt,
            "passage_prompt": self.passage_prompt,
            "normalized": self.normalized,
        }


class TurnLock:
    """One holder at a time, given in turn: urgent requests first (a question's query, someone is waiting for
    the answer), then in order of arrival. A plain lock has no order: a thread that releases and takes it
    again at once keeps it, so a long passage batch would make every question wait for all of it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._waiting: list[tuple[int, int]] = []
        self._seq = itertools.count()

    @property
    def busy(self) -> bool:
        """Whether someone holds the lock now (a hint: it may change at once)."""
        return self._busy

    @contextmanager
    def hold(self, urgent: bool = False):
        ticket = (0 if urgent else 1, next(self._seq))
        with self._cond:
            heapq.heappush(self._waiting, ticket)
            while self._busy or self._waiting[0] != ticket:
                self._cond.wait()
            heapq.heappop(self._waiting)
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()


class BaseEmbedder(Embeddings):
    """Subclasses implement ``_encode(texts, is_query)`` returning a float32 (n, dim) array, and may implement
    ``_encode_quick(texts)`` (queries only) on a second instance of the model: the quick lane."""

    # texts encoded per turn of the lock: a long list is encoded in slices, so a question's query waits for one
    # slice of an upload's (or a long question's) passages, not for all of them; as large as the ingest's
    # batch (embedding.batch_size = 64) so its batches stay whole
    lock_slice = 64
    # a query list this short (in characters, all texts together) is a question's query: it takes the quick lane
    # when the backend has one, so it never waits for a passage batch or a long question's query that holds
    # the model (as the server's heavy_question_chars: a question longer than that is heavy anyway)
    quick_chars = 200

    def __init__(self) -> None:
        # Native models are not guaranteed re-entrant: one encode at a time per model instance, taken in turn.
        self._lock = TurnLock()
        self._quick_lock = TurnLock()

    _encode_quick = None  # optional: (texts) -> (n, dim) query vectors from a second model instance

    @abstractmethod
    def _encode(self, texts: list[str], is_query: bool) -> "np.ndarray": ...

    @abstractmethod
    def describe(self) -> EmbedderInfo: ...

    def _encode_checked(self, texts: Sequence[str], is_query: bool) -> "np.ndarray":
        import numpy as np

        texts = [t if isinstance(t, str) else str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.describe().dim), dtype=np.float32)
        if is_query and self._encode_quick is not None and sum(map(len, texts)) <= self.quick_chars:
            with self._quick_lock.hold():
                vectors = np.asarray(self._encode_quick(texts), dtype=np.float32).reshape(len(texts), -1)
            return _unit(vectors)
        parts = []
        for start in range(0, len(texts), self.lock_slice):
            with self._lock.hold(urgent=is_query):
                part = self._encode(texts[start : start + self.lock_slice], is_query)
            parts.append(np.asarray(part, dtype=np.float32).reshape(min(self.lock_slice, len(texts) - start), -1))
        return _unit(np.vstack(parts))

    def encode_passages(self, texts: Sequence[str]) -> "np.ndarray":
        """(n, dim) float32, unit norm, passage prompt applied."""
        return self._encode_checked(texts, is_query=False)

    def encode_queries(self, texts: Sequence[str]) -> "np.ndarray":
        """(n, dim) float32, unit norm, query prompt applied."""
        return self._encode_checked(texts, is_query=True)

    # LangChain Embeddings interface
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode_queries([text])[0].tolist()


def _unit(vectors: "np.ndarray") -> "np.ndarray":
    import numpy as np

    vectors = np.ascontiguousarray(vectors)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms
