"""What can go wrong with the database itself, as one line and an exit code.

A bad `--db` path is the user's to fix (exit 2, like any bad argument); a database that cannot
be written or read safely (read-only, full disk, corrupt) is a storage fault (exit 3). Either
way nothing already stored is touched: the check happens before the first write, and a write
that fails mid-transaction is rolled back by SQLite.
"""
from __future__ import annotations

import sqlite3

FAILED = 1
BAD_PATH = 2
STORAGE_FAULT = 3

# SQLite result codes (the low byte of sqlite_errorcode) that mean the database itself is the
# problem, not one article: going on would fail every write the same way.
_FATAL = {
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_READONLY: "the database is read-only",
    sqlite3.SQLITE_IOERR: "a disk I/O error",
    sqlite3.SQLITE_CORRUPT: "the database is corrupt (run `ingest check` for details)",
    sqlite3.SQLITE_NOTADB: "the file is not an SQLite database",
    sqlite3.SQLITE_CANTOPEN: "the database file cannot be opened",
    sqlite3.SQLITE_PERM: "permission denied",
}


class StoreError(Exception):
    """The database cannot be used; `str(e)` is one line, `e.code` the exit code."""

    def __init__(self, message: str, code: int = STORAGE_FAULT):
        super().__init__(message)
        self.code = code


def fatal(error: BaseException, path: str) -> StoreError | None:
    """A StoreError for an SQLite error that concerns the whole database, else None."""
    if not isinstance(error, sqlite3.Error):
        return None
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return None
    why = _FATAL.get(code & 0xFF)
    return StoreError(f"cannot use the database {path}: {why}", STORAGE_FAULT) if why else None
