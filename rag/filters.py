"""Which passages a question may use: restricting retrieval to chosen reports.

In: the index's reports and the names a caller gave (report file names as ``rag info`` lists them, or doc
ids). Out: the allowed doc ids, and boolean masks over the index's reports and passages that retrieval applies
*inside* its searches (dense search only visits allowed vectors; keyword scores of other reports are zeroed
before ranking), so a restricted question gets its full top-k from the chosen reports. Pure functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

from .errors import UnknownReportError

if TYPE_CHECKING:
    import numpy as np


def resolve_reports(docs: Iterable, names: Sequence[str] | str | None) -> frozenset[str] | None:
    """The doc ids of ``names`` among ``docs`` (objects with ``doc_id`` and ``source``); None when ``names`` is
    None (no restriction). One string is one name. Raises UnknownReportError (a ValueError) naming every name
    that is no report of the index, and for an empty list (pass None to search every report)."""
    if names is None:
        return None
    if isinstance(names, str):
        names = [names]
    names = list(names)
    if not names:
        raise UnknownReportError("reports is empty: pass None to search every report")
    by_name: dict[str, str] = {}
    for d in docs:
        by_name[d.source] = d.doc_id
        by_name[d.doc_id] = d.doc_id
    bad = [n for n in names if not isinstance(n, str) or n not in by_name]
    if bad:
        shown = ", ".join(repr(n)[:80] for n in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise UnknownReportError(f"no such report in the index: {shown} (give file names as `rag info` lists them, or doc ids)")
    return frozenset(by_name[n] for n in names)


def doc_mask(doc_ids_in_order: Sequence[str], allowed: frozenset[str] | None) -> "np.ndarray":
    """A boolean per report of the index (in index order): True when a question may use it."""
    import numpy as np

    if allowed is None:
        return np.ones(len(doc_ids_in_order), dtype=bool)
    return np.fromiter((d in allowed for d in doc_ids_in_order), dtype=bool, count=len(doc_ids_in_order))


def chunk_mask(docs_allowed: "np.ndarray", chunk_doc_rows: Sequence[int]) -> "np.ndarray":
    """A boolean per passage (in vector order): its report is allowed."""
    import numpy as np

    return docs_allowed[np.asarray(chunk_doc_rows, dtype=np.int64)] if len(chunk_doc_rows) else np.zeros(0, dtype=bool)
