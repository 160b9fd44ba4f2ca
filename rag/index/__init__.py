"""The index: a storage protocol (``protocol``), its default backend (a folder of immutable segments and
version manifests: ``folder`` to read, ``writer`` to write), and the fusion of dense and keyword matches
(``fusion``). See each module's docstring."""

from .folder import (
    CURRENT_FILE,
    FORMAT,
    FORMAT_VERSION,
    SPLITTER_VERSION,
    Catalog,
    IndexStore,
    check_compatible,
    current_version,
    expected_manifest_settings,
    load_index,
    manifest_header,
    read_catalog,
    verify_index,
)
from .protocol import NO_FILTER, DenseIndex, Matches, PassageStore, SearchFilter, SparseIndex, WritableStore
from .records import StoredDocument, index_text

__all__ = [
    "CURRENT_FILE", "FORMAT", "FORMAT_VERSION", "SPLITTER_VERSION", "Catalog", "IndexStore", "StoredDocument",
    "check_compatible", "current_version", "expected_manifest_settings", "index_text", "load_index",
    "manifest_header", "read_catalog", "verify_index",
    "NO_FILTER", "DenseIndex", "Matches", "PassageStore", "SearchFilter", "SparseIndex", "WritableStore",
]
