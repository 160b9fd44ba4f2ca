"""The on-disk index: one self-describing folder of immutable segments and small version manifests, no pickle.

Layout (``index_dir``)::

    CURRENT                 name of the live version folder (replaced atomically)
    v-<time>-<rand>/
        manifest.json       format, embedding model/dim/prompts, splitter + tokenizer settings, counts, and the
                            segments of this version: their files (size, digest), the reports deleted from each,
                            the reports renamed since they were indexed
    segments/g-<time>-<rand>/   one segment: reports, passages, vectors, keyword postings (``segment``)

An ingest writes what changed: a new segment for new reports, and a new manifest naming the segments that stay
and the reports deleted from them (``writer``); a report's deletion costs a manifest, not a rewrite. Small
segments are merged now and then, as a log-structured store does, without embedding anything again.
Segments are written beside the live ones and ``CURRENT`` is swapped last, so a crash mid-write leaves the
previous index loadable. ``IndexStore`` is the loaded, read-only view used by retrieval: vectors and postings in
memory, report and passage text read on demand.

Damage is caught before anything is read: the manifest lists every file of its segments with its size and
blake2b digest, and carries a digest of itself. ``load_index`` checks sizes and digests (for a file over
``FULL_HASH_MAX`` bytes, a digest of sampled blocks); ``verify_index`` (``rag verify``) hashes every byte. Any
mismatch is an ``IndexCorruptError`` naming the file and the fix.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import IndexCorruptError, IndexFormatError, IndexMismatchError, IndexMissingError
from .records import StoredDocument, index_text  # noqa: F401  (re-exported: the index's vocabulary)

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import numpy as np

    from .segment import Segment

FORMAT = "rag-report-index"
FORMAT_VERSION = 2  # 2: segments; 1 (one folder per version, rewritten by every ingest) is rebuilt from the embedding cache
SPLITTER_VERSION = 2  # 2: reports saved from web pages are read as text (``load.markup_to_text``)
CURRENT_FILE = "CURRENT"
SEGMENTS_DIR = "segments"
_VERSION_NAME = re.compile(r"^v-[0-9A-Za-z-]+$")
_SEGMENT_NAME = re.compile(r"^g-[0-9A-Za-z-]+$")
_SEGMENT_FILE = re.compile(r"^segments/g-[0-9A-Za-z-]+/[A-Za-z0-9_.]+$")  # a manifest never names a file elsewhere
FULL_HASH_MAX = 64 * 1024 * 1024  # files up to this size are fully hashed at every load (~0.1 s per 64 MB)
SAMPLE_BLOCK = 1024 * 1024  # larger files: five blocks of this size are hashed at load, all of it by verify
_READ_BLOCK = 1024 * 1024


def _rebuild_hint(index_dir: Path) -> str:
    return f"rebuild it with `rag ingest REPORTS_DIR --index {index_dir} --rebuild`"


def _digest(path: Path, sample: bool = False) -> str:
    """blake2b of a file, read in blocks; with ``sample``, of five ``SAMPLE_BLOCK`` blocks spread over it."""
    h = hashlib.blake2b(digest_size=32)
    with path.open("rb") as fh:
        if not sample:
            for block in iter(lambda: fh.read(_READ_BLOCK), b""):
                h.update(block)
        else:
            size = os.fstat(fh.fileno()).st_size
            for offset in sorted({0, size // 4, size // 2, 3 * size // 4, max(0, size - SAMPLE_BLOCK)}):
                fh.seek(offset)
                h.update(fh.read(SAMPLE_BLOCK))
    return h.hexdigest()


def _file_entry(path: Path) -> dict:
    """What the manifest records of one index file: size, full digest, and a sampled digest if large."""
    size = path.stat().st_size
    entry = {"size": size, "blake2b": _digest(path)}
    if size > FULL_HASH_MAX:
        entry["sample"] = _digest(path, sample=True)
    return entry


def _manifest_digest(manifest: dict) -> str:
    """Digest of a manifest's content (without its own ``checksum`` field), independent of formatting."""
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(canonical.encode("utf-8", "surrogatepass"), digest_size=32).hexdigest()


def _check_files(files: dict, index_dir: Path, full: bool) -> int:
    """Compare index files (paths relative to ``index_dir``) with what a manifest recorded; returns how many were
    checked. Raises IndexCorruptError naming the first file that is missing, resized or changed."""
    for name, entry in sorted(files.items()):
        path = index_dir / name
        try:
            if not isinstance(entry, dict) or not _SEGMENT_FILE.match(name):
                raise KeyError(f"bad entry {name!r}")
            size = path.stat().st_size
            if size != entry["size"]:
                why = f"{size} bytes, expected {entry['size']}"
            elif full or size <= FULL_HASH_MAX:
                why = "checksum mismatch" if _digest(path) != entry["blake2b"] else ""
            else:
                why = "checksum mismatch" if _digest(path, sample=True) != entry["sample"] else ""
        except FileNotFoundError:
            why = "missing"
        except (OSError, KeyError, TypeError) as exc:
            why = f"unreadable: {exc}"
        if why:
            raise IndexCorruptError(f"index file {path} is damaged ({why}); {_rebuild_hint(index_dir)}")
    return len(files)


def _write_bytes(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def expected_manifest_settings(embedding: dict, splitter: dict, tokenizer: str) -> dict:
    """The part of a manifest that must match the current config for an index to be usable."""
    return {
        "embedding": {k: embedding[k] for k in ("backend", "model", "query_prompt", "passage_prompt")},
        "splitter": {**splitter, "splitter_version": SPLITTER_VERSION},
        "tokenizer": tokenizer,
    }


def check_compatible(manifest: dict, expected: dict, where: Path) -> None:
    """Raise IndexMismatchError naming each differing setting with both values side by side. When only what the
    code decides differs (the splitter's version, the keyword tokenizer) and not the config, the error is an
    IndexFormatError: ``ingest`` rebuilds such an index, its vectors coming from the embedding cache."""
    diffs, code_diffs = [], []
    for section in ("embedding", "splitter"):
        have, want = manifest.get(section, {}), expected[section]
        for key, value in want.items():
            if have.get(key) == value:
                continue
            if key == "splitter_version":
                code_diffs.append(f"{section}.{key}: index has {have.get(key)!r}, code has {value!r}")
            else:
                diffs.append(f"{section}.{key}: index has {have.get(key)!r}, config has {value!r}")
    if expected.get("tokenizer") is not None and manifest.get("tokenizer") != expected["tokenizer"]:
        code_diffs.append(f"tokenizer: index has {manifest.get('tokenizer')!r}, code uses {expected['tokenizer']!r}")
    if code_diffs and not diffs:
        raise IndexFormatError(
            f"the index at {where} was built by an older version of the code ({'; '.join(code_diffs)}); "
            "`rag ingest` rebuilds it (vectors come from the embedding cache)"
        )
    diffs += code_diffs
    if diffs:
        raise IndexMismatchError(
            f"the index at {where} was built with other settings than the current config:\n  "
            + "\n  ".join(diffs)
            + "\nRebuild it with `rag ingest DIR --rebuild`, or use the config it was built with."
        )


@dataclass
class Catalog:
    """What an index holds, read from its live manifest and its segments' report lists, without loading vectors,
    postings or text: what an ingest needs to decide what changed. ``segments``: the manifest's segment entries,
    each with its ``records`` (its reports' records, without text) added."""

    version: Path
    manifest: dict
    segments: list[dict]
    rolled_back_from: str | None = None

    def live_reports(self) -> dict[str, tuple[int, int, dict]]:
        """doc_id -> (segment position, report row, record with its current source) of every live report."""
        renamed = self.manifest.get("renamed", {})
        out = {}
        for s, seg in enumerate(self.segments):
            deleted = set(seg.get("deleted", []))
            for row, record in enumerate(seg["records"]):
                if record["doc_id"] not in deleted:
                    out[record["doc_id"]] = (s, row, {**record, "source": renamed.get(record["doc_id"], record["source"])})
        return out


class IndexStore:
    """A loaded index version, read through the storage protocols (``rag.index.protocol``): ``passages`` (the
    reports and passages, text read on demand), ``dense`` (FAISS, one index per segment), ``sparse`` (BM25 over
    passages) and ``report_sparse`` (BM25 over whole reports, ids = rows of ``docs``). ``docs`` / ``chunks`` /
    ``doc_by_id`` are the passage store's, for the callers that list them."""

    def __init__(self, path: Path, manifest: dict, segments: list["Segment"]):
        from .bm25_sparse import LiveReports
        from .faiss_dense import SegmentedDense
        from .passages import SegmentPassageStore
        from .postings import Bm25Segments

        self.path = path
        self.manifest = manifest
        entries = manifest.get("segments", [])
        deleted = [set(e.get("deleted", [])) for e in entries]
        self.passages = SegmentPassageStore(segments, deleted, manifest.get("renamed", {}))
        p = self.passages
        self.docs = p.docs
        self.chunks = p.live_chunks()
        self.doc_by_id = p.doc_by_id
        self.doc_row = p.doc_row
        self.dense = SegmentedDense([(base, seg.dense) for base, seg in zip(p.passage_bases, segments)], self.dim, p.allowed)
        self.sparse = Bm25Segments(
            [(base, seg.passage_postings, p.alive_slice(base, seg.passage_count)) for base, seg in zip(p.passage_bases, segments)],
            p.id_count(), p.allowed,
        )
        report_index = Bm25Segments(
            [(base, seg.report_postings, p.report_alive_slice(base, len(seg.reports))) for base, seg in zip(p.report_bases, segments)],
            p.report_id_count(), lambda filters: None,
        )
        self.report_sparse = LiveReports(report_index, p.report_ids, p.allowed_docs)
        self.rolled_back_from: str | None = None  # set when this version was made live because a newer one was damaged

    def doc_freq(self, token: str) -> int:
        """How many live passages hold a BM25 token (words and ``~``-marked character pairs; see text.tokenize)."""
        return self.sparse.doc_freq(token)

    def idf(self, token: str) -> float:
        """Inverse document frequency of a BM25 token over the live passages (unknown tokens get the maximum)."""
        return self.sparse.idf(token)

    @property
    def dim(self) -> int:
        return int(self.manifest["embedding"]["dim"])

    def vectors_for(self, rows: list[int]) -> "np.ndarray":
        """The stored vectors of the given passage ids."""
        return self.dense.vectors(rows)


def current_version(index_dir: Path) -> Path | None:
    """The live version folder named by ``CURRENT``; None if there is no pointer (no index yet).
    A pointer that cannot be read or names no version folder raises IndexCorruptError."""
    pointer = index_dir / CURRENT_FILE
    if not pointer.is_file():
        return None
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"index pointer {pointer} is unreadable ({exc}); {_rebuild_hint(index_dir)}") from exc
    # the name must be a version folder of this index, never a path elsewhere
    if not _VERSION_NAME.match(name):
        raise IndexCorruptError(f"index pointer {pointer} is damaged (holds {name[:40]!r}); {_rebuild_hint(index_dir)}")
    if not (index_dir / name).is_dir():
        raise IndexCorruptError(
            f"index pointer {pointer} names version {name}, which does not exist; {_rebuild_hint(index_dir)}"
        )
    return index_dir / name


def _read_manifest(version: Path, index_dir: Path) -> dict:
    """The manifest of a version, its own digest checked. Raises IndexCorruptError naming the file."""
    path = version / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"index file {path} is damaged (not valid JSON: {exc}); {_rebuild_hint(index_dir)}") from exc
    if not isinstance(manifest, dict):
        raise IndexCorruptError(f"index file {path} is damaged (not a JSON object); {_rebuild_hint(index_dir)}")
    # an index written before checksums existed has neither field: it loads unchecked
    if ("checksum" in manifest or "files" in manifest) and manifest.get("checksum") != _manifest_digest(manifest):
        raise IndexCorruptError(f"index file {path} is damaged (checksum mismatch); {_rebuild_hint(index_dir)}")
    return manifest


def verify_index(index_dir: str | os.PathLike) -> int:
    """Hash every byte of the live version and compare with its manifest (``rag verify``).
    Returns the number of files checked; raises IndexMissingError / IndexCorruptError."""
    index_dir = Path(index_dir)
    version = current_version(index_dir)
    if version is None:
        raise IndexMissingError(f"no index at {index_dir} (build one with `rag ingest REPORTS_DIR --index {index_dir}`)")
    manifest = _read_manifest(version, index_dir)
    _check_format(manifest, version)
    return 1 + _check_files(segment_files(manifest), index_dir, full=True)


def segment_files(manifest: dict) -> dict:
    """Every file of a version's segments, path relative to the index folder -> its manifest entry."""
    files: dict = {}
    for entry in manifest.get("segments", []):
        files.update(entry.get("files", {}))
    return files


def _check_format(manifest: dict, version: Path) -> None:
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise IndexFormatError(
            f"{version} has format {manifest.get('format')!r} v{manifest.get('format_version')!r}, "
            f"this code reads {FORMAT!r} v{FORMAT_VERSION}; `rag ingest` rebuilds it (vectors come from the "
            "embedding cache), or rebuild with `rag ingest --rebuild`"
        )


def load_index(index_dir: str | os.PathLike, expected: dict | None = None, roll_back: bool = False) -> IndexStore:
    """Load the live version of an index folder; ``expected`` (see expected_manifest_settings) is checked.
    Every file is checked against the manifest first (sizes, digests; sampled blocks for large files).

    A damaged live version raises IndexCorruptError; with ``roll_back`` the newest earlier version that passes
    a full check is made live instead (the pointer swapped atomically) and returned, its ``rolled_back_from``
    naming the damaged version and why. Reports changed since that version are indexed again by the next
    ingest, which compares with what the index holds."""
    return _open_live(Path(index_dir), expected, roll_back, _load_version)


def read_catalog(index_dir: str | os.PathLike, expected: dict | None = None, roll_back: bool = False) -> Catalog:
    """The live version's ``Catalog`` (files checked as ``load_index`` does; same roll-back rule)."""
    return _open_live(Path(index_dir), expected, roll_back, _read_catalog)


def _open_live(index_dir: Path, expected: dict | None, roll_back: bool, loader):
    try:
        version = current_version(index_dir)
        if version is None:
            raise IndexMissingError(f"no index at {index_dir} (build one with `rag ingest REPORTS_DIR --index {index_dir}`)")
        return loader(index_dir, version, expected, False)
    except IndexCorruptError as damage:
        if not roll_back:
            raise
        return _roll_back(index_dir, expected, damage, loader)


def _written_at(version: Path) -> tuple[int, str]:
    """When a version was written (its manifest is written once, last): names only have whole seconds."""
    try:
        return (version / "manifest.json").stat().st_mtime_ns, version.name
    except OSError:
        return 0, version.name


def _roll_back(index_dir: Path, expected: dict | None, damage: IndexCorruptError, loader):
    """Make the newest intact earlier version live; re-raise ``damage`` when there is none."""
    pointer = index_dir / CURRENT_FILE
    try:
        live_name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        live_name = ""
    earlier = sorted(
        (p for p in index_dir.iterdir() if p.is_dir() and _VERSION_NAME.match(p.name) and p.name != live_name),
        key=_written_at,
        reverse=True,
    )
    for version in earlier:
        try:
            loaded = loader(index_dir, version, expected, True)
        except (IndexCorruptError, IndexMismatchError):
            continue
        pointer_tmp = index_dir / f".{CURRENT_FILE}.{uuid.uuid4().hex[:8]}"
        _write_bytes(pointer_tmp, version.name.encode("utf-8"))
        os.replace(pointer_tmp, pointer)
        _fsync_dir(index_dir)
        loaded.rolled_back_from = f"{live_name or CURRENT_FILE}: {damage}"
        log.warning("index %s is damaged (%s); rolled back to the previous intact version %s", live_name, damage, version.name)
        return loaded
    raise damage


def _checked_manifest(index_dir: Path, version: Path, expected: dict | None, full: bool) -> dict:
    manifest = _read_manifest(version, index_dir)
    _check_format(manifest, version)
    segments = manifest.get("segments")
    if not isinstance(segments, list) or not all(isinstance(e, dict) and _SEGMENT_NAME.match(str(e.get("name", ""))) for e in segments):
        raise IndexCorruptError(f"{version / 'manifest.json'} has no valid segment list; {_rebuild_hint(index_dir)}")
    _check_files(segment_files(manifest), index_dir, full=full)
    if expected is not None:
        check_compatible(manifest, expected, index_dir)
    return manifest


def _read_catalog(index_dir: Path, version: Path, expected: dict | None, full: bool) -> Catalog:
    from .segment import LineFile

    manifest = _checked_manifest(index_dir, version, expected, full)
    segments = []
    try:
        for entry in manifest["segments"]:
            reports = LineFile(index_dir / SEGMENTS_DIR / entry["name"] / "reports.jsonl")
            segments.append({**entry, "records": [reports[i] for i in range(len(reports))]})
    except (OSError, ValueError, KeyError) as exc:
        raise IndexCorruptError(f"index {version} cannot be read ({exc.__class__.__name__}: {exc}); {_rebuild_hint(index_dir)}") from exc
    return Catalog(version, manifest, segments)


def _load_version(index_dir: Path, version: Path, expected: dict | None, full: bool) -> IndexStore:
    """Load one version, its files checked against its manifest (every byte with ``full``)."""
    from .segment import Segment

    manifest = _checked_manifest(index_dir, version, expected, full)
    # past the checksums this is a damaged file the digests cannot see, or a bug in a reader
    try:
        segments = [Segment(index_dir / SEGMENTS_DIR / entry["name"]) for entry in manifest["segments"]]
        store = IndexStore(version, manifest, segments)
        counts = manifest.get("counts", {})
        if store.passages.passage_count() != counts.get("chunks") or len(store.docs) != counts.get("docs"):
            raise IndexCorruptError(
                f"index {version} is inconsistent: {store.passages.passage_count()} passages and {len(store.docs)} reports, "
                f"manifest says {counts}; {_rebuild_hint(index_dir)}"
            )
        return store
    except (OSError, ValueError, TypeError, KeyError, RuntimeError, EOFError, AttributeError) as exc:
        raise IndexCorruptError(f"index {version} cannot be read ({exc.__class__.__name__}: {exc}); {_rebuild_hint(index_dir)}") from exc


def manifest_header(embedding: dict, splitter: dict, tokenizer: str) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "embedding": embedding,
        "splitter": {**splitter, "splitter_version": SPLITTER_VERSION},
        "tokenizer": tokenizer,
    }
