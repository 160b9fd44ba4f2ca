"""One index segment: the reports one ingest added, with their passages, vectors and keyword postings.

A segment is written once and never changed; a later ingest that deletes one of its reports records the
deletion in the version manifest (``folder``), and a merge writes a new segment from the live parts of old ones.
Text is read on demand: a loaded segment holds its vectors, postings and small per-entry arrays, and memory-maps
the files holding passage and report texts.

Files (``segments/<name>/``)::

    reports.jsonl          one report a line, without its text (names, context, chars, text_digest, passages)
    texts.jsonl            one JSON string a line: each report's full text
    passages.jsonl         one passage (``Chunk``) a line
    *.offsets.npy          byte offset of every line of the file of that name (int64, lines + 1)
    passage_reports.npy    the report (line of reports.jsonl) of every passage (int32)
    dense.faiss            FAISS index over the passages' unit vectors, row = passage (faiss' own format)
    passage.* / report.*   keyword postings of the passages' index texts / of whole reports (``postings``)
"""

from __future__ import annotations

import json
import mmap
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from ..schema import Chunk
from .faiss_dense import build_dense
from .postings import Postings
from .records import StoredDocument

if TYPE_CHECKING:
    import numpy as np


def _json_line(row) -> bytes:
    try:
        return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate cannot be UTF-8; JSON's \u escapes keep it and read back identical
        return (json.dumps(row) + "\n").encode("utf-8")


def write_lines(path: Path, rows: Iterable) -> None:
    """Write JSON lines and, beside them, ``<name>.offsets.npy`` (where every line starts, and the end)."""
    import numpy as np

    offsets = [0]
    with path.open("wb") as fh:
        for row in rows:
            line = _json_line(row)
            fh.write(line)
            offsets.append(offsets[-1] + len(line))
    with (path.parent / f"{path.stem}.offsets.npy").open("wb") as fh:
        np.save(fh, np.asarray(offsets, dtype=np.int64), allow_pickle=False)


class LineFile:
    """A JSON-lines file read one line at a time by number, memory-mapped (safe to share between threads)."""

    def __init__(self, path: Path):
        import numpy as np

        self.offsets = np.load(path.parent / f"{path.stem}.offsets.npy", allow_pickle=False)
        size = path.stat().st_size
        if self.offsets.ndim != 1 or self.offsets.size < 1 or int(self.offsets[-1]) != size:
            raise ValueError(f"{path.name} does not match its offsets ({size} bytes)")
        with path.open("rb") as fh:
            self._data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""

    def __len__(self) -> int:
        return int(self.offsets.size) - 1

    def __getitem__(self, i: int):
        return json.loads(self._data[int(self.offsets[i]) : int(self.offsets[i + 1])])


def write_segment(folder: Path, docs: Sequence[StoredDocument], chunks: Iterable[Chunk], vectors: "np.ndarray",
                  passage_postings: Postings, report_postings: Postings, dense_kind: str, ef_search: int) -> None:
    """Write a segment's files into ``folder`` (which exists and is empty). ``chunks`` in the order of
    ``vectors`` and ``passage_postings``; every chunk's report is in ``docs``."""
    import faiss
    import numpy as np

    row_of = {d.doc_id: i for i, d in enumerate(docs)}
    report_rows: list[int] = []

    def passage_rows():
        for c in chunks:
            report_rows.append(row_of[c.doc_id])
            yield {"chunk_id": c.chunk_id, "doc_id": c.doc_id, "source": c.source, "title": c.title,
                   "section": c.section, "start": c.start, "end": c.end, "text": c.text}

    write_lines(folder / "passages.jsonl", passage_rows())
    per_report = np.bincount(np.asarray(report_rows, dtype=np.int64), minlength=len(docs)) if docs else []
    write_lines(folder / "reports.jsonl", ({**d.record(with_text=False), "passages": int(n)} for d, n in zip(docs, per_report)))
    write_lines(folder / "texts.jsonl", (d.text for d in docs))
    if len(report_rows) != len(vectors) or passage_postings.entries != len(vectors) or report_postings.entries != len(docs):
        raise ValueError(f"segment parts disagree: {len(report_rows)} passages, {len(vectors)} vectors, "
                         f"{passage_postings.entries} passage and {report_postings.entries} report postings, {len(docs)} reports")
    with (folder / "passage_reports.npy").open("wb") as fh:
        np.save(fh, np.asarray(report_rows, dtype=np.int32), allow_pickle=False)
    dense = build_dense(np.ascontiguousarray(vectors, dtype=np.float32), dense_kind, ef_search)
    # serialised here and written by Python, so a full disk is an OSError with its errno (faiss' own writer
    # reports it as a bare RuntimeError)
    with (folder / "dense.faiss").open("wb") as fh:
        fh.write(faiss.serialize_index(dense).tobytes())
    passage_postings.save(folder, "passage")
    report_postings.save(folder, "report")


def passages_of_reports(folder: Path, doc_ids: set[str]) -> list[tuple[Chunk, dict]]:
    """The passages of some reports of a segment, each with its report's record, read without loading the
    segment's vectors or postings (what a deletion needs to know of the reports it removes)."""
    import numpy as np

    reports = LineFile(folder / "reports.jsonl")
    records = [reports[i] for i in range(len(reports))]
    wanted = [i for i, r in enumerate(records) if r["doc_id"] in doc_ids]
    if not wanted:
        return []
    rows = np.load(folder / "passage_reports.npy", allow_pickle=False)
    passages = LineFile(folder / "passages.jsonl")
    return [(Chunk(**passages[int(p)]), records[int(rows[p])]) for p in np.flatnonzero(np.isin(rows, wanted))]


class Segment:
    """A loaded segment: report records (no text), passage -> report rows, postings and the dense index in
    memory; passage and report texts read on demand."""

    def __init__(self, folder: Path):
        import faiss
        import numpy as np

        self.name = folder.name
        self.path = folder
        reports = LineFile(folder / "reports.jsonl")
        self.reports: list[dict] = [reports[i] for i in range(len(reports))]
        self._texts = LineFile(folder / "texts.jsonl")
        self._passages = LineFile(folder / "passages.jsonl")
        self.passage_reports = np.load(folder / "passage_reports.npy", allow_pickle=False)
        self.dense = faiss.read_index(str(folder / "dense.faiss"))
        self.passage_postings = Postings.load(folder, "passage")
        self.report_postings = Postings.load(folder, "report")
        n = len(self._passages)
        if not (self.dense.ntotal == n == self.passage_reports.size == self.passage_postings.entries) or not (
            len(self.reports) == len(self._texts) == self.report_postings.entries
        ):
            raise ValueError(
                f"segment {self.name} is inconsistent: {n} passages, {self.dense.ntotal} vectors, "
                f"{self.passage_postings.entries} passage postings, {len(self.reports)} reports, {len(self._texts)} texts"
            )
        if n and (int(self.passage_reports.min()) < 0 or int(self.passage_reports.max()) >= len(self.reports)):
            raise ValueError(f"segment {self.name} has passages of unknown reports")

    @property
    def passage_count(self) -> int:
        return int(self.passage_reports.size)

    def chunk(self, row: int) -> Chunk:
        return Chunk(**self._passages[row])

    def text(self, report_row: int) -> str:
        return self._texts[report_row]

    def document(self, report_row: int, source: str | None = None) -> StoredDocument:
        """Report ``report_row`` with its text read on demand (``source``: the name it has now, if renamed)."""
        row = self.reports[report_row]
        if source is not None:
            row = {**row, "source": source}
        return StoredDocument.from_record(row, text=lambda: self.text(report_row))

    def vectors(self, rows: "np.ndarray") -> "np.ndarray":
        import numpy as np

        if not len(rows):
            return np.zeros((0, int(self.dense.d)), dtype=np.float32)
        if len(rows) == self.passage_count and (np.asarray(rows) == np.arange(self.passage_count)).all():
            return self.dense.reconstruct_n(0, self.passage_count)
        return np.vstack([self.dense.reconstruct(int(i)) for i in rows]).astype(np.float32)
