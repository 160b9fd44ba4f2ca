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
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from .errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from .schema import Chunk

if TYPE_CHECKING:
    import numpy as np

FORMAT = "rag-report-index"
FORMAT_VERSION = 1
SPLITTER_VERSION = 1
CURRENT_FILE = "CURRENT"
_FILES = ("manifest.json", "docs.jsonl", "chunks.jsonl", "dense.faiss")


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
    """A loaded index: chunks in vector order, the FAISS index, both BM25 indexes, and the reports."""

    def __init__(self, path: Path, manifest: dict, docs: list[StoredDocument], chunks: list[Chunk], dense, bm25_chunks, bm25_docs):
        self.path = path
        self.manifest = manifest
        self.docs = docs
        self.chunks = chunks
        self.dense = dense
        self.bm25_chunks = bm25_chunks
        self.bm25_docs = bm25_docs
        self.doc_by_id = {d.doc_id: d for d in docs}
        self.doc_row = {d.doc_id: i for i, d in enumerate(docs)}
        self.chunk_doc_rows = [self.doc_row[c.doc_id] for c in chunks]

    def idf(self, token: str) -> float:
        """Inverse document frequency of a BM25 token over the chunks (unknown tokens get the maximum)."""
        import math

        n = len(self.chunks)
        df = 0
        if self.bm25_chunks is not None:
            tid = self.bm25_chunks.vocab_dict.get(token)
            if tid is not None:
                indptr = self.bm25_chunks.scores["indptr"]
                df = int(indptr[tid + 1] - indptr[tid])
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    @property
    def dim(self) -> int:
        return int(self.manifest["embedding"]["dim"])

    def vectors_for(self, rows: list[int]) -> "np.ndarray":
        """The stored vectors of the given chunk rows (for reuse when a report is unchanged)."""
        import numpy as np

        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self.dense.reconstruct(int(r)) for r in rows]).astype(np.float32)


def current_version(index_dir: Path) -> Path | None:
    pointer = index_dir / CURRENT_FILE
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    return index_dir / name if name else None


def load_index(index_dir: str | os.PathLike, expected: dict | None = None) -> IndexStore:
    """Load the live version of an index folder; ``expected`` (see expected_manifest_settings) is checked."""
    import bm25s
    import faiss

    index_dir = Path(index_dir)
    version = current_version(index_dir)
    if version is None:
        raise IndexMissingError(f"no index at {index_dir} (build one with `rag ingest REPORTS_DIR --index {index_dir}`)")
    missing = [name for name in _FILES if not (version / name).is_file()]
    if missing:
        raise IndexCorruptError(f"index {version} is incomplete: missing {', '.join(missing)}; rebuild it with `rag ingest --rebuild`")
    try:
        manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise IndexCorruptError(f"{version / 'manifest.json'} is not valid JSON: {exc}") from exc
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"{version} has format {manifest.get('format')!r} v{manifest.get('format_version')!r}, "
            f"this code reads {FORMAT!r} v{FORMAT_VERSION}; rebuild with `rag ingest --rebuild`"
        )
    if expected is not None:
        check_compatible(manifest, expected, index_dir)
    try:
        docs = [StoredDocument(**row) for row in _read_jsonl(version / "docs.jsonl")]
        chunks = [Chunk(**row) for row in _read_jsonl(version / "chunks.jsonl")]
        dense = faiss.read_index(str(version / "dense.faiss"))
    except (json.JSONDecodeError, TypeError, RuntimeError) as exc:
        raise IndexCorruptError(f"index {version} cannot be read: {exc}") from exc
    if dense.ntotal != len(chunks) or len(chunks) != manifest.get("counts", {}).get("chunks"):
        raise IndexCorruptError(
            f"index {version} is inconsistent: {dense.ntotal} vectors, {len(chunks)} chunks, "
            f"manifest says {manifest.get('counts')}"
        )
    bm25_chunks = bm25_docs = None
    if chunks:
        bm25_chunks = bm25s.BM25.load(str(version / "bm25_chunks"), mmap=False, allow_pickle=False)
        bm25_docs = bm25s.BM25.load(str(version / "bm25_docs"), mmap=False, allow_pickle=False)
    return IndexStore(version, manifest, docs, chunks, dense, bm25_chunks, bm25_docs)


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
) -> Path:
    """Write a complete new version and make it live; the previous version stays until the swap succeeds."""
    import faiss
    import numpy as np

    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    staging = index_dir / f".staging-{name}"
    staging.mkdir()
    try:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = int(manifest["embedding"]["dim"])
        if vectors.shape != (len(chunks), dim):
            raise ValueError(f"vectors have shape {vectors.shape}, expected ({len(chunks)}, {dim})")
        dense = faiss.IndexFlatIP(dim)
        if len(chunks):
            dense.add(vectors)
        faiss.write_index(dense, str(staging / "dense.faiss"))
        _write_jsonl(staging / "docs.jsonl", (asdict(d) for d in docs))
        _write_jsonl(staging / "chunks.jsonl", (asdict(c) for c in chunks))
        if chunks:
            _bm25(chunk_tokens).save(str(staging / "bm25_chunks"), allow_pickle=False)
            _bm25(doc_tokens).save(str(staging / "bm25_docs"), allow_pickle=False)
        manifest = {**manifest, "counts": {"docs": len(docs), "chunks": len(chunks)}}
        # the manifest is written last inside the version: its presence means the rest is complete
        (staging / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        for path in staging.rglob("*"):
            if path.is_file():
                with path.open("rb") as fh:
                    os.fsync(fh.fileno())
        final = index_dir / name
        os.replace(staging, final)
        pointer_tmp = index_dir / f".{CURRENT_FILE}.{uuid.uuid4().hex[:8]}"
        pointer_tmp.write_text(name, encoding="utf-8")
        with pointer_tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        previous = current_version(index_dir)
        os.replace(pointer_tmp, index_dir / CURRENT_FILE)
        _fsync_dir(index_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
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
