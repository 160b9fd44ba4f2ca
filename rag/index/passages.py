"""The default passage store: the reports and passages of one index version, held in lists (``PassageStore``).

In: the reports (``StoredDocument``) and passages (``Chunk``) in index order. Passage ids are list positions,
the same as the rows of the dense and keyword indexes of that version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from ..filters import chunk_mask, doc_mask
from .protocol import SearchFilter

if TYPE_CHECKING:
    import numpy as np

    from ..schema import Chunk
    from .folder import StoredDocument


class ListPassageStore:
    """Reports and passages in memory, in index order."""

    def __init__(self, docs: Sequence["StoredDocument"], chunks: Sequence["Chunk"]):
        self.docs = list(docs)
        self.chunks = list(chunks)
        self.doc_by_id = {d.doc_id: d for d in self.docs}
        self.doc_row = {d.doc_id: i for i, d in enumerate(self.docs)}
        self.chunk_doc_rows = [self.doc_row[c.doc_id] for c in self.chunks]
        self._last_allowed: tuple[SearchFilter, "np.ndarray"] | None = None

    def chunk(self, passage_id: int) -> "Chunk":
        return self.chunks[passage_id]

    def passage_count(self) -> int:
        return len(self.chunks)

    def doc_of(self, passage_id: int) -> str:
        return self.chunks[passage_id].doc_id

    def allowed_docs(self, filters: SearchFilter) -> "np.ndarray | None":
        """A boolean per report (index order), or None when every report is allowed."""
        return None if filters.everything else doc_mask([d.doc_id for d in self.docs], filters.doc_ids)

    def allowed(self, filters: SearchFilter) -> "np.ndarray | None":
        """A boolean per passage (read-only: shared). One question asks it of retrieval, the dense and the
        keyword search alike: the mask of the last filter is kept, so it is built once per question."""
        if filters.everything:
            return None
        last = self._last_allowed
        if last is not None and last[0] == filters:
            return last[1]
        mask = chunk_mask(self.allowed_docs(filters), self.chunk_doc_rows)
        self._last_allowed = (filters, mask)  # one tuple assigned: a reader in another thread sees old or new
        return mask
