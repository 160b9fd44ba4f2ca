"""The translations a language model already made of English questions, kept on disk: a restart, an evaluation
run or a refit asks the model again for none of them (~1 s each for the local 1.5B model on 2 cores).

In: the translator's identity and the question. Out: the translation it gave then ("" too: a model that answered
instead of translating does so again, it decodes greedily), or None when it was never asked. One SQLite file beside
the index versions, ``<index_dir>/translations.sqlite``, keyed by a digest of the translator's identity and the
whole prompt it reads (``translate.messages``): another model, or new instructions or worked examples, ask again.
Bounded: past ``MAX_ROWS`` the least recently stored are dropped. A file that cannot be read is set aside and
started afresh, and a write that fails is skipped: the memory only ever saves work, it never stops a question.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

from .embed_cache import cache_key, connect_cache

log = logging.getLogger(__name__)

MEMORY_FILE = "translations.sqlite"
MAX_ROWS = 100_000  # ~200 bytes each: a chat asked in English all day stays a few tens of MB
_SCHEMA = "CREATE TABLE IF NOT EXISTS translations (key BLOB PRIMARY KEY, text TEXT NOT NULL)"


class TranslationMemory:
    """The memory of one index folder; safe to share between the threads that answer questions (each call opens
    its own connection: a translation is asked for at most once a question)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @classmethod
    def beside(cls, index_dir: str | Path) -> TranslationMemory:
        return cls(Path(index_dir) / MEMORY_FILE)

    @staticmethod
    def key(identity: str, prompt: list[dict[str, str]]) -> bytes:
        return cache_key(identity, json.dumps(prompt, ensure_ascii=False))

    def recall(self, key: bytes) -> str | None:
        try:
            with self._lock, closing(connect_cache(self.path, _SCHEMA, "translations")) as db:
                row = db.execute("SELECT text FROM translations WHERE key = ?", (key,)).fetchone()
        except (sqlite3.Error, OSError) as exc:
            log.warning("translation memory %s unreadable: %s", self.path, exc)
            return None
        return row[0] if row else None

    def keep(self, key: bytes, text: str) -> None:
        try:
            with self._lock, closing(connect_cache(self.path, _SCHEMA, "translations")) as db:
                db.execute("BEGIN")
                # a replaced row gets a new rowid: rowids order the rows by when they were stored
                db.execute("INSERT OR REPLACE INTO translations (key, text) VALUES (?, ?)", (key, text))
                db.execute("DELETE FROM translations WHERE rowid <= (SELECT max(rowid) FROM translations) - ?", (MAX_ROWS,))
                db.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            log.warning("translation memory %s not written: %s", self.path, exc)
