"""The index: a storage protocol (``protocol``), its default backend (a versioned folder of FAISS + bm25s files,
``folder``), and the fusion of dense and keyword matches (``fusion``). See each module's docstring."""

from .folder import (
    CURRENT_FILE,
    FORMAT,
    FORMAT_VERSION,
    SPLITTER_VERSION,
    IndexStore,
    StoredDocument,
    check_compatible,
    current_version,
    expected_manifest_settings,
    index_text,
    load_index,
    manifest_header,
    verify_index,
    write_index,
)
from .protocol import NO_FILTER, DenseIndex, Matches, PassageStore, SearchFilter, SparseIndex, WritableStore

__all__ = [
    "CURRENT_FILE", "FORMAT", "FORMAT_VERSION", "SPLITTER_VERSION", "IndexStore", "StoredDocument",
    "check_compatible", "current_version", "expected_manifest_settings", "index_text", "load_index",
    "manifest_header", "verify_index", "write_index",
    "NO_FILTER", "DenseIndex", "Matches", "PassageStore", "SearchFilter", "SparseIndex", "WritableStore",
]
