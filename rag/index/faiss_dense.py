"""The default dense index: a FAISS index over the passages' unit vectors (``DenseIndex``).

In: a loaded FAISS index whose ids are passage ids, and a function giving the allowed passages for a filter.
Out: ``Matches`` by inner product (cosine on unit vectors). A filter is applied inside FAISS (an ID selector),
so the ``k`` best are the best of the allowed passages, not what is left of the overall best.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from .protocol import NO_FILTER, Matches, SearchFilter

if TYPE_CHECKING:
    import numpy as np


class FaissDense:
    def __init__(self, index, allowed: Callable[[SearchFilter], "np.ndarray | None"]):
        self.index = index
        self.dim = int(index.d)
        self._allowed = allowed

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def search(self, vector: "np.ndarray", k: int, filters: SearchFilter = NO_FILTER) -> Matches:
        import faiss
        import numpy as np

        rows_ok = self._allowed(filters)
        k = min(k, self.ntotal if rows_ok is None else int(rows_ok.sum()))
        if k <= 0:
            return Matches.empty()
        query = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(1, -1))
        if rows_ok is None:
            sims, ids = self.index.search(query, k)
        else:
            selector = faiss.IDSelectorBatch(np.flatnonzero(rows_ok).astype(np.int64))
            sims, ids = self.index.search(query, k, params=faiss.SearchParameters(sel=selector))
        valid = ids[0] >= 0
        return Matches(ids[0][valid].astype(np.int64), sims[0][valid].astype(np.float32))

    def vectors(self, ids: Sequence[int]) -> "np.ndarray":
        import numpy as np

        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self.index.reconstruct(int(i)) for i in ids]).astype(np.float32)
