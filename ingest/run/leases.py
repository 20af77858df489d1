"""Politeness across processes: a host is fetched by one process at a time, by lease.

Each process keeps its own per-host concurrency and delay (fetch/limiter.py). When several
daemons and backfills share a PostgreSQL corpus, a lease in the database (store.leases) says
which of them may fetch from a host now: a process claims a host's lease before its first
request there, holds it while it has requests for the host in flight (renewed every third of
the lease while alive), and gives it up when it has none, for another process to take once
the host's delay has passed. The fetcher enters `hold` around every request (its gate), so
each hop of a redirect is under its own host's lease; it never waits for one lease while
holding another, so two processes redirected across each other's hosts cannot deadlock.
A killed process renews nothing: its hosts pause for at most one lease, then whoever needs
them takes them over. Together: no host ever sees more than one process's concurrency and
delay. On SQLite every lease is granted at once (one daemon per file).
"""
from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from ingest.store.protocol import LeaseStore

LEASE_SECONDS = 30.0  # how long a lease lives without renewal (a killed process's hosts pause this long)
CLAIM_RETRY = 0.25  # seconds between tries for a host another process holds


class HostLeases:
    def __init__(self, store: LeaseStore, delay: float, ttl: float = LEASE_SECONDS, retry: float = CLAIM_RETRY):
        self.store = store
        self.delay = delay
        self.ttl = ttl
        self.retry = retry
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._busy: Counter[str] = Counter()
        self._held: set[str] = set()
        self._renewer: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def hold(self, host: str) -> AsyncIterator[None]:
        """While inside, this process holds the host's lease (waits for it first). The
        fetcher's gate (fetch/fetcher.py)."""
        host = host.lower()
        self._busy[host] += 1
        try:
            while host not in self._held:
                if await self.store.claim(host, self.owner, self.ttl):
                    self._held.add(host)
                else:
                    await asyncio.sleep(self.retry)
            if self._renewer is None:
                self._renewer = asyncio.create_task(self._renew(), name="ingest-leases")
            yield
        finally:
            self._busy[host] -= 1
            if self._busy[host] <= 0:
                del self._busy[host]
                if host in self._held:
                    self._held.discard(host)
                    await asyncio.shield(self.store.release(host, self.owner, self.delay))

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            held = sorted(self._held)
            kept = await self.store.renew(held, self.owner, self.ttl)
            self._held -= set(held) - kept  # taken over (this process stalled past its lease): claim again

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
