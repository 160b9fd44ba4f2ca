"""The embedder contract shared by every backend, as a LangChain ``Embeddings``.

In: texts. Out: L2-normalised float32 vectors, queries and passages encoded with the model's own
prompts (e5: ``query: `` / ``passage: ``). ``embed_documents`` / ``embed_query`` give lists for LangChain;
``encode_passages`` / ``encode_queries`` give numpy arrays for the index. ``describe()`` names the model
for the index manifest. Models load on first use; constructing an embedder is cheap.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
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


class BaseEmbedder(Embeddings):
    """Subclasses implement ``_encode(texts, is_query)`` returning a float32 (n, dim) array."""

    def __init__(self) -> None:
        # Native models are not guaranteed re-entrant: one encode at a time per embedder.
        self._lock = threading.Lock()

    @abstractmethod
    def _encode(self, texts: list[str], is_query: bool) -> "np.ndarray": ...

    @abstractmethod
    def describe(self) -> EmbedderInfo: ...

    def _encode_checked(self, texts: Sequence[str], is_query: bool) -> "np.ndarray":
        import numpy as np

        texts = [t if isinstance(t, str) else str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.describe().dim), dtype=np.float32)
        with self._lock:
            vectors = self._encode(texts, is_query)
        vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)).reshape(len(texts), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return vectors / norms

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
