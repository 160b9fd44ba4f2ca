"""The on-disk index: one self-describing folder, no pickle anywhere.

Layout (``index_dir``)::

    CURRENT                 name of the live version folder (replaced atomically)
    v-<time>-<rand>/
        manifest.json       format, embedding model/dim/prompts, splitter + tokenizer settings, counts
        docs.jsonl          one report a line: doc_id, source, title, encoding, context, text
        chunks.jsonl        one chunk a line, in vector order
        dense.faiss         FAISS IndexFlatIP over L2-normalised float32 vectors (faiss' own format)
        bm25_chunks/        bm25s index over jieba tokens of each chunk's index text (npy + json)
        bm25_docs/          bm25s index over whole reports: finds the report a question names indirectly

A new version is written beside the live one and ``CURRENT`` is swapped last, so a crash mid-write
leaves the previous index loadable. ``IndexStore`` is the loaded, read-only view used by retrieval.

Damage is caught before anything is read: the manifest lists every other file of its version with its
size and blake2b digest, and carries a digest of itself. ``load_index`` checks sizes and digests (for a
file over ``FULL_HASH_MAX`` bytes, a digest of sampled blocks); ``verify_index`` (``rag verify``) hashes
every byte. Any mismatch is an ``IndexCorruptError`` naming the file and the fix.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from ..errors import IndexCorruptError, IndexMismatchError, IndexMissingError, IndexWriteError
from ..schema import Chunk
from .faiss_dense import build_dense

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import numpy as np

FORMAT = "rag-report-index"
FORMAT_VERSION = 1
SPLITTER_VERSION = 1
CURRENT_FILE = "CURRENT"
_FILES = ("manifest.json", "docs.jsonl", "chunks.jsonl", "dense.faiss")
_VERSION_NAME = re.compile(r"^v-[0-9A-Za-z-]+$")
FULL_HASH_MAX = 64 * 1024 * 1024  # files up to this size are fully hashed at every load (~0.1 s per 64 MB)
SAMPLE_BLOCK = 1024 * 1024  # larger files: five blocks of this size are hashed at load, all of it by verify
_READ_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class StoredDocument:
    """A report as the index keeps it (the full text is kept so citations can always be shown)."""

    doc_id: str
    source: str
    title: str
    encoding: str
    context: str
    text: str


def index_text(chunk: Chunk, context: str, with_context: bool = True) -> str:
    """What is embedded and keyword-indexed for a chunk: report context, section path, then the text."""
    if not with_context:
        return chunk.text
    head = "\n".join(p for p in (context, chunk.section) if p)
    return f"{head}\n{chunk.text}" if head else chunk.text


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            try:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            except UnicodeEncodeError:
                # a lone surrogate cannot be UTF-8; JSON's \u escapes keep it and read back identical
                fh.write(json.dumps(row) + "\n")


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


def _check_files(version: Path, manifest: dict, index_dir: Path, full: bool) -> int:
    """Compare the files of a version with what its manifest recorded; returns how many were checked.
    Raises IndexCorruptError naming the first file that is missing, resized or changed."""
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise IndexCorruptError(f"{version / 'manifest.json'} has no file list; {_rebuild_hint(index_dir)}")
    for name, entry in sorted(files.items()):
        path = version / name
        try:
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
    """Raise IndexMismatchError naming each differing setting with both values side by side."""
    diffs = []
    for section in ("embedding", "splitter"):
        have, want = manifest.get(section, {}), expected[section]
        for key, value in want.items():
            if have.get(key) != value:
                diffs.append(f"{section}.{key}: index has {have.get(key)!r}, config has {value!r}")
    if expected.get("tokenizer") is not None and manifest.get("tokenizer") != expected["tokenizer"]:
        diffs.append(f"tokenizer: index has {manifest.get('tokenizer')!r}, code uses {expected['tokenizer']!r}")
    if diffs:
        raise IndexMismatchError(
            f"the index at {where} was built with other settings than the current config:\n  "
            + "\n  ".join(diffs)
            + "\nRebuild it with `rag ingest DIR --rebuild`, or use the config it was built with."
        )


class IndexStore:
    """A loaded index version, read through the storage protocols (``rag.index.protocol``): ``passages`` (the
    reports and passages), ``dense`` (FAISS), ``sparse`` (BM25 over passages) and ``report_sparse`` (BM25 over
    whole reports). ``docs`` / ``chunks`` / ``doc_by_id`` are the passage store's, for the callers that list them."""

    def __init__(self, path: Path, manifest: dict, docs: list[StoredDocument], chunks: list[Chunk], dense, bm25_chunks, bm25_docs):
        from .bm25_sparse import Bm25Sparse
        from .faiss_dense import FaissDense
        from .passages import ListPassageStore

        self.path = path
        self.manifest = manifest
        self.passages = ListPassageStore(docs, chunks)
        self.docs = self.passages.docs
        self.chunks = self.passages.chunks
        self.doc_by_id = self.passages.doc_by_id
        self.doc_row = self.passages.doc_row
        self.dense = FaissDense(dense, self.passages.allowed)
        self.sparse = Bm25Sparse(bm25_chunks, len(chunks), self.passages.allowed)
        self.report_sparse = Bm25Sparse(bm25_docs, len(docs), self.passages.allowed_docs)
        self.rolled_back_from: str | None = None  # set when this version was made live because a newer one was damaged

    def doc_freq(self, token: str) -> int:
        """How many passages hold a BM25 token (words and ``~``-marked character pairs; see text.tokenize)."""
        return self.sparse.doc_freq(token)

    def idf(self, token: str) -> float:
        """Inverse document frequency of a BM25 token over the chunks (unknown tokens get the maximum)."""
        import math

        n = len(self.chunks)
        df = self.doc_freq(token)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    @property
    def dim(self) -> int:
        return int(self.manifest["embedding"]["dim"])

    def vectors_for(self, rows: list[int]) -> "np.ndarray":
        """The stored vectors of the given chunk rows (for reuse when a report is unchanged)."""
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
    return 1 + _check_files(version, manifest, index_dir, full=True)


def load_index(index_dir: str | os.PathLike, expected: dict | None = None, roll_back: bool = False) -> IndexStore:
    """Load the live version of an index folder; ``expected`` (see expected_manifest_settings) is checked.
    Every file is checked against the manifest first (sizes, digests; sampled blocks for large files).

    A damaged live version raises IndexCorruptError; with ``roll_back`` the newest earlier version that passes
    a full check is made live instead (the pointer swapped atomically) and returned, its ``rolled_back_from``
    naming the damaged version and why. Reports changed since that version are indexed again by the next
    ingest, which compares with what the index holds."""
    index_dir = Path(index_dir)
    try:
        version = current_version(index_dir)
        if version is None:
            raise IndexMissingError(f"no index at {index_dir} (build one with `rag ingest REPORTS_DIR --index {index_dir}`)")
        return _load_version(index_dir, version, expected, full=False)
    except IndexCorruptError as damage:
        if not roll_back:
            raise
        return _roll_back(index_dir, expected, damage)


def _written_at(version: Path) -> tuple[int, str]:
    """When a version was written (its manifest is written once, last): names only have whole seconds."""
    try:
        return (version / "manifest.json").stat().st_mtime_ns, version.name
    except OSError:
        return 0, version.name


def _roll_back(index_dir: Path, expected: dict | None, damage: IndexCorruptError) -> IndexStore:
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
            store = _load_version(index_dir, version, expected, full=True)
        except (IndexCorruptError, IndexMismatchError):
            continue
        pointer_tmp = index_dir / f".{CURRENT_FILE}.{uuid.uuid4().hex[:8]}"
        _write_bytes(pointer_tmp, version.name.encode("utf-8"))
        os.replace(pointer_tmp, pointer)
        _fsync_dir(index_dir)
        store.rolled_back_from = f"{live_name or CURRENT_FILE}: {damage}"
        log.warning("index %s is damaged (%s); rolled back to the previous intact version %s", live_name, damage, version.name)
        return store
    raise damage


def _load_version(index_dir: Path, version: Path, expected: dict | None, full: bool) -> IndexStore:
    """Load one version folder, its files checked against its manifest (every byte with ``full``)."""
    import bm25s
    import faiss

    missing = [name for name in _FILES if not (version / name).is_file()]
    if missing:
        raise IndexCorruptError(f"index {version} is incomplete: missing {', '.join(missing)}; {_rebuild_hint(index_dir)}")
    manifest = _read_manifest(version, index_dir)
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"{version} has format {manifest.get('format')!r} v{manifest.get('format_version')!r}, "
            f"this code reads {FORMAT!r} v{FORMAT_VERSION}; rebuild with `rag ingest --rebuild`"
        )
    if "files" in manifest:
        _check_files(version, manifest, index_dir, full=full)
    if expected is not None:
        check_compatible(manifest, expected, index_dir)
    # past the checksums this is a damaged file the digests cannot see (an old index) or a bug in a reader
    try:
        docs = [StoredDocument(**row) for row in _read_jsonl(version / "docs.jsonl")]
        chunks = [Chunk(**row) for row in _read_jsonl(version / "chunks.jsonl")]
        dense = faiss.read_index(str(version / "dense.faiss"))
        if dense.ntotal != len(chunks) or len(chunks) != manifest.get("counts", {}).get("chunks"):
            raise IndexCorruptError(
                f"index {version} is inconsistent: {dense.ntotal} vectors, {len(chunks)} chunks, "
                f"manifest says {manifest.get('counts')}; {_rebuild_hint(index_dir)}"
            )
        bm25_chunks = bm25_docs = None
        if chunks:
            bm25_chunks = bm25s.BM25.load(str(version / "bm25_chunks"), mmap=False, allow_pickle=False)
            bm25_docs = bm25s.BM25.load(str(version / "bm25_docs"), mmap=False, allow_pickle=False)
        return IndexStore(version, manifest, docs, chunks, dense, bm25_chunks, bm25_docs)
    except (OSError, ValueError, TypeError, KeyError, RuntimeError, EOFError, AttributeError) as exc:
        raise IndexCorruptError(f"index {version} cannot be read ({exc.__class__.__name__}: {exc}); {_rebuild_hint(index_dir)}") from exc


def _bm25(token_lists: list[list[str]]):
    import bm25s

    model = bm25s.BM25()
    # an empty token list would leave a row with no terms; give it the empty token bm25s reserves
    model.index([toks or [""] for toks in token_lists], show_progress=False)
    return model


def write_index(
    index_dir: str | os.PathLike,
    manifest: dict,
    docs: list[StoredDocument],
    chunks: list[Chunk],
    vectors: "np.ndarray",
    chunk_tokens: list[list[str]],
    doc_tokens: list[list[str]],
    dense_kind: str = "flat",
    ef_search: int = 128,
) -> Path:
    """Write a complete new version and make it live; the previous version stays until the swap succeeds.
    ``dense_kind``: ``flat`` (exact) or ``hnsw`` (see ``faiss_dense.build_dense``)."""
    import faiss
    import numpy as np

    index_dir = Path(index_dir)
    name = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    staging = index_dir / f".staging-{name}"
    final = index_dir / name
    pointer_tmp = index_dir / f".{CURRENT_FILE}.{uuid.uuid4().hex[:8]}"
    try:
        previous = current_version(index_dir)
    except IndexCorruptError:  # a damaged pointer is simply replaced (this is how a rebuild repairs it)
        previous = None
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = int(manifest["embedding"]["dim"])
        if vectors.shape != (len(chunks), dim):
            raise ValueError(f"vectors have shape {vectors.shape}, expected ({len(chunks)}, {dim})")
        dense = build_dense(vectors, dense_kind, ef_search)
        # serialised here and written by Python, so a full disk is an OSError with its errno (faiss'
        # own writer reports it as a bare RuntimeError)
        _write_bytes(staging / "dense.faiss", faiss.serialize_index(dense).tobytes())
        _write_jsonl(staging / "docs.jsonl", (asdict(d) for d in docs))
        _write_jsonl(staging / "chunks.jsonl", (asdict(c) for c in chunks))
        if chunks:
            _bm25(chunk_tokens).save(str(staging / "bm25_chunks"), allow_pickle=False)
            _bm25(doc_tokens).save(str(staging / "bm25_docs"), allow_pickle=False)
        manifest = {**manifest, "counts": {"docs": len(docs), "chunks": len(chunks)}, "dense_index": dense_kind}
        # every file is checksummed in the manifest, and the manifest in itself: load finds any damage
        files = {p.relative_to(staging).as_posix(): _file_entry(p) for p in sorted(staging.rglob("*")) if p.is_file()}
        manifest = {**manifest, "files": files}
        manifest["checksum"] = _manifest_digest(manifest)
        # the manifest is written last inside the version: its presence means the rest is complete
        _write_bytes(staging / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"))
        for path in staging.rglob("*"):
            if path.is_file():
                with path.open("rb") as fh:
                    os.fsync(fh.fileno())
        os.replace(staging, final)
        _write_bytes(pointer_tmp, name.encode("utf-8"))
        with pointer_tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        # the swap is the last step that can fail: up to here the previous version is the live one
        os.replace(pointer_tmp, index_dir / CURRENT_FILE)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        pointer_tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            kept = f"previous index kept ({previous.name})" if previous is not None else "no index was written"
            where = exc.filename or index_dir
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise IndexWriteError(f"disk full at {where}, {kept}; free some space and run `rag ingest` again") from exc
            raise IndexWriteError(f"cannot write the index at {where} ({exc.strerror or exc}), {kept}") from exc
        raise
    _fsync_dir(index_dir)
    # clean up: versions older than the previous one (a reader may still be loading that) and crash leftovers
    keep = {name, CURRENT_FILE, ".lock"} | ({previous.name} if previous is not None else set())
    for child in index_dir.iterdir():
        if child.name in keep:
            continue
        if child.is_dir() and child.name.startswith(("v-", ".staging-")):
            shutil.rmtree(child, ignore_errors=True)
        elif child.name.startswith(f".{CURRENT_FILE}."):
            child.unlink(missing_ok=True)
    return final


def manifest_header(embedding: dict, splitter: dict, tokenizer: str) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "embedding": embedding,
        "splitter": {**splitter, "splitter_version": SPLITTER_VERSION},
        "tokenizer": tokenizer,
    }
