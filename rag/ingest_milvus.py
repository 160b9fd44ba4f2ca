"""``rag ingest`` into the Milvus store (``store.backend = "milvus"``): reports added, changed or removed are
written in place; the rest is not touched, embedded or tokenized.

In: the loaded reports (``rag.load``), the index folder (it holds the lock, the embedding cache and, by default,
the Milvus Lite file ``milvus.db``), settings, the embedder. Out: the ``IngestReport``. The manifest (model,
splitter, tokenizer) is kept in the store; a store built with other settings is refused as the folder's is.
Crash safety: each report is deleted or added as a unit by Milvus; an ingest killed midway leaves every report
either in its old or its new state, and the next ingest finishes the rest (new passages come from the
embedding cache).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Settings
    from .index.milvus_store import MilvusStore
    from .ingest import IngestReport

MILVUS_LITE_FILE = "milvus.db"
COLLECTION_PREFIX = "rag"


def milvus_uri(settings: "Settings", index_dir: str | Path) -> str:
    """``store.milvus_uri``, or a Milvus Lite file in the index folder."""
    return settings.store.milvus_uri or str(Path(index_dir) / MILVUS_LITE_FILE)


def open_milvus_store(settings: "Settings", index_dir: str | Path, embedder, dim: int | None = None) -> "MilvusStore":
    """The Milvus store of this index, checked against ``settings`` when it holds reports (IndexMismatchError)."""
    from .errors import IndexMissingError
    from .index.folder import check_compatible
    from .index.milvus_store import MilvusStore
    from .ingest import settings_fingerprint

    uri = milvus_uri(settings, index_dir)
    if dim is None and not settings.store.milvus_uri and not Path(uri).exists():
        raise IndexMissingError(f"no Milvus store at {uri}: run `rag ingest` first")
    store = MilvusStore(uri, COLLECTION_PREFIX, dim or embedder.describe().dim)
    if store.docs and "splitter" in store.manifest:
        check_compatible(store.manifest, settings_fingerprint(settings, embedder), Path(uri))
    return store


def ingest_milvus(loaded, index_dir: Path, settings: "Settings", embedder, report: "IngestReport",
                  rebuild: bool = False, progress=None) -> "IngestReport":
    from .embed_cache import EmbedCache, model_fingerprint
    from .embed_stage import embed_passages
    from .index.folder import manifest_header
    from .ingest import (TOKENIZER_NAME, embedder_header, indexable, prepare_document, report_index_text, report_tokens,
                         splitter_header, too_many_passages)
    from .text import tokenize

    header = embedder_header(settings, embedder, load_model=True)
    store = open_milvus_store(settings, index_dir, embedder, dim=header["dim"])
    try:
        if rebuild and store.docs:
            store.delete([d.doc_id for d in store.docs])
        existing = dict(store.doc_by_id)
        documents = indexable(loaded.documents, report)
        docs, chunks, texts = [], [], []
        for doc in documents:
            old = existing.get(doc.doc_id)
            if old is not None and old.text == doc.text and old.source == doc.source:
                report.unchanged.append(doc.source)
                continue
            stored, doc_chunks, doc_texts = prepare_document(doc, settings)
            limit = settings.corpus.max_passages_per_report
            if len(doc_chunks) > limit:
                report.skipped[doc.source] = too_many_passages(len(doc_chunks), limit)
                continue
            docs.append(stored)
            chunks.extend(doc_chunks)
            texts.extend(doc_texts)
            report.added.append(doc.source)
        kept_ids = {d.doc_id for d in documents}
        gone = [d for d in existing.values() if d.doc_id not in kept_ids]
        report.removed = sorted(d.source for d in gone)
        if gone:
            store.delete([d.doc_id for d in gone])
        if docs:
            cache = EmbedCache.open(index_dir, model_fingerprint(header), header["dim"])
            try:
                vectors, report.embedded_chunks = embed_passages(
                    texts, embedder, cache, header["dim"], settings.embedding.batch_size, settings.embedding.sort_by_length,
                    progress, ray_settings=settings.embedding if settings.embedding.engine == "ray" else None,
                )
            finally:
                cache.close()
            report.cached_chunks = len(texts) - report.embedded_chunks
            store.set_manifest(manifest_header(header, splitter_header(settings), TOKENIZER_NAME))
            store.add(docs, chunks, vectors, [tokenize(t) for t in texts], [report_tokens(report_index_text(d)) for d in docs])
        report.total_chunks = store.passages.passage_count()
    finally:
        store.close()
    return report
