"""The store stage: one door to the database (protocol.py), one backend per kind of database.

    async with open_store(cfg) as store:
        stored = await store.store(candidate, extracted)

SQLite in one file (ingest/store/sqlite/) is the default backend; a `postgresql://` URL as the
database selects PostgreSQL (ingest/store/postgres/), for several writer processes on one
corpus. Pure policy the backends share lives beside them: article identity (identity.py), what
is a new version (versions.py), when to poll and re-check (schedule.py).
"""
from __future__ import annotations

import hashlib
import importlib.util
import re
import tempfile
from pathlib import Path
from typing import Any

from ingest.config import Config

from .errors import BAD_PATH, StoreError
from .postgres.connection import is_postgres, redact
from .protocol import Store
from .sqlite.connection import check_path
from .sqlite.service import SQLiteStore

__all__ = ["Store", "check_database", "is_postgres", "local_file", "open_store"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def check_database(database: str, write: bool) -> None:
    """Refuse, with one line (exit 2), a database this build cannot use: a URL of another kind,
    a PostgreSQL URL without psycopg installed; SQLite paths get `check_path`'s checks."""
    if is_postgres(database):
        if importlib.util.find_spec("psycopg") is None:
            raise StoreError(f"{redact(database)}: this installation cannot use PostgreSQL (psycopg is missing): "
                             "pip install 'ingest[postgres]'", BAD_PATH)
        return
    if _URL.match(database):
        raise StoreError(f"{redact(database)}: not a database this build can use (an SQLite file path, or "
                         "postgresql://user@host/dbname)", BAD_PATH)
    check_path(database, write)


def local_file(database: str, suffix: str) -> Path:
    """A file that belongs beside the database on this machine (the daemon's lock and status):
    `<database><suffix>` for SQLite; for a PostgreSQL URL, a file in the temporary folder named
    after the URL (without its password)."""
    if is_postgres(database):
        digest = hashlib.sha256(redact(database).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"ingest-pg-{digest}{suffix}"
    return Path(f"{database}{suffix}")


def open_store(cfg: Config, **options: Any) -> SQLiteStore:
    """The store for `cfg.database`, to be entered with `async with` (which opens it)."""
    if is_postgres(cfg.database):
        from .postgres.service import PostgresStore

        return PostgresStore(cfg, **options)
    return SQLiteStore(cfg, **options)
