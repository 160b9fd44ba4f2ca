"""The default passage store: the live reports and passages of an index's segments (``PassageStore``).

In: the loaded segments in order, the doc ids deleted from each, and the reports renamed since they were indexed.
Passage ids are ``segment base + row``, the rows of the dense and keyword indexes; a deleted report's passages
keep their ids until a merge drops them, and every search leaves them out (``allowed``). Reports are listed
live only (``docs``, in segment order); passage and report texts are read from the segments on demand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Sequence

from ..filters import doc_mask
from .protocol import SearchFilter

if TYPE_CHECKING:
    import numpy as np

    from ..schema import Chunk
    from .records import StoredDocument
    from .segment import Segment


class SegmentPassageStore:
    def __init__(self, segments: Sequence["Segment"], deleted: Sequence[set[str]], renamed: dict[str, str]):
        import numpy as np

        self.segments = list(segments)
        self.renamed = dict(renamed)
        self.docs: list["StoredDocument"] = []
        report_ids, doc_rows, passage_bases, report_bases = [], [], [], []
        passage_base = report_base = 0
        for seg, gone in zip(self.segments, deleted):
            row_in_docs = np.full(len(seg.reports) + 1, -1, dtype=np.int32)  # the extra -1: no report
            for r, record in enumerate(seg.reports):
                if record["doc_id"] not in gone:
                    row_in_docs[r] = len(self.docs)
                    report_ids.append(report_base + r)
                    self.docs.append(seg.document(r, self.renamed.get(record["doc_id"])))
            doc_rows.append(row_in_docs[seg.passage_reports])
            passage_bases.append(passage_base)
            report_bases.append(report_base)
            passage_base += seg.passage_count
            report_base += len(seg.reports)
        self.passage_bases = passage_bases
        self.report_bases = report_bases
        self._bases = np.asarray(passage_bases, dtype=np.int64)
        self._report_total = report_base
        self.report_ids = np.asarray(report_ids, dtype=np.int64)  # global report id of each row of ``docs``
        # the row in ``docs`` of every passage's report, -1 for a deleted one
        self.chunk_doc_rows = np.concatenate(doc_rows) if doc_rows else np.zeros(0, dtype=np.int32)
        self.alive = self.chunk_doc_rows >= 0
        self._all_alive = bool(self.alive.all())
        self._live = int(self.alive.sum())
        self.doc_by_id = {d.doc_id: d for d in self.docs}
        self.doc_row = {d.doc_id: i for i, d in enumerate(self.docs)}
        self._last_allowed: tuple[SearchFilter, "np.ndarray"] | None = None

    def id_count(self) -> int:
        """Size of the passage id space (deleted passages included)."""
        return int(self.chunk_doc_rows.size)

    def report_id_count(self) -> int:
        return self._report_total

    def passage_count(self) -> int:
        """Live passages."""
        return self._live

    def alive_slice(self, base: int, n: int) -> "np.ndarray | None":
        """Live flags of ids ``base .. base+n-1``, or None when all are live."""
        part = self.alive[base : base + n]
        return None if part.all() else part

    def report_alive_slice(self, base: int, n: int) -> "np.ndarray | None":
        import numpy as np

        part = np.zeros(n, dtype=bool)
        ids = self.report_ids[(self.report_ids >= base) & (self.report_ids < base + n)]
        part[ids - base] = True
        return None if part.all() else part

    def _locate(self, passage_id: int) -> tuple["Segment", int]:
        import numpy as np

        s = int(np.searchsorted(self._bases, passage_id, side="right")) - 1
        return self.segments[s], passage_id - int(self._bases[s])

    def chunk(self, passage_id: int) -> "Chunk":
        import dataclasses

        seg, row = self._locate(int(passage_id))
        chunk = seg.chunk(row)
        source = self.renamed.get(chunk.doc_id)
        return dataclasses.replace(chunk, source=source) if source is not None and source != chunk.source else chunk

    def doc_of(self, passage_id: int) -> str:
        return self.docs[int(self.chunk_doc_rows[passage_id])].doc_id

    def live_ids(self) -> "np.ndarray":
        import numpy as np

        return np.flatnonzero(self.alive)

    def live_chunks(self) -> "LiveChunks":
        """The live passages as a read-only sequence (each read on demand)."""
        return LiveChunks(self)

    def passage_counts(self) -> dict[str, int]:
        """Live passages per report (doc id)."""
        import numpy as np

        counts = np.bincount(self.chunk_doc_rows[self.alive], minlength=len(self.docs))
        return {d.doc_id: int(n) for d, n in zip(self.docs, counts)}

    def passages_of(self, doc_id: str) -> list[int]:
        """The live passage ids of one report, in order."""
        import numpy as np

        row = self.doc_row.get(doc_id)
        return [] if row is None else np.flatnonzero(self.chunk_doc_rows == row).tolist()

    def allowed_docs(self, filters: SearchFilter) -> "np.ndarray | None":
        """A boolean per report (rows of ``docs``), or None when every report is allowed."""
        return None if filters.everything else doc_mask([d.doc_id for d in self.docs], filters.doc_ids)

    def allowed(self, filters: SearchFilter) -> "np.ndarray | None":
        """A boolean per passage id (read-only: shared), or None when every id may be returned. Deleted passages
        are never allowed. One question asks it of retrieval, the dense and the keyword search alike: the mask of
        the last filter is kept, so it is built once per question."""
        import numpy as np

        if filters.everything:
            return None if self._all_alive else self.alive
        last = self._last_allowed
        if last is not None and last[0] == filters:
            return last[1]
        docs_ok = np.append(self.allowed_docs(filters), False)  # row -1 (deleted) -> False
        mask = docs_ok[self.chunk_doc_rows]
        self._last_allowed = (filters, mask)  # one tuple assigned: a reader in another thread sees old or new
        return mask


class LiveChunks(Sequence):
    """The live passages of a store in id order, read on demand (``len`` is free; iterating reads them all)."""

    def __init__(self, store: SegmentPassageStore):
        self._store = store
        self._ids = None

    def _live(self):
        if self._ids is None:
            self._ids = self._store.live_ids()
        return self._ids

    def __len__(self) -> int:
        return self._store.passage_count()

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._store.chunk(int(j)) for j in self._live()[i]]
        return self._store.chunk(int(self._live()[i]))

    def __iter__(self) -> Iterator["Chunk"]:
        for j in self._live():
            yield self._store.chunk(int(j))

    def __eq__(self, other) -> bool:
        return isinstance(other, (Sequence, list)) and len(self) == len(other) and list(self) == list(other)

    __hash__ = None  # equal by content, which can change with the store: not hashable
