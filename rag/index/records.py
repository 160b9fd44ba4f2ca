"""What the index stores of a report, and the text a passage is indexed by.

``StoredDocument``: a report's names and its full text. A report loaded from a large index carries a reader
instead of its text (``text`` reads it on demand), so a loaded index holds vectors and postings, not the
corpus; ``record`` / ``from_record`` are its JSON form (text included).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

from ..schema import Chunk


@dataclass(frozen=True)
class StoredDocument:
    """A report as the index keeps it (the full text is kept so citations can always be shown).
    Built with the text (``StoredDocument(doc_id, source, title, encoding, context, text)``) or with a function
    that reads it."""

    doc_id: str
    source: str
    title: str
    encoding: str
    context: str
    _text: str | Callable[[], str] = field(repr=False, compare=False)

    @property
    def text(self) -> str:
        text = self._text
        return text if isinstance(text, str) else text()

    def record(self, with_text: bool = True) -> dict:
        """JSON form; without the text it carries its length and digest instead."""
        row = {"doc_id": self.doc_id, "source": self.source, "title": self.title, "encoding": self.encoding, "context": self.context}
        if with_text:
            row["text"] = self.text
        else:
            text = self.text
            row["chars"] = len(text)
            row["text_digest"] = text_digest(text)
        return row

    @staticmethod
    def from_record(row: dict, text: str | Callable[[], str] | None = None) -> "StoredDocument":
        return StoredDocument(row["doc_id"], row["source"], row["title"], row["encoding"], row["context"],
                              row["text"] if text is None else text)


def text_digest(text: str) -> str:
    """blake2b of a report's text: tells whether the loader still reads a file's bytes the same way."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def index_text(chunk: Chunk, context: str, with_context: bool = True) -> str:
    """What is embedded and keyword-indexed for a chunk: report context, section path, then the text."""
    if not with_context:
        return chunk.text
    head = "\n".join(p for p in (context, chunk.section) if p)
    return f"{head}\n{chunk.text}" if head else chunk.text
