"""The default dense index: a FAISS index over the passages' unit vectors (``DenseIndex``), exact (flat) or an
HNSW graph (approximate, for large corpora; chosen at ingest by ``[index] dense``).

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
        import faiss

        self.index = index
        self.dim = int(index.d)
        self._allowed = allowed
        self.approximate = isinstance(index, faiss.IndexHNSW)

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
        elif self.approximate and int(rows_ok.sum()) <= EXACT_FILTERED_MAX:
            allowed = np.flatnonzero(rows_ok)
            return Matches.top((self.vectors(allowed) @ query[0]).astype(np.float32), k, positive_only=False).remap(allowed)
        else:
            selector = faiss.IDSelectorBatch(np.flatnonzero(rows_ok).astype(np.int64))
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=self.index.hnsw.efSearch) if self.approximate \
                else faiss.SearchParameters(sel=selector)
            sims, ids = self.index.search(query, k, params=params)
        valid = ids[0] >= 0
        return Matches(ids[0][valid].astype(np.int64), sims[0][valid].astype(np.float32))

    def vectors(self, ids: Sequence[int]) -> "np.ndarray":
        import numpy as np

        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self.index.reconstruct(int(i)) for i in ids]).astype(np.float32)


# HNSW graph parameters: M links per node and the construction beam, FAISS' usual settings for ~1M vectors
# of a few hundred dimensions; the search beam (efSearch) is what trades recall for speed, measured in
# benchmarks/bench_ann.py and stored in the index file
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
# with a filter that leaves at most this many passages, an HNSW index is searched exactly over those passages:
# a graph walk that may only stop on a few allowed nodes can end with fewer than k of them
EXACT_FILTERED_MAX = 20_000


def dense_kind(kind: str, passages: int, hnsw_min_passages: int) -> str:
    """``flat`` or ``hnsw`` for a configured ``kind`` (``flat`` | ``hnsw`` | ``auto``) and an index size."""
    if kind == "auto":
        return "hnsw" if passages >= hnsw_min_passages else "flat"
    return kind


def build_dense(vectors: "np.ndarray", kind: str = "flat", ef_search: int = 128):
    """A FAISS index over unit ``vectors`` (ids = row positions): exact inner product (``flat``), or an HNSW
    graph (``hnsw``: approximate; its recall at ``ef_search`` is printed by benchmarks/bench_ann.py)."""
    import faiss

    dim = int(vectors.shape[1])
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = ef_search
    elif kind == "flat":
        index = faiss.IndexFlatIP(dim)
    else:
        raise ValueError(f"unknown dense index kind {kind!r} (flat | hnsw)")
    if len(vectors):
        index.add(vectors)
    return index
