"""Open the SQLite database: WAL, a busy timeout, and the schema brought up to date."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from .schema import migrate

BUSY_TIMEOUT_MS = 30_000  # a backfill beside the daemon waits for the other writer, never fails


def connect(path: str | Path, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit: BEGIN IMMEDIATE ... COMMIT)."""
    if readonly:
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable up to the last checkpointed commit, never corrupt
        conn.execute("PRAGMA foreign_keys = ON")
    return conn


def open_db(path: str | Path, readonly: bool = False) -> sqlite_utils.Database:
    """The database at `path`, migrated to the current schema (unless read-only)."""
    conn = connect(path, readonly)
    if not readonly:
        migrate(conn)
    return sqlite_utils.Database(conn)
