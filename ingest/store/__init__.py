"""The store stage: one door to the database (protocol.py), one backend per kind of database.

    async with open_store(cfg) as store:
        stored = await store.store(candidate, extracted)

SQLite in one file (ingest/store/sqlite/) is the backend. Pure policy the backends share
lives beside them: article identity (identity.py), what is a new version (versions.py),
when to poll and re-check (schedule.py).
"""
from __future__ import annotations

from typing import Any

from ingest.config import Config

from .protocol import Store
from .sqlite.service import SQLiteStore

__all__ = ["Store", "open_store"]


def open_store(cfg: Config, **options: Any) -> SQLiteStore:
    """The store for `cfg.database`, to be entered with `async with` (which opens it)."""
    return SQLiteStore(cfg, **options)
