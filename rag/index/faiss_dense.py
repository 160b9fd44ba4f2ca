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
    def __init__(self, index, allowed: Callable[[SearchFilter], "np.ndarray | None"] | None = None):
        import faiss

        self.index = index
        self.dim = int(index.d)
        self._allowed = allowed or (lambda filters: None)
        self.approximate = isinstance(index, faiss.IndexHNSW)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def search(self, vector: "np.ndarray", k: int, filters: SearchFilter = NO_FILTER) -> Matches:
        return self.search_rows(vector, k, self._allowed(filters))

    def search_rows(self, vector: "np.ndarray", k: int, rows_ok: "np.ndarray | None") -> Matches:
        """The ``k`` nearest of the rows ``rows_ok`` allows (bool per row; None: every row)."""
        import faiss
        import numpy as np

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
            bits = np.packbits(rows_ok, bitorder="little")
            selector = faiss.IDSelectorBitmap(rows_ok.size, faiss.swig_ptr(bits))
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


class SegmentedDense:
    """A ``DenseIndex`` over several FAISS indexes (one per segment), ids = segment base + row: each is searched
    with its slice of the filter's mask and the results merged, best first (equal scores by id)."""

    def __init__(self, parts: Sequence[tuple[int, object]], dim: int, allowed: Callable[[SearchFilter], "np.ndarray | None"]):
        self.parts = [(base, FaissDense(index)) for base, index in parts]
        self.dim = dim
        self._allowed = allowed
        self.approximate = any(d.approximate for _, d in self.parts)

    @property
    def ntotal(self) -> int:
        return sum(d.ntotal for _, d in self.parts)

    def search(self, vector: "np.ndarray", k: int, filters: SearchFilter = NO_FILTER) -> Matches:
        import numpy as np

        mask = self._allowed(filters)
        found = [
            (base, d.search_rows(vector, k, None if mask is None else mask[base : base + d.ntotal]))
            for base, d in self.parts
        ]
        if len(found) == 1:
            base, m = found[0]
            return Matches(m.ids + base, m.scores)
        ids = np.concatenate([m.ids + base for base, m in found]) if found else np.zeros(0, np.int64)
        scores = np.concatenate([m.scores for _, m in found]) if found else np.zeros(0, np.float32)
        order = np.lexsort((ids, -scores))[:k]
        return Matches(ids[order], scores[order])

    def vectors(self, ids: Sequence[int]) -> "np.ndarray":
        import numpy as np

        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        bases = np.array([base for base, _ in self.parts])
        out = []
        for i in ids:
            p = int(np.searchsorted(bases, int(i), side="right")) - 1
            base, d = self.parts[p]
            out.append(d.index.reconstruct(int(i) - base))
        return np.vstack(out).astype(np.float32)


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
