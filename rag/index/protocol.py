"""The storage seam: what retrieval needs from an index, as three small protocols and one result type.

Retrieval (``rag.retrieve``) and the answer gate read an index only through these, so another backend (Milvus,
a segmented store) goes behind them without touching retrieval:

- ``PassageStore``: the reports and their passages, addressed by a passage id (an int);
- ``DenseIndex``: nearest passages to a query vector;
- ``SparseIndex``: keyword (BM25) search over token lists, and how many entries hold a token.

Every search takes ``filters`` (``SearchFilter``: which reports may answer) and applies them *inside* the
search, so the ``k`` best come from the allowed reports however many others there are. Results are
``Matches``: ids and scores, best first, only positive keyword scores. Fusion of dense and sparse matches is one
function (``rag.index.fusion.fuse``).

Writing (``add`` / ``delete`` by report) is the ``WritableStore`` protocol, which a store that updates in place
(Milvus) implements. The default folder backend (``rag.index.folder``) writes per ingest a segment of the new
reports and a manifest recording the deleted ones (``rag.index.writer``), and is read through the three read
protocols.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from ..schema import Chunk
    from .folder import StoredDocument


@dataclass(frozen=True)
class SearchFilter:
    """Which reports a search may return passages from. ``doc_ids`` None: every report."""

    doc_ids: frozenset[str] | None = None

    @property
    def everything(self) -> bool:
        return self.doc_ids is None


NO_FILTER = SearchFilter()


@dataclass(frozen=True)
class Matches:
    """Search results: passage (or report) ids and their scores, best first, equal scores in id order."""

    ids: "np.ndarray"  # int64
    scores: "np.ndarray"  # float32

    def __len__(self) -> int:
        return int(self.ids.size)

    @staticmethod
    def empty() -> "Matches":
        import numpy as np

        return Matches(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))

    def remap(self, ids: "np.ndarray") -> "Matches":
        """These matches with each id ``i`` replaced by ``ids[i]`` (positions in a subset -> ids)."""
        return Matches(ids[self.ids].astype(self.ids.dtype), self.scores)

    @staticmethod
    def top(scores: "np.ndarray", k: int, positive_only: bool = True) -> "Matches":
        """The ``k`` best entries of a dense score array (ids are positions), best first, ties by position."""
        import numpy as np

        if scores.size == 0 or k <= 0:
            return Matches.empty()
        k = min(k, scores.size)
        part = np.argpartition(-scores, k - 1)[:k] if k < scores.size else np.arange(scores.size)
        part = part[np.lexsort((part, -scores[part]))]
        if positive_only:
            part = part[scores[part] > 0]
        return Matches(part.astype(np.int64), scores[part].astype(np.float32))


@runtime_checkable
class PassageStore(Protocol):
    """The reports and passages of one index. Passage ids are ints; in the default store ``segment base + row``,
    with a deleted report's ids left unused until a merge (``allowed`` never lets a search return them)."""

    docs: Sequence["StoredDocument"]
    doc_by_id: dict[str, "StoredDocument"]

    def chunk(self, passage_id: int) -> "Chunk": ...

    def passage_count(self) -> int: ...

    def doc_of(self, passage_id: int) -> str: ...

    def passage_counts(self) -> dict[str, int]:
        """Live passages per report (doc id)."""
        ...

    def passages_of(self, doc_id: str) -> list[int]:
        """The passage ids of one report, in order."""
        ...

    def allowed(self, filters: SearchFilter) -> "np.ndarray | None":
        """A boolean per passage id (True: may be returned), or None when the filter allows everything."""
        ...


@runtime_checkable
class DenseIndex(Protocol):
    """Inner-product search over unit vectors (cosine similarity)."""

    dim: int

    def search(self, vector: "np.ndarray", k: int, filters: SearchFilter = NO_FILTER) -> Matches: ...

    def vectors(self, ids: Sequence[int]) -> "np.ndarray":
        """The stored vectors of these passages, (len(ids), dim) float32 (reused when a report is unchanged)."""
        ...


@runtime_checkable
class SparseIndex(Protocol):
    """BM25 over token lists (``rag.text.tokenize``). A query is a list of (token, weight) pairs: the score of an
    entry is the sum over the pairs of weight × the token's BM25 score (a token listed twice counts twice)."""

    def search(self, query: Sequence[tuple[str, float]], k: int, filters: SearchFilter = NO_FILTER) -> Matches: ...

    def doc_freq(self, token: str) -> int:
        """How many entries hold the token (0 for an unknown one)."""
        ...

    def size(self) -> int: ...


@runtime_checkable
class WritableStore(Protocol):
    """A store updated in place: adding or deleting a report costs that report, not the corpus."""

    def add(self, docs: Sequence["StoredDocument"], chunks: Sequence["Chunk"], vectors: "np.ndarray",
            chunk_tokens: Sequence[Sequence[str]], doc_tokens: Sequence[Sequence[str]]) -> None: ...

    def delete(self, doc_ids: Sequence[str]) -> None: ...
