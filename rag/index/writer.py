"""Writing an index version: a new segment for new reports, deletions and renames recorded in the manifest,
small segments merged, the pointer swapped last (see ``folder`` for the layout).

In: the index folder, the manifest header, the current ``Catalog`` (None for a new index), the new reports with
their passages, vectors and tokens, the doc ids to delete and the reports renamed. Out: the new live version.
The cost is that of what changed: the new reports' files, a manifest, and now and then a merge of small
segments (which reads their vectors and postings; nothing is embedded or tokenized again).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from ..errors import IndexCorruptError, IndexWriteError
from .faiss_dense import dense_kind
from .folder import (
    CURRENT_FILE, SEGMENTS_DIR, Catalog, _file_entry, _fsync_dir, _manifest_digest, _write_bytes, current_version,
)
from .postings import Postings
from .segment import Segment, write_segment

if TYPE_CHECKING:
    import numpy as np

    from ..schema import Chunk
    from .records import StoredDocument

# merge policy (log-structured, as Lucene's): at most MAX_SEGMENTS segments; beyond that the MERGE_FACTOR
# smallest are merged into one, so a passage is rewritten about log(corpus / report) times over its life, and a
# big segment is left alone while small ones come and go. A segment whose passages are half deleted is rewritten.
MAX_SEGMENTS = 8
MERGE_FACTOR = 4
MAX_DELETED_SHARE = 0.5


@dataclass
class NewReports:
    """Reports to add: passages in report order, one vector and one token list per passage, one per report (the
    token lists may be iterators: they are read once, as the segment's postings are built)."""

    docs: list["StoredDocument"] = field(default_factory=list)
    chunks: list["Chunk"] = field(default_factory=list)
    vectors: "np.ndarray | None" = None
    chunk_tokens: Iterable[list[str]] = field(default_factory=list)
    doc_tokens: Iterable[list[str]] = field(default_factory=list)


@dataclass(frozen=True)
class DenseSettings:
    kind: str = "flat"  # flat | hnsw | auto
    hnsw_min_passages: int = 400_000
    ef_search: int = 128


def _new_name(prefix: str) -> str:
    return f"{prefix}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())


def _publish_segment(index_dir: Path, fill) -> dict:
    """Write a segment into a staging folder with ``fill(folder)``, fsync it, move it into place; returns its
    manifest entry (name and files)."""
    name = _new_name("g")
    segments = index_dir / SEGMENTS_DIR
    segments.mkdir(parents=True, exist_ok=True)
    staging = segments / f".staging-{name}"
    staging.mkdir()
    try:
        fill(staging)
        _fsync_tree(staging)
        os.replace(staging, segments / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    folder = segments / name
    files = {p.relative_to(index_dir).as_posix(): _file_entry(p) for p in sorted(folder.iterdir()) if p.is_file()}
    return {"name": name, "files": files, "deleted": []}


def _records(docs: Sequence["StoredDocument"]) -> list[dict]:
    """What the manifest logic needs of a segment's reports: their ids and names."""
    return [{"doc_id": d.doc_id, "source": d.source} for d in docs]


def _segment_of_new(index_dir: Path, new: NewReports, dense: DenseSettings) -> tuple[dict, list[dict]]:
    kind = dense_kind(dense.kind, len(new.chunks), dense.hnsw_min_passages)

    def fill(folder: Path) -> None:
        write_segment(folder, new.docs, new.chunks, new.vectors, Postings.from_tokens(new.chunk_tokens),
                      Postings.from_tokens(new.doc_tokens), kind, dense.ef_search)

    entry = _publish_segment(index_dir, fill)
    return {**entry, "passages": len(new.chunks), "reports": len(new.docs), "dense_index": kind}, _records(new.docs)


def _merge(index_dir: Path, entries: Sequence[dict], renamed: dict[str, str], dense: DenseSettings) -> tuple[dict, list[dict]]:
    """One segment holding the live reports of ``entries`` (their passages, vectors and postings as stored)."""
    import numpy as np

    loaded = [Segment(index_dir / SEGMENTS_DIR / e["name"]) for e in entries]
    docs, keep_reports, keep_passages = [], [], []
    for seg, entry in zip(loaded, entries):
        gone = set(entry.get("deleted", []))
        keep = np.array([r["doc_id"] not in gone for r in seg.reports], dtype=bool)
        keep_reports.append(keep)
        keep_passages.append(keep[seg.passage_reports] if seg.passage_count else np.zeros(0, dtype=bool))
        docs.extend(seg.document(r, renamed.get(seg.reports[r]["doc_id"])) for r in np.flatnonzero(keep))
    passages = sum(int(k.sum()) for k in keep_passages)
    kind = dense_kind(dense.kind, passages, dense.hnsw_min_passages)
    dim = int(loaded[0].dense.d)

    def chunks():
        import dataclasses

        for seg, keep in zip(loaded, keep_passages):
            for row in np.flatnonzero(keep):
                c = seg.chunk(int(row))
                yield dataclasses.replace(c, source=renamed.get(c.doc_id, c.source))

    def fill(folder: Path) -> None:
        vectors = [seg.vectors(np.flatnonzero(keep)) for seg, keep in zip(loaded, keep_passages)]
        write_segment(
            folder, docs, chunks(), np.vstack(vectors) if vectors else np.zeros((0, dim), np.float32),
            Postings.merge([(seg.passage_postings, keep) for seg, keep in zip(loaded, keep_passages)]),
            Postings.merge([(seg.report_postings, keep) for seg, keep in zip(loaded, keep_reports)]),
            kind, dense.ef_search,
        )

    entry = _publish_segment(index_dir, fill)
    return {**entry, "passages": passages, "reports": len(docs), "dense_index": kind}, _records(docs)


def _live_passages(entry: dict) -> int:
    return int(entry.get("passages", 0)) - int(entry.get("deleted_passages", 0))


def _to_merge(entries: list[dict]) -> set[int]:
    """Positions of the segments the merge policy rewrites now (empty: none)."""
    chosen = {i for i, e in enumerate(entries) if e.get("passages") and e.get("deleted_passages", 0) >= MAX_DELETED_SHARE * e["passages"]}
    remaining = len(entries) - len(chosen) + (1 if chosen else 0)
    if remaining > MAX_SEGMENTS:
        by_size = sorted((i for i in range(len(entries)) if i not in chosen), key=lambda i: _live_passages(entries[i]))
        chosen.update(by_size[: max(MERGE_FACTOR, remaining - MAX_SEGMENTS + 1)])
    return chosen if len(chosen) > 1 or any(entries[i].get("deleted") for i in chosen) else set()


def write_version(
    index_dir: str | os.PathLike,
    header: dict,
    catalog: Catalog | None,
    new: NewReports | None = None,
    delete: Sequence[str] = (),
    renamed: dict[str, str] | None = None,
    dense: DenseSettings = DenseSettings(),
) -> Path:
    """Add ``new`` as a segment, delete the reports ``delete`` names, record ``renamed`` (doc id -> new source),
    merge segments as the policy says, and make the result the live version. The previous version stays until
    the pointer swap succeeds. Raises IndexWriteError (disk full, unwritable folder) with the previous index kept."""
    index_dir = Path(index_dir)
    try:
        previous = current_version(index_dir)
    except IndexCorruptError:  # a damaged pointer is simply replaced (this is how a rebuild repairs it)
        previous = None
    version_name = _new_name("v")
    staging = index_dir / f".staging-{version_name}"
    pointer_tmp = index_dir / f".{CURRENT_FILE}.{uuid.uuid4().hex[:8]}"
    written: list[str] = []
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        old_manifest = catalog.manifest if catalog is not None else {}
        live_renamed = {**old_manifest.get("renamed", {}), **(renamed or {})}
        gone = set(delete)
        entries = []
        records: dict[str, list[dict]] = {}  # segment name -> its reports' ids and names
        for seg in catalog.segments if catalog is not None else []:
            records[seg["name"]] = seg["records"]
            deleted = set(seg.get("deleted", []))
            doomed = {r["doc_id"] for r in seg["records"] if r["doc_id"] in gone} - deleted
            entry = {k: v for k, v in seg.items() if k != "records"}
            if doomed:
                entry["deleted"] = sorted(deleted | doomed)
                entry["deleted_passages"] = entry.get("deleted_passages", 0) + sum(
                    r.get("passages", 0) for r in seg["records"] if r["doc_id"] in doomed)
            if len(entry.get("deleted", [])) < len(seg["records"]):  # a segment with no live report is dropped
                entries.append(entry)
        if new is not None and new.docs:
            entry, records_of_new = _segment_of_new(index_dir, new, dense)
            written.append(entry["name"])
            records[entry["name"]] = records_of_new
            entries.append(entry)
        merge = _to_merge(entries)
        if merge:
            merged, records_of_merged = _merge(index_dir, [entries[i] for i in sorted(merge)], live_renamed, dense)
            written.append(merged["name"])
            records[merged["name"]] = records_of_merged
            entries = [e for i, e in enumerate(entries) if i not in merge] + [merged]
        # where each live report is now, and under which name its segment holds it
        held_as = {}
        for e in entries:
            deleted = set(e.get("deleted", []))
            held_as.update((r["doc_id"], r["source"]) for r in records[e["name"]] if r["doc_id"] not in deleted)
        # a rename stays recorded until a merge writes the report under its new name
        live_renamed = {d: src for d, src in live_renamed.items() if d in held_as and held_as[d] != src}

        manifest = {
            **header,
            "segments": entries,
            "renamed": live_renamed,
            "counts": {"docs": len(held_as), "chunks": sum(_live_passages(e) for e in entries)},
        }
        manifest["checksum"] = _manifest_digest(manifest)
        staging.mkdir()
        _write_bytes(staging / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
        _fsync_tree(staging)
        os.replace(staging, index_dir / version_name)
        _write_bytes(pointer_tmp, version_name.encode("utf-8"))
        with pointer_tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        # the swap is the last step that can fail: up to here the previous version is the live one
        os.replace(pointer_tmp, index_dir / CURRENT_FILE)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(index_dir / version_name, ignore_errors=True)
        for name in written:
            shutil.rmtree(index_dir / SEGMENTS_DIR / name, ignore_errors=True)
        pointer_tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            kept = f"previous index kept ({previous.name})" if previous is not None else "no index was written"
            where = exc.filename or index_dir
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise IndexWriteError(f"disk full at {where}, {kept}; free some space and run `rag ingest` again") from exc
            raise IndexWriteError(f"cannot write the index at {where} ({exc.strerror or exc}), {kept}") from exc
        raise
    _fsync_dir(index_dir)
    _collect_garbage(index_dir, version_name, previous)
    return index_dir / version_name


def _collect_garbage(index_dir: Path, live: str, previous: Path | None) -> None:
    """Remove versions other than the live and the previous one (a reader may still be loading that), segments
    neither names, and what crashed writes left."""
    keep_versions = {live} | ({previous.name} if previous is not None else set())
    referenced: set[str] = set()
    for name in keep_versions:
        try:
            manifest = json.loads((index_dir / name / "manifest.json").read_text(encoding="utf-8"))
            referenced.update(e["name"] for e in manifest.get("segments", []))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    for child in index_dir.iterdir():
        if child.is_dir() and child.name.startswith(("v-", ".staging-")) and child.name not in keep_versions:
            shutil.rmtree(child, ignore_errors=True)
        elif child.name.startswith(f".{CURRENT_FILE}."):
            child.unlink(missing_ok=True)
    segments = index_dir / SEGMENTS_DIR
    if segments.is_dir():
        for child in segments.iterdir():
            if child.name not in referenced:
                shutil.rmtree(child, ignore_errors=True)
