"""The default keyword index: a ``bm25s`` index over token lists (``SparseIndex``).

In: a loaded ``bm25s.BM25`` (or None for an index with no entries) and a function giving the allowed entries
for a filter. One instance over passages and one over whole reports (which report a question names).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Callable, Sequence

from .protocol import NO_FILTER, Matches, SearchFilter

if TYPE_CHECKING:
    import numpy as np


class Bm25Sparse:
    def __init__(self, model, size: int, allowed: Callable[[SearchFilter], "np.ndarray | None"]):
        self.model = model
        self._size = size
        self._allowed = allowed

    def size(self) -> int:
        return self._size

    def scores(self, query: Sequence[tuple[str, float]], filters: SearchFilter = NO_FILTER) -> "np.ndarray":
        """The score of every entry (0 where the filter excludes it), in entry order."""
        import numpy as np

        out = np.zeros(self._size, dtype=np.float32)
        if self.model is None:
            return out
        by_weight: dict[float, list[str]] = defaultdict(list)
        for token, weight in query:
            if token in self.model.vocab_dict:
                by_weight[weight].append(token)
        for weight, tokens in by_weight.items():
            out += np.float32(weight) * np.asarray(self.model.get_scores(tokens), dtype=np.float32)
        ok = self._allowed(filters)
        return out if ok is None else np.where(ok, out, np.float32(0))

    def search(self, query: Sequence[tuple[str, float]], k: int, filters: SearchFilter = NO_FILTER) -> Matches:
        return Matches.top(self.scores(query, filters), k)

    def doc_freq(self, token: str) -> int:
        if self.model is None:
            return 0
        tid = self.model.vocab_dict.get(token)
        if tid is None:
            return 0
        indptr = self.model.scores["indptr"]
        return int(indptr[tid + 1] - indptr[tid])
