"""robots.txt, parsed by Protego, cached per origin, with Crawl-delay fed to the limiter.

Policy (RFC 9309 section 2.3.1, where it is clear):
  * 2xx: obey the rules; Crawl-delay for our agent raises the host's gap in the
    limiter (capped at `max_crawl_delay`). Cached for `robots_ttl` (RFC: <= 24 h).
  * 4xx (404, 401, 403, 410...): no robots.txt, everything allowed.
  * 429, 5xx, timeout or connection failure after the usual retries: the site is
    "unreachable", so everything is DISALLOWED, and we ask again after
    `robots_error_ttl` seconds (the RFC's complete-disallow rule; fetching
    articles from a host whose robots.txt is failing is the impolite choice).
  * anything else (too large, refused, redirect loop, invalid): allowed -- the
    article fetch itself meets the same guard and limits.
Only article fetches consult robots.txt; feeds are meant to be polled by
machines (the same exemption Media Cloud and Miniflux make).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from protego import Protego
from yarl import URL

from ..records import FetchFailure, NotModified, Page
from .limiter import HostLimiter

log = logging.getLogger(__name__)

ALLOW, DENY = "allow", "deny"


@dataclass
class _Entry:
    rules: Protego | str  # a parser, or ALLOW / DENY for the whole origin
    expires: float
    why: str = ""


class RobotsCache:
    def __init__(
        self,
        get: Callable[[str], Awaitable[Page | NotModified | FetchFailure]],
        user_agent: str,
        limiter: HostLimiter,
        ttl: float,
        error_ttl: float,
        max_crawl_delay: float,
    ):
        self._get = get
        self._agent = user_agent
        self._limiter = limiter
        self._ttl, self._error_ttl, self._max_delay = ttl, error_ttl, max_crawl_delay
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def check(self, url: URL) -> str | None:
        """None when `url` may be fetched, else a one-line reason."""
        origin = str(url.origin())
        entry = self._entries.get(origin)
        if entry is None or entry.expires < time.monotonic():
            lock = self._locks.setdefault(origin, asyncio.Lock())
            async with lock:  # one robots.txt fetch per origin, however many articles wait
                entry = self._entries.get(origin)
                if entry is None or entry.expires < time.monotonic():
                    entry = self._entries[origin] = await self._load(url)
        if isinstance(entry.rules, str):  # ALLOW or DENY: no file, or none to be had
            return None if entry.rules == ALLOW else entry.why
        if entry.rules.can_fetch(str(url), self._agent):
            return None
        return f"disallowed by {origin}/robots.txt"

    async def _load(self, url: URL) -> _Entry:
        robots_url = str(url.origin().with_path("/robots.txt"))
        now = time.monotonic()
        result = await self._get(robots_url)
        if isinstance(result, Page):
            rules = Protego.parse(result.html)
            delay = rules.crawl_delay(self._agent)
            if delay and url.host:
                self._limiter.set_delay(url.host, min(float(delay), self._max_delay))
            return _Entry(rules, now + self._ttl)
        if isinstance(result, NotModified):  # we send no validators; treat as empty rules
            return _Entry(ALLOW, now + self._ttl)
        status = result.status or 0
        if result.kind in ("timeout", "connection") or status == 429 or status >= 500:
            why = f"robots.txt unavailable ({result.message}); treating {url.origin()} as disallowed"
            log.info("%s for %.0fs", why, self._error_ttl)
            return _Entry(DENY, now + self._error_ttl, why)
        return _Entry(ALLOW, now + self._ttl)
