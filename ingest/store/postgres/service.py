"""PostgresStore: the store service (batching, the writer thread, the async door) over PostgreSQL.

The same service as SQLite's (store/sqlite/service.py) with the PostgreSQL writer. Batches are
smaller: a batch holds its advisory locks until it commits, and other writer processes may be
waiting for some of them.
"""
from __future__ import annotations

from ingest.config import Config
from ingest.store.sqlite.service import SQLiteStore
from ingest.store.sqlite.writer import Writer

from .writer import PgWriter

PG_BATCH = 8


class PostgresStore(SQLiteStore):
    """The `Store` (ingest/store/protocol.py) over the PostgreSQL database `cfg.database` (a URL)."""

    writer_class: type[Writer] = PgWriter

    def __init__(self, cfg: Config, *, batch: int = PG_BATCH, linger: float = 0.05):
        super().__init__(cfg, batch=batch, linger=linger)
