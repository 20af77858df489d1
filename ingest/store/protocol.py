"""The store's door: what the drivers may ask of the database, written down.

Everything that changes the database goes through a `Store`, and every call is one
transaction (or part of a batched one), so a crash or kill at any moment leaves whole
articles and whole polls. The drivers (ingest/run/) never see a connection, a cursor or a
line of SQL; the SQLite backend (ingest/store/sqlite/) implements this protocol, and a
second backend (PostgreSQL, for teams) implements the same.

Grouped by entity, as Miniflux's storage is: articles on the Store itself, feeds,
re-checks, backfill records and re-extraction on small sub-objects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

from ingest.config import FeedConfig
from ingest.records import (
    Candidate,
    Extracted,
    FeedState,
    FetchLog,
    Known,
    OffTopic,
    Poll,
    Recheck,
    ReextractJob,
    Scanned,
    SkipReason,
    Source,
    Stored,
)


class FeedStore(Protocol):
    async def register(self, feeds: Sequence[FeedConfig]) -> list[FeedState]:
        """Add or rename the configured feeds; their saved state (validators, schedule)."""

    async def new_entries(self, candidates: Sequence[Candidate]) -> int:
        """How many of a poll's entries name no stored article (one look-up for the whole poll)."""

    async def polled(self, feed: FeedState, poll: Poll) -> FeedState:
        """Record a poll: fetch log, counters, validators, health and the next poll time, in one
        transaction; returns the feed's new state (its `next_poll_at` is when to poll again)."""


class RecheckStore(Protocol):
    async def due(self, limit: int) -> list[Recheck]:
        """Stored articles whose re-check time has come, oldest due first."""

    async def defer(self, handed_out: Sequence[Recheck]) -> int:
        """Push back re-checks that stored nothing (their time did not move); how many moved."""


class BackfillStore(Protocol):
    async def is_done(self, source: Source, key: str) -> bool:
        """Whether a backfill record was handled already (marked with its article)."""

    async def scanned(self, part: Scanned) -> None:
        """Count what a WARC backfill read of a file (records, prefiltered, kept), each record of
        the file once: a part's records at or below the highest offset counted so far are not
        counted again (a resumed or repeated run, another process reading the same file)."""


class ReextractStore(Protocol):
    def pages(self, since: str | None, batch: int) -> AsyncIterator[list[ReextractJob]]:
        """Each article's current stored page (fetched since `since`), in batches."""

    async def count(self, since: str | None) -> int:
        """How many pages `pages` will give."""

    async def store(self, job: ReextractJob, extracted: Extracted) -> Stored:
        """A re-extraction of a stored page: a changed text becomes a "reextract" version."""


class LeaseStore(Protocol):
    async def claim(self, host: str, owner: str, ttl: float) -> bool:
        """Take or renew the lease on `host` for `ttl` seconds; False while another owner's is live."""

    async def renew(self, hosts: Sequence[str], owner: str, ttl: float) -> set[str]:
        """Extend the owner's leases; the hosts whose lease it still held."""

    async def release(self, host: str, owner: str, after: float) -> None:
        """Give a host up; another owner may take it `after` seconds from now (the host's delay)."""


class Store(Protocol):
    @property
    def feeds(self) -> FeedStore: ...

    @property
    def recheck(self) -> RecheckStore: ...

    @property
    def backfill(self) -> BackfillStore: ...

    @property
    def reextract(self) -> ReextractStore: ...

    @property
    def leases(self) -> LeaseStore: ...

    async def known(self, candidate: Candidate) -> Known | OffTopic | None:
        """The stored article a candidate names (by any of its keys), or that it was off topic."""

    async def seen(self, known: Known, candidate: Candidate) -> None:
        """A sighting without a fetch: a source listed a stored article again."""

    async def skipped(self, candidate: Candidate, reason: SkipReason | str, fetch: FetchLog | None = None) -> None:
        """A candidate that stored nothing (off topic, empty, failed fetch): its fetch log line,
        the off-topic mark, and its backfill record marked done."""

    async def store(self, candidate: Candidate, extracted: Extracted, fetch: FetchLog | None = None) -> Stored:
        """A new article, a new version or a sighting, judged for copies and garble, with its
        fetch log line and backfill mark, in one transaction (batched with others)."""

    def backlog(self) -> int:
        """Articles handed to `store` and not written yet."""

    def expect(self, more: Callable[[], bool]) -> None:
        """`more()` tells whether other articles are on their way to `store` (a pipeline's
        work in flight): a batch lingers for them only while it says so."""

    async def prune(self) -> int:
        """Drop fetch-log rows past their retention age (config `retention`); how many went.
        The per-feed row cap is kept by `feeds.polled` itself."""

    async def ping(self) -> float:
        """Seconds a no-op takes through the writer (its lag, for `ingest health`)."""

    async def close(self) -> None:
        """Finish pending writes and close."""
