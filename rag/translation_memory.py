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
from contextlib import suppress
from pathlib import Path

from .embed_cache import cache_key, connect_cache

log = logging.getLogger(__name__)

MEMORY_FILE = "translations.sqlite"
MAX_ROWS = 100_000  # ~200 bytes each: a chat asked in English all day stays a few tens of MB
_SCHEMA = "CREATE TABLE IF NOT EXISTS translations (key BLOB PRIMARY KEY, text TEXT NOT NULL)"


class TranslationMemory:
    """The memory of one index folder; safe to share between the threads that answer questions: one connection,
    opened on first use and used under a lock (a lookup is a primary-key read, microseconds); after an error it
    is closed and the next call opens it afresh (``connect_cache`` sets a damaged file aside)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        """The open connection (call under ``_lock``)."""
        if self._db is None:
            self._db = connect_cache(self.path, _SCHEMA, "translations", shared=True)
        return self._db

    def _drop(self) -> None:
        """Close the connection after an error (call under ``_lock``)."""
        if self._db is not None:
            with suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    def close(self) -> None:
        with self._lock:
            self._drop()

    @classmethod
    def beside(cls, index_dir: str | Path) -> TranslationMemory:
        return cls(Path(index_dir) / MEMORY_FILE)

    @staticmethod
    def key(identity: str, prompt: list[dict[str, str]]) -> bytes:
        return cache_key(identity, json.dumps(prompt, ensure_ascii=False))

    def recall(self, key: bytes) -> str | None:
        with self._lock:
            try:
                row = self._connection().execute("SELECT text FROM translations WHERE key = ?", (key,)).fetchone()
            except (sqlite3.Error, OSError) as exc:
                log.warning("translation memory %s unreadable: %s", self.path, exc)
                self._drop()
                return None
        return row[0] if row else None

    def keep(self, key: bytes, text: str) -> None:
        with self._lock:
            try:
                db = self._connection()
                db.execute("BEGIN")
                try:
                    # a replaced row gets a new rowid: rowids order the rows by when they were stored
                    db.execute("INSERT OR REPLACE INTO translations (key, text) VALUES (?, ?)", (key, text))
                    db.execute("DELETE FROM translations WHERE rowid <= (SELECT max(rowid) FROM translations) - ?", (MAX_ROWS,))
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            except (sqlite3.Error, OSError) as exc:
                log.warning("translation memory %s not written: %s", self.path, exc)
                self._drop()
