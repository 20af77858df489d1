"""Connections to the SQLite file: WAL, a busy timeout, the writer's cache, the schema up to date."""

from __future__ import annotations

import importlib
import os
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.store.errors import BAD_PATH, STORAGE_FAULT, StoreError, fatal

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
SQLITE_HEADER = b"SQLite format 3\x00"


def check_path(path: str | Path, write: bool) -> None:
    """Refuse, with one line, a `--db` path that cannot hold an ingest database: a folder, a
    file that is not SQLite, a missing database for a reading command, a missing folder (never
    created behind the user's back), or a file or folder that cannot be written."""
    p = Path(path)
    if p.is_dir():
        raise StoreError(f"{path} is a folder, not a database file", BAD_PATH)
    if p.exists():
        try:
            with open(p, "rb") as f:
                head = f.read(len(SQLITE_HEADER))
        except OSError as e:
            raise StoreError(f"cannot read {path}: {e.strerror}", STORAGE_FAULT) from None
        if head and head != SQLITE_HEADER:
            raise StoreError(f"{path} is not an ingest database (not an SQLite file)", BAD_PATH)
        if write and not os.access(p, os.W_OK):
            raise StoreError(f"cannot write to {path}: the file is read-only", STORAGE_FAULT)
        if write and not os.access(p.parent, os.W_OK):
            raise StoreError(f"cannot write beside {path}: its folder is read-only "
                             "(SQLite keeps its write-ahead log there)", STORAGE_FAULT)
    elif not write:
        raise StoreError(f"no database at {path}", BAD_PATH)
    elif not p.parent.is_dir():
        raise StoreError(f"no folder {p.parent} for the database {path} (create it first)", BAD_PATH)
    elif not os.access(p.parent, os.W_OK):
        raise StoreError(f"cannot create {path}: its folder is read-only", STORAGE_FAULT)


def database_class() -> type[sqlite_utils.Database]:
    """`sqlite_utils.Database`, imported without pandas and numpy unless they are already loaded.

    sqlite_utils imports pandas and numpy whenever they are installed (numpy is ingest's own
    dependency, for the workers) only to map DataFrame and numpy column types, which ingest never
    hands it: ~0.35 s + ~0.1 s and ~60 MB on the path to a daemon's first fetch. Blocking the
    import of each for that one module keeps them off; a notebook that imported them first gets
    sqlite_utils with them as usual.
    """
    blocked = [m for m in ("pandas", "numpy") if m not in sys.modules]
    if "sqlite_utils" not in sys.modules and blocked:
        for m in blocked:
            sys.modules[m] = None  # type: ignore[assignment]  # `import m` now raises ImportError
        try:
            importlib.import_module("sqlite_utils")
        finally:
            for m in blocked:
                del sys.modules[m]
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


def open_writer(path: str | Path, check: bool = True) -> sqlite_utils.Database:
    """`open_connection` wrapped in sqlite-utils' Database, for scripts, tests and benchmarks that
    write with its table API. The store itself writes plain SQL on the bare connection."""
    return database_class()(open_connection(path, check))


def open_connection(path: str | Path, check: bool = True) -> sqlite3.Connection:
    """The database at `path` opened for the single writer: checked (path, then SQLite's
    quick_check: a corrupt file is refused before anything is written to it), migrated, with a
    page cache that holds the hot index pages of a large corpus (fewer re-reads per commit).

    No sqlite-utils here (~40 ms of imports: dateutil, pluggy...) on a daemon's way to its
    first fetch (docs/performance.md, start-up)."""
    if check:
        check_path(path, write=True)
    try:
        conn = connect(path)
        if check:
            verdict = conn.execute("PRAGMA quick_check").fetchall()
            if verdict != [("ok",)]:
                conn.close()
                raise StoreError(f"the database {path} is corrupt ({verdict[0][0]}); `ingest check` lists "
                                 "the damage, a copy from backup or `sqlite3 .recover` repairs it", STORAGE_FAULT)
        conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KB}")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        migrate(conn)
    except sqlite3.Error as e:
        raise fatal(e, str(path)) or StoreError(f"cannot open the database {path}: {e}", STORAGE_FAULT) from None
    return conn
