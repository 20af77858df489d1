"""Connections to the SQLite file: WAL, a busy timeout, the writer's cache, the schema up to date."""

from __future__ import annotations

import importlib
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .schema import migrate

if TYPE_CHECKING:
    import sqlite_utils

BUSY_TIMEOUT_MS = 30_000  # a backfill beside the daemon waits for the other writer, never fails
WRITER_CACHE_KB = 65_536  # SQLite page cache of the writer connection (default is 2 MB): see docs/performance.md
# WAL pages before the writer's COMMIT checkpoints (SQLite's default is 1,000). At 100k stored
# articles a 32-article transaction dirties ~1,500 pages (the analysis index has random keys),
# so with the default every commit checkpointed and fsynced; 16,000 (~64 MB of WAL) lets pages
# dirtied again and again be copied once: store path 2.13 -> 1.75 ms/article mean, p50 2.06 ->
# 1.04 at 100k (bench/scale.py). The price: on power loss (not on a crash or kill), up to that
# many pages of recent commits can be lost, never a corrupt file (WAL + synchronous=NORMAL).
WAL_AUTOCHECKPOINT_PAGES = 16_000


def database_class() -> type[sqlite_utils.Database]:
    """`sqlite_utils.Database`, imported without pandas unless pandas is already loaded.

    sqlite_utils imports pandas whenever it is installed (pandas is in the test extra) only to
    map DataFrame column types, which ingest never hands it: ~0.35 s and ~40 MB on the path to
    a daemon's first fetch. Blocking the import for that one module keeps it off; a notebook
    that imported pandas first gets sqlite_utils with pandas as usual.
    """
    if "sqlite_utils" not in sys.modules and "pandas" not in sys.modules:
        sys.modules["pandas"] = None  # type: ignore[assignment]  # `import pandas` now raises ImportError
        try:
            importlib.import_module("sqlite_utils")
        finally:
            del sys.modules["pandas"]
    import sqlite_utils

    return sqlite_utils.Database


def connect(path: str | Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection with explicit transactions (BEGIN IMMEDIATE ... COMMIT: isolation_level None)."""
    if readonly:
        conn = sqlite3.connect(
            f"file:{Path(path).resolve()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        # WAL + NORMAL: durable up to the last checkpointed commit, never corrupt
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    return conn


def open_writer(path: str | Path) -> sqlite_utils.Database:
    """The database at `path` opened for the single writer: migrated, with a page cache that
    holds the hot index pages of a large corpus (fewer re-reads per commit at 100k articles)."""
    conn = connect(path)
    conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KB}")
    conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
    migrate(conn)
    return database_class()(conn)
