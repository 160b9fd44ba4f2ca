"""The embedding cache: a vector for every passage text already embedded, so no passage is embedded twice.

In: passage texts as embedded (``index_text``) and a model fingerprint. Out: the vectors found, and vectors
stored as each batch completes. Touches one SQLite file beside the index versions,
``<index_dir>/embed_cache.sqlite`` (float32 bytes in BLOBs; no pickle).

Keyed by a blake2b digest of (model fingerprint, text), so a renamed or moved report, an identical passage in
another report, and an ingest that was interrupted (Ctrl-C, kill -9) all reuse the vectors already made.
Each batch is one committed transaction: a kill leaves every earlier batch stored and the later ones absent,
never half a row. After a successful ingest the cache holds exactly the live version's passages
(``keep_only`` after a rebuild, ``forget`` for a deleted report), so it stays the size of the dense index. A cache file that cannot be read is set aside and
started afresh: the cache only ever saves work, it never stops an ingest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

CACHE_FILE = "embed_cache.sqlite"
_SCHEMA = "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL) WITHOUT ROWID"


def model_fingerprint(header: dict) -> str:
    """What makes two vectors of the same text interchangeable: backend, model and the passage prompt."""
    return json.dumps({k: header.get(k) for k in ("backend", "model", "passage_prompt", "normalized")}, sort_keys=True)


def cache_key(fingerprint: str, text: str) -> bytes:
    """16-byte digest of (fingerprint, text). A lone surrogate in a text hashes too (``surrogatepass``)."""
    h = hashlib.blake2b(fingerprint.encode("utf-8"), digest_size=16)
    h.update(b"\x00")
    h.update(text.encode("utf-8", "surrogatepass"))
    return h.digest()


def connect_cache(path: Path, schema: str, table: str, shared: bool = False) -> sqlite3.Connection:
    """A cache's SQLite file opened for use: WAL, ``schema`` created, ``table`` readable. A damaged file is
    set aside (deleted with its WAL) and started afresh once; a second failure raises ``sqlite3.DatabaseError``.
    ``shared``: the connection may be used from other threads (the caller serialises its use)."""
    try:
        return _connect_once(path, schema, table, shared)
    except sqlite3.DatabaseError as exc:  # damaged file: a cache is only a saving, start again
        log.warning("cache %s is unreadable (%s); starting a new one", path, exc)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return _connect_once(path, schema, table, shared)


def _connect_once(path: Path, schema: str, table: str, shared: bool = False) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=not shared)  # explicit transactions only
    try:
        # WAL + NORMAL: a committed batch survives a killed process; only a power cut may lose the last few
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(schema)
        db.execute(f"SELECT count(*) FROM {table}").fetchone()
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


class EmbedCache:
    """The cache of one index folder. Open with ``EmbedCache.open(index_dir, fingerprint, dim)``; ``close()``."""

    def __init__(self, path: Path, fingerprint: str, dim: int) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.dim = dim
        self._db = connect_cache(self.path, _SCHEMA, "vectors")

    @classmethod
    def open(cls, index_dir: str | Path, fingerprint: str, dim: int) -> "EmbedCache":
        return cls(Path(index_dir) / CACHE_FILE, fingerprint, dim)

    def keys(self, texts: Iterable[str]) -> list[bytes]:
        return [cache_key(self.fingerprint, t) for t in texts]

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, "np.ndarray"]:
        """The stored vectors among ``keys`` (a row of the wrong size, e.g. another model's, is a miss)."""
        import numpy as np

        found: dict[bytes, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        width = self.dim * 4
        for i in range(0, len(unique), 500):  # SQLite's bound-parameter limit
            part = unique[i : i + 500]
            rows = self._db.execute(
                f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(part))})", part
            ).fetchall()
            for key, blob in rows:
                if len(blob) == width:
                    found[bytes(key)] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, keys: Sequence[bytes], vectors: "np.ndarray") -> None:
        """Store one batch in one transaction (all rows or none)."""
        import numpy as np

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)",
                ((k, v.tobytes()) for k, v in zip(keys, vectors)),
            )

    def stored_keys(self) -> set[bytes]:
        return {bytes(k) for (k,) in self._db.execute("SELECT key FROM vectors")}

    def keep_only(self, keys: Sequence[bytes], vectors: "np.ndarray") -> int:
        """Make the cache hold exactly ``keys`` (the live version's passages): store the missing ones (e.g.
        vectors of an index built before the cache existed), drop the rest. Returns how many were dropped."""
        import numpy as np

        live = dict(zip(keys, range(len(keys))))
        stored = self.stored_keys()
        missing = [k for k in live if k not in stored]
        stale = [k for k in stored if k not in live]
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)",
                ((k, vectors[live[k]].tobytes()) for k in missing),
            )
            self._db.executemany("DELETE FROM vectors WHERE key = ?", ((k,) for k in stale))
        if stale:
            # give the freed pages back so the file stays the size of what it holds
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.execute("VACUUM")
        return len(stale)

    def forget(self, keys: Iterable[bytes]) -> None:
        """Drop these keys (a deleted report's passages). The freed pages are reused by later vectors; no
        VACUUM here, which would rewrite the whole file for a small delete."""
        with self._transaction():
            self._db.executemany("DELETE FROM vectors WHERE key = ?", ((k,) for k in keys))

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM vectors").fetchone()[0])

    @contextmanager
    def _transaction(self):
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()
