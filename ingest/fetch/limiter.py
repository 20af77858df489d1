"""Per-host politeness: at most N requests in flight and a minimum gap between starts.

Why hand-written: aiohttp's connector limits connections per (host, port, ssl),
not request *starts* over time, and knows nothing of Crawl-delay or Retry-After.
One `HostLimiter` is shared by every fetch of a Fetcher (feeds, articles,
robots.txt), so all paths to one host draw from the same budget.

A "start" is the moment the request headers hit the wire, not the moment we
decided to send: the next request to the host waits for the previous one to be
sent (DNS, TCP and TLS set-up included) and then for the gap. Otherwise a slow
handshake on one connection and a reused connection on the next would reach
the server closer together than the configured gap.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol


class Admission(Protocol):
    """A caller's own limit on work in flight, entered only once the host lets a request start.

    The pipeline's bound on articles in flight is one: taken before the per-host wait, a slot
    would be held by an article queued behind a host that never answers, and enough of those
    stop every other feed (head-of-line blocking). `enter()` is idempotent; `leave()` gives
    the slot back while nothing is on the wire (a retry's pause, a redirect to another host).
    """

    async def enter(self) -> None: ...

    def leave(self) -> None: ...


@dataclass
class _Host:
    sem: asyncio.Semaphore
    delay: float  # minimum seconds between request starts
    next_start: float = 0.0  # monotonic time before which no request may start
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # held from grant until sent


class Start:
    """A granted start. Call `sent()` when the request is on the wire (idempotent)."""

    def __init__(self, host: _Host):
        self._host = host
        self._done = False

    def sent(self) -> None:
        if not self._done:
            self._done = True
            h = self._host
            h.next_start = max(h.next_start, time.monotonic() + h.delay)
            h.lock.release()


class HostLimiter:
    def __init__(self, concurrency: int, delay: float):
        self._concurrency = max(1, concurrency)
        self._delay = max(0.0, delay)
        self._hosts: dict[str, _Host] = {}  # one small entry per host ever seen

    def _host(self, host: str) -> _Host:
        key = host.lower()
        h = self._hosts.get(key)
        if h is None:
            h = self._hosts[key] = _Host(asyncio.Semaphore(self._concurrency), self._delay)
        return h

    def set_delay(self, host: str, delay: float) -> None:
        """Raise (never below the configured floor) the gap for one host, e.g. Crawl-delay."""
        self._host(host).delay = max(self._delay, delay)

    def delay(self, host: str) -> float:
        return self._host(host).delay

    def defer(self, host: str, seconds: float) -> None:
        """No new request to `host` for `seconds` (a server's Retry-After applies to the host)."""
        h = self._host(host)
        h.next_start = max(h.next_start, time.monotonic() + seconds)

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[Start]:
        """Hold one of the host's concurrency slots; yields a Start to mark when sent.

        If the caller never calls `sent()` (e.g. the connect failed), the start is
        stamped when the block exits.
        """
        h = self._host(host)
        async with h.sem:
            await h.lock.acquire()  # starts are handed out one at a time, in arrival order
            start = Start(h)
            try:
                # A loop, because defer() may push next_start while we sleep.
                while (wait := h.next_start - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                yield start
            finally:
                start.sent()
