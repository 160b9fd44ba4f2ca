"""The keyword-token cache: the BM25 tokens of every text already tokenized, so an ingest tokenizes only what
is new. Tokenizing every passage and report again (jieba, character pairs, pinyin) was most of the cost of
adding or deleting one report: ~2 minutes on 133 reports, with nothing to embed.

In: texts, the kind of tokens (``passage`` / ``report``: different tokenizers), the tokenizer's name and a
tokenize function. Out: token lists, from ``<index_dir>/token_cache.sqlite`` (JSON text; no pickle) where
present, else made and stored. Keyed by a blake2b digest of (kind, tokenizer name, text). After a successful
ingest it keeps exactly the live version's texts (``keep_only``). A file that cannot be read is set aside and
started afresh, and any SQLite error falls back to tokenizing: the cache only ever saves work.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from pathlib import Path
from typing import Callable, Sequence

from .embed_cache import connect_cache

log = logging.getLogger(__name__)

TOKEN_CACHE_FILE = "token_cache.sqlite"
_SCHEMA = "CREATE TABLE IF NOT EXISTS tokens (key BLOB PRIMARY KEY, toks TEXT NOT NULL) WITHOUT ROWID"


class TokenCache:
    """The token cache of one index folder (``TokenCache(index_dir, tokenizer_name)``; ``close()``)."""

    def __init__(self, index_dir: str | Path, tokenizer_name: str) -> None:
        self.path = Path(index_dir) / TOKEN_CACHE_FILE
        self.tokenizer_name = tokenizer_name
        try:
            self._db: sqlite3.Connection | None = connect_cache(self.path, _SCHEMA, "tokens")
        except sqlite3.DatabaseError as exc:  # unreadable even when started afresh: tokenize without a cache
            log.warning("token cache %s not used (%s)", self.path, exc)
            self._db = None

    def _key(self, kind: str, text: str) -> bytes:
        h = hashlib.blake2b(f"{kind}\x00{self.tokenizer_name}\x00".encode("utf-8"), digest_size=16)
        h.update(text.encode("utf-8", "surrogatepass"))
        return h.digest()

    def tokens(self, kind: str, texts: Sequence[str], tokenize: Callable[[str], list[str]]) -> list[list[str]]:
        """The tokens of each text, in order: stored ones read, the others made with ``tokenize`` and stored."""
        keys = [self._key(kind, t) for t in texts]
        found: dict[bytes, list[str]] = {}
        made: dict[bytes, list[str]] = {}
        try:
            unique = list(dict.fromkeys(keys))
            for i in range(0, len(unique), 500):  # SQLite's bound-parameter limit
                part = unique[i : i + 500]
                found.update((bytes(k), json.loads(v)) for k, v in self._db.execute(
                    f"SELECT key, toks FROM tokens WHERE key IN ({','.join('?' * len(part))})", part))
        except (sqlite3.Error, AttributeError, ValueError) as exc:  # no cache, or a bad row: tokenize
            log.warning("token cache %s not used (%s)", self.path, exc)
            found = {}
        out = []
        for key, text in zip(keys, texts):
            if key not in found and key not in made:
                made[key] = tokenize(text)
            out.append(found[key] if key in found else made[key])
        if made and self._db is not None:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("INSERT OR REPLACE INTO tokens (key, toks) VALUES (?, ?)",
                                     ((k, json.dumps(v, ensure_ascii=False)) for k, v in made.items()))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                log.warning("token cache %s not written (%s)", self.path, exc)
        return out

    def keep_only(self, live: Sequence[tuple[str, str]]) -> None:
        """Drop every entry but those of the (kind, text) pairs of the live version."""
        if self._db is None:
            return
        keep = {self._key(kind, text) for kind, text in live}
        try:
            stale = [(k,) for (k,) in self._db.execute("SELECT key FROM tokens") if bytes(k) not in keep]
            if stale:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("DELETE FROM tokens WHERE key = ?", stale)
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            log.warning("token cache %s not trimmed (%s)", self.path, exc)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
