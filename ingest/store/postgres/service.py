"""PostgresStore: the store service (batching, the writer thread, the async door) over PostgreSQL.

The same service as SQLite's (store/sqlite/service.py) with the PostgreSQL writer. Batches are
smaller: a batch holds its advisory locks until it commits, and other writer processes may be
waiting for some of them.
"""
from __future__ import annotations

from collections.abc import Sequence

from ingest.config import Config
from ingest.store.sqlite.service import SQLiteStore, _Leases
from ingest.store.sqlite.writer import Writer

from .writer import PgWriter

PG_BATCH = 8


class PostgresStore(SQLiteStore):
    """The `Store` (ingest/store/protocol.py) over the PostgreSQL database `cfg.database` (a URL)."""

    writer_class: type[Writer] = PgWriter

    def __init__(self, cfg: Config, *, batch: int = PG_BATCH, linger: float = 0.05):
        super().__init__(cfg, batch=batch, linger=linger)
        self.leases = _PgLeases(self)


_CLAIM = ("INSERT INTO host_leases (host, owner, expires_at) "
          "VALUES (?, ?, clock_timestamp() + make_interval(secs => ?)) ON CONFLICT (host) "
          "DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at "
          "WHERE host_leases.owner = excluded.owner OR host_leases.expires_at < clock_timestamp() RETURNING owner")


class _PgLeases(_Leases):
    """Leases in the host_leases table, on the database's clock. A claim is one statement: it
    inserts, renews its own lease, or takes over an expired (or released) one, atomically."""

    def __init__(self, store: PostgresStore):
        self._store = store

    async def claim(self, host: str, owner: str, ttl: float) -> bool:
        row = await self._store.execute_fn(lambda w: w.conn.execute(_CLAIM, (host, owner, ttl)).fetchone(),
                                           write=False)
        return row is not None

    async def renew(self, hosts: Sequence[str], owner: str, ttl: float) -> set[str]:
        if not hosts:
            return set()
        rows = await self._store.execute_fn(lambda w: w.conn.execute(
            "UPDATE host_leases SET expires_at = clock_timestamp() + make_interval(secs => ?) "
            "WHERE owner = ? AND host = ANY(?) RETURNING host", (ttl, owner, list(hosts))).fetchall(), write=False)
        return {r[0] for r in rows}

    async def release(self, host: str, owner: str, after: float) -> None:
        await self._store.execute_fn(lambda w: w.conn.execute(
            "UPDATE host_leases SET expires_at = clock_timestamp() + make_interval(secs => ?) "
            "WHERE host = ? AND owner = ?", (after, host, owner)), write=False)
