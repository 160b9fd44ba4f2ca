"""Cited question answering over Chinese government work reports.

    import rag
    a = rag.ask("永北圩所在的镇2022年保障了多少户低保？")
    a.text, a.status, a.citations, a.hits

``import rag`` is cheap: torch, faiss, jieba and gradio load only when first needed.
"""

from __future__ import annotations

from .config import Settings, load_settings
from .errors import (
    ConfigError,
    EmbeddingError,
    EmptyQuestionError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    RagError,
    UnreadableReportError,
)
from .schema import Answer, Chunk, Citation, Document, Hit

__all__ = [
    "Answer", "Assistant", "Chunk", "Citation", "ConfigError", "Document", "EmbeddingError",
    "EmptyQuestionError", "Hit", "IndexCorruptError", "IndexMismatchError", "IndexMissingError",
    "RagError", "Settings", "UnreadableReportError", "ask", "default_assistant", "ingest", "load_settings",
]


def __getattr__(name: str):
    # the pipeline pulls in numpy/faiss lazily; keep `import rag` light
    if name in ("Assistant", "ask", "default_assistant"):
        from . import pipeline

        return getattr(pipeline, name)
    if name == "ingest":
        from .ingest import ingest

        return ingest
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
