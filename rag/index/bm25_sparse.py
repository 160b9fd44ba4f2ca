"""The keyword index over whole reports, as retrieval sees it: ids are rows of the live report list.

In: BM25 over every segment's report postings (``postings.Bm25Segments``, ids = global report ids, deleted
reports included), the global id of each live report, and a function giving the allowed reports for a filter.
Out: a ``SparseIndex`` whose ids are positions in ``IndexStore.docs``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from .protocol import NO_FILTER, Matches, SearchFilter

if TYPE_CHECKING:
    import numpy as np

    from .postings import Bm25Segments


class LiveReports:
    def __init__(self, index: "Bm25Segments", report_ids: "np.ndarray", allowed: Callable[[SearchFilter], "np.ndarray | None"]):
        self._index = index
        self._ids = report_ids
        self._allowed = allowed

    def size(self) -> int:
        return int(self._ids.size)

    def search(self, query: Sequence[tuple[str, float]], k: int, filters: SearchFilter = NO_FILTER) -> Matches:
        import numpy as np

        scores = self._index.scores(query)[self._ids] if self._ids.size else np.zeros(0, dtype=np.float32)
        ok = self._allowed(filters)
        return Matches.top(scores if ok is None else np.where(ok, scores, np.float32(0)), k)

    def doc_freq(self, token: str) -> int:
        return self._index.doc_freq(token)
