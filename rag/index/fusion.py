"""Fusion of dense and keyword matches into one ranking: the one place the two searches meet.

In: the dense and keyword ``Matches`` (either may be None: that search did not run), the weights, and an
optional per-passage boost (the report prior). Out: ``Matches`` over the union, best first (equal scores in
id order), only positive fused scores.

``score`` fusion spreads each list's scores over [0, 1] (cosine scores of one model sit in a narrow band, so
the dense list is min-max scaled; BM25 is divided by its best) and adds them, weighted; ``rrf`` adds
weight / (rrf_k + rank). Both then multiply by ``1 + boost``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .protocol import Matches

if TYPE_CHECKING:
    import numpy as np


def fuse(
    dense: Matches | None,
    sparse: Matches | None,
    method: str = "score",
    dense_weight: float = 0.5,
    sparse_weight: float = 1.0,
    rrf_k: int = 60,
    boost: "Callable[[np.ndarray], np.ndarray] | None" = None,
) -> Matches:
    import numpy as np

    fused: dict[int, float] = {}
    for matches, weight, scale in ((dense, dense_weight, "minmax"), (sparse, sparse_weight, "max")):
        if matches is None or not len(matches):
            continue
        scores = matches.scores  # float32, as the searches give them: the scaled parts stay float32
        if method == "rrf":
            parts = weight / (rrf_k + np.arange(1, len(matches) + 1, dtype=np.float64))
        elif scale == "minmax":
            top, low = float(scores.max()), float(scores.min())
            parts = weight * (scores - low) / (top - low if top > low else 1.0)
        else:
            parts = weight * scores / float(scores.max())
        for i, part in zip(matches.ids.tolist(), parts.tolist()):
            fused[i] = fused.get(i, 0.0) + part
    if not fused:
        return Matches.empty()
    ids = np.fromiter(fused.keys(), dtype=np.int64, count=len(fused))
    scores = np.fromiter(fused.values(), dtype=np.float64, count=len(fused))
    if boost is not None:
        scores = scores * (1.0 + boost(ids))
    keep = scores > 0
    ids, scores = ids[keep], scores[keep]
    order = np.lexsort((ids, -scores))
    return Matches(ids[order], scores[order])
