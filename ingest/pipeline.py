"""The pipeline: candidate -> fetch -> extract (worker processes) -> analyse + store (one writer).

Daemon and backfill drive the same Pipeline; only the source of candidates differs.
The event loop only does I/O. Extraction and fingerprinting run in the process pool;
every database call runs on one dedicated writer thread, so SQLite never blocks the
loop and there is exactly one writer per process. `max_in_flight` bounds the work
between stages, so memory stays flat however many candidates a source produces.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .config import Config, FeedConfig
from .extract import ExtractPool
from .extract.worker import Skipped
from .fetch import Fetcher
from .records import Candidate, FetchFailure, NotModified, Page
from .sources.feeds import FeedError, parse_feed
from .store import open_db
from .store.writer import FeedState, Stored, Writer
from .schedule import FAILURE_WEIGHT
from .topics import TopicMatcher

log = logging.getLogger("ingest.pipeline")


@dataclass
class PollResult:
    """What one feed poll found."""

    feed_url: str
    ok: bool
    items: int = 0
    new: int = 0  # entries not stored before
    not_modified: bool = False
    error: str | None = None
    failure: FetchFailure | None = None
    ttl: float | None = None


@dataclass
class Tally:
    """Counts of outcomes over a run, for the summary line and `demo`."""

    counts: Counter = field(default_factory=Counter)
    stored: list[Stored] = field(default_factory=list)

    def add(self, outcome: str) -> None:
        self.counts[outcome] += 1


class Pipeline:
    """Owns the worker pool, the writer thread and the fetcher for one run."""

    def __init__(self, cfg: Config, *, hosts=None, refetch_known: bool = False, max_in_flight: int = 64,
                 archive=None):
        self.cfg = cfg
        self.hosts = hosts
        self.refetch_known = refetch_known  # `run --once` and backfills re-fetch listed articles
        self.matcher = TopicMatcher.from_config(cfg.topics)
        self.tally = Tally()
        self.archive = archive  # an object with .write(Page), e.g. WarcArchive
        self._slots = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task] = set()
        self.pool: ExtractPool | None = None
        self.writer: Writer | None = None
        self.fetcher: Fetcher | None = None
        self._db_thread: ThreadPoolExecutor | None = None

    async def __aenter__(self) -> "Pipeline":
        # Worker processes first: they must not inherit sockets (see extract/pool.py).
        self.pool = ExtractPool(self.cfg.workers, self.matcher).start()
        self._db_thread = ThreadPoolExecutor(1, thread_name_prefix="ingest-writer")
        self.writer = await self.db(lambda: Writer(open_db(self.cfg.database), self.cfg))
        self.fetcher = await Fetcher(self.cfg.fetch, hosts=self.hosts).__aenter__()
        return self

    async def __aexit__(self, *exc) -> None:
        try:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            if self.fetcher:
                await self.fetcher.__aexit__(None, None, None)
            if self.writer:
                await self.db(self.writer.conn.close)
            if self._db_thread:
                self._db_thread.shutdown(wait=True)
            if self.pool:
                self.pool.close()

    async def db(self, fn, *args, **kwargs):
        """Run `fn` on the writer thread."""
        return await asyncio.get_running_loop().run_in_executor(self._db_thread, lambda: fn(*args, **kwargs))

    # --- submitting work ------------------------------------------------------------------
    async def submit(self, candidate: Candidate, page: Page | None = None) -> None:
        """Queue a candidate (with its page when a source already has it, e.g. WARC).

        Waits while `max_in_flight` candidates are being worked on: backpressure.
        """
        await self._slots.acquire()
        task = asyncio.create_task(self._guarded(candidate, page))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until everything submitted so far is stored."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _guarded(self, candidate: Candidate, page: Page | None) -> None:
        try:
            await self.process(candidate, page)
        except asyncio.CancelledError:
            raise
        except Exception:  # one bad article must not stop the run
            log.exception("failed to process %s", candidate.url, extra={"url": candidate.url, "outcome": "error"})
            self.tally.add("error")
        finally:
            self._slots.release()

    # --- one article ------------------------------------------------------------------------
    async def process(self, candidate: Candidate, page: Page | None = None) -> str:
        """Fetch (unless given), extract, store. Returns the outcome word."""
        w = self.writer
        if page is None:
            known = await self.db(w.known, candidate)
            if known is not None and not (known.due or self.refetch_known):
                await self.db(w.add_sighting, known.id, candidate, "seen")
                return self._done(candidate, "seen")
            if known is None and await self.db(w.is_off_topic, candidate.url):
                return self._done(candidate, "off_topic")
            started = time.monotonic()
            result = await self.fetcher.fetch(candidate.url, kind="article")
            elapsed = (time.monotonic() - started) * 1000
            if isinstance(result, FetchFailure):
                await self.db(w.record_fetch, candidate.url, "article", result.kind, status=result.status,
                              message=result.message, elapsed_ms=elapsed)
                log.warning("fetch failed %s: %s", candidate.url, result.message,
                            extra={"url": candidate.url, "outcome": result.kind})
                return self._done(candidate, f"fetch_{result.kind}")
            if isinstance(result, NotModified):  # not asked for, but harmless
                return self._done(candidate, "not_modified")
            page = result
            await self.db(w.record_fetch, candidate.url, "article", "ok", status=page.status, size=len(page.body),
                          elapsed_ms=elapsed)
            if self.archive is not None:
                await self.db(self.archive.write, page)
        ex = await self.pool.extract(page, candidate)
        if isinstance(ex, Skipped):
            await self.db(w.mark_skipped, candidate, ex.reason)
            if ex.reason != "off_topic":
                log.warning("nothing extracted from %s: %s", candidate.url, ex.message or ex.reason,
                            extra={"url": candidate.url, "outcome": ex.reason})
            return self._done(candidate, ex.reason)
        stored = await self.db(w.store, candidate, ex)
        self.tally.stored.append(stored) if len(self.tally.stored) < 10_000 else None
        log.info("%s %s v%d%s", stored.outcome, candidate.url, stored.version,
                 f" [{', '.join(stored.flags)}]" if stored.flags else "",
                 extra={"url": candidate.url, "outcome": stored.outcome, "flags": list(stored.flags)})
        return self._done(candidate, stored.outcome)

    def _done(self, candidate: Candidate, outcome: str) -> str:
        self.tally.add(outcome)
        return outcome

    # --- feeds ----------------------------------------------------------------------------
    async def register_feeds(self, feeds: list[FeedConfig]) -> list[FeedState]:
        return await self.db(self.writer.register_feeds, feeds)

    async def poll_feed(self, feed: FeedState, conditional: bool = True) -> PollResult:
        """Fetch and parse one feed, submit its entries. Failures are recorded on the feed.

        `conditional=False` (a one-off full pass) ignores the stored validators and body hash.
        """
        w = self.writer
        started = time.monotonic()
        validators = dict(etag=feed.etag, last_modified=feed.last_modified, body_hash=feed.body_hash) if conditional else {}
        result = await self.fetcher.fetch(feed.url, kind="feed", **validators)
        elapsed = (time.monotonic() - started) * 1000
        if isinstance(result, FetchFailure):
            await self.db(w.record_fetch, feed.url, "feed", result.kind, feed_id=feed.id, status=result.status,
                          message=result.message, elapsed_ms=elapsed)
            return await self._feed_failed(feed, result.message, failure=result)
        if isinstance(result, NotModified):
            await self.db(w.record_fetch, feed.url, "feed", "not_modified", feed_id=feed.id, elapsed_ms=elapsed)
            validators = {k: v for k, v in (("etag", result.etag), ("last_modified", result.last_modified)) if v}
            await self.db(w.feed_polled, feed.id, ok=True, items_last_poll=0, new_last_poll=0, **validators)
            log.info("feed not modified %s", feed.url, extra={"feed": feed.url, "outcome": "not_modified"})
            return PollResult(feed.url, True, not_modified=True)
        await self.db(w.record_fetch, feed.url, "feed", "ok", feed_id=feed.id, status=result.status,
                      size=len(result.body), elapsed_ms=elapsed)
        try:
            parsed = parse_feed(result.body, result.final_url, result.headers, self.matcher)
        except FeedError as e:
            return await self._feed_failed(feed, str(e))
        if parsed.warning:
            log.warning("feed %s parsed with problems: %s", feed.url, parsed.warning, extra={"feed": feed.url})
        new = 0
        for cand in parsed.candidates:
            if await self.db(w.known, cand) is None:
                new += 1
            await self.submit(cand)
        await self.db(w.feed_polled, feed.id, ok=True, title=parsed.title, etag=result.headers.get("ETag"),
                      last_modified=result.headers.get("Last-Modified"),
                      body_hash=hashlib.sha256(result.body).hexdigest(),
                      items_last_poll=len(parsed.candidates), new_last_poll=new)
        log.info("feed ok %s: %d items, %d new", feed.url, len(parsed.candidates), new,
                 extra={"feed": feed.url, "outcome": "ok", "items": len(parsed.candidates), "new": new})
        return PollResult(feed.url, True, items=len(parsed.candidates), new=new, ttl=parsed.ttl)

    async def _feed_failed(self, feed: FeedState, message: str, failure: FetchFailure | None = None) -> PollResult:
        weight = FAILURE_WEIGHT.get(failure.kind if failure else "parse", 1.0)
        await self.db(self.writer.feed_polled, feed.id, ok=False, weight=weight, last_error=message)
        log.warning("feed failed %s: %s", feed.url, message, extra={"feed": feed.url, "outcome": "error"})
        return PollResult(feed.url, False, error=message, failure=failure)
