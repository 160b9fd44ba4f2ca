"""What the last ingest saw of each report file: its size and modification time, and the report it holds.

In: an index folder. Out: name -> (size, mtime_ns, doc id), from ``<index_dir>/file_state.sqlite`` (no pickle),
replaced after every successful ingest. ``rag.load.load_folder`` does not read a file whose name, size and
modification time are unchanged: seeing that 68k files are the same then costs a directory walk, not reading
134 MB. Only a saving: a missing or damaged file means every report file is read, as on a first ingest.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Mapping

from .embed_cache import connect_cache

STATE_FILE = "file_state.sqlite"
_SCHEMA = "CREATE TABLE IF NOT EXISTS files (source TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, doc_id TEXT) WITHOUT ROWID"


def read_file_state(index_dir: Path) -> dict[str, tuple[int, int, str]]:
    if not (index_dir / STATE_FILE).is_file():
        return {}
    try:
        db = connect_cache(index_dir / STATE_FILE, _SCHEMA, "files")
    except sqlite3.DatabaseError:
        return {}
    try:
        return {src: (int(size), int(mtime), doc) for src, size, mtime, doc in db.execute("SELECT * FROM files")}
    finally:
        db.close()


def write_file_state(index_dir: Path, state: Mapping[str, tuple[int, int, str]]) -> None:
    """Replace the stored state with ``state`` (one transaction)."""
    db = connect_cache(index_dir / STATE_FILE, _SCHEMA, "files")
    try:
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM files")
        db.executemany("INSERT INTO files VALUES (?, ?, ?, ?)", ((s, *v) for s, v in state.items()))
        db.execute("COMMIT")
    finally:
        db.close()
