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
from typing import ClassVar

from .config import Config, FeedConfig
from .extract import ExtractPool
from .extract.skipped import Skipped
from .fetch import Fetcher
from .records import Candidate, Extracted, FetchFailure, NotModified, Page
from .sources.feeds import FeedError, parse_feed
from .store import open_db
from .store.writer import FeedState, Known, Stored, Writer
from .schedule import FAILURE_WEIGHT, cache_hint
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
    ttl: float | None = None  # RSS <ttl>, seconds
    max_age: float | None = None  # Cache-Control max-age (or Expires - Date) of the feed response

    @property
    def hint(self) -> float | None:
        """The server's floor for the next poll: the largest of ttl, max-age and Retry-After."""
        values = [v for v in (self.ttl, self.max_age, self.failure.retry_after if self.failure else None) if v]
        return max(values) if values else None


@dataclass
class Tally:
    """Counts of outcomes over a run, for the summary line and `demo`.

    `stored` keeps the first KEEP_STORED results only, so a daemon running for months
    holds a bounded list, not one entry per article ever stored.
    """

    counts: Counter = field(default_factory=Counter)
    stored: list[Stored] = field(default_factory=list)
    KEEP_STORED: ClassVar[int] = 10_000

    def add(self, outcome: str) -> None:
        self.counts[outcome] += 1

    def keep(self, stored: Stored) -> None:
        if len(self.stored) < self.KEEP_STORED:
            self.stored.append(stored)


WRITER_CACHE_KB = 65_536  # SQLite page cache of the writer connection (default is 2 MB): see docs/performance.md
# WAL pages before the writer's COMMIT checkpoints (SQLite's default is 1,000). At 100k stored
# articles a 32-article transaction dirties ~1,500 pages (the analysis index has random keys),
# so with the default every commit checkpointed and fsynced; 16,000 (~64 MB of WAL) lets pages
# dirtied again and again be copied once: store path 2.13 -> 1.75 ms/article mean, p50 2.06 ->
# 1.04 at 100k (bench/scale.py). The price: on power loss (not on a crash or kill), up to that
# many pages of recent commits can be lost, never a corrupt file (WAL + synchronous=NORMAL).
WAL_AUTOCHECKPOINT_PAGES = 16_000


def open_writer(cfg: Config) -> Writer:
    """The pipeline's writer: the database opened read-write, with a page cache that holds the
    hot index pages of a large corpus (fewer re-reads per commit at 100k articles)."""
    db = open_db(cfg.database)
    db.conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KB}")
    db.conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
    return Writer(db, cfg)


STORE_BATCH = 64  # extracted articles per store_many transaction, at most
# Seconds the store task waits for more articles after the first of a batch, while more are in
# flight (a lone article is stored at once). Pages leave extraction one every ~25 ms in a busy
# run: 0.2 s gives batches of ~13 instead of ~1.2 at 5 ms, and the writer spends ~2 s less CPU
# per 1,400 pages (one COMMIT and FTS flush per batch; docs/performance.md).
STORE_LINGER = 0.2


class Pipeline:
    """Owns the worker pool, the writer thread and the fetcher for one run.

    Stages and their bounds:
      submit() --(max_in_flight slots)--> fetch (loop, aiohttp) --> extract (worker processes)
        --> store queue --> one store task --> Writer.store_many on the writer thread
    A slot is held from submit until the article is stored, so everything in flight
    (pages, extracted texts, queued stores) is bounded by `max_in_flight` together.
    """

    def __init__(self, cfg: Config, *, hosts=None, refetch_known: bool = False, max_in_flight: int = 64,
                 archive=None, store_batch: int = STORE_BATCH, store_linger: float = STORE_LINGER):
        self.cfg = cfg
        self.hosts = hosts
        self.refetch_known = refetch_known  # `run --once` and backfills re-fetch listed articles
        self.matcher = TopicMatcher.from_config(cfg.topics)
        self.tally = Tally()
        self.archive = archive  # an object with .write(Page), e.g. WarcArchive
        self.max_in_flight = max_in_flight
        self.store_batch = max(1, store_batch)
        self.store_linger = store_linger
        self.batches: Counter = Counter()  # store_many batch size -> how many (tests, benchmarks)
        self._slots = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task] = set()
        self._store_q: asyncio.Queue | None = None
        self._store_task: asyncio.Task | None = None
        self.pool: ExtractPool | None = None
        self.writer: Writer | None = None
        self.fetcher: Fetcher | None = None
        self._db_thread: ThreadPoolExecutor | None = None

    async def __aenter__(self) -> "Pipeline":
        # Worker processes first: they must not inherit sockets (see extract/pool.py).
        self.pool = ExtractPool(self.cfg.workers, self.matcher).start()
        self._db_thread = ThreadPoolExecutor(1, thread_name_prefix="ingest-writer")
        self.writer = await self.db(open_writer, self.cfg)
        self._store_q = asyncio.Queue()  # bounded by max_in_flight: each item holds a slot
        self._store_task = asyncio.create_task(self._store_loop(), name="ingest-store")
        self.fetcher = await Fetcher(self.cfg.fetch, hosts=self.hosts).__aenter__()
        return self

    async def __aexit__(self, exc_type, *exc) -> None:
        try:
            if exc_type is asyncio.CancelledError:  # the run was cancelled (a signal): abandon in-flight work
                for task in list(self._tasks):
                    task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            if self._store_task:
                self._store_task.cancel()
                await asyncio.gather(self._store_task, return_exceptions=True)
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

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

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

    # --- the store stage: one task, batched transactions on the writer thread ---------------
    async def store(self, candidate: Candidate, ex: Extracted) -> Stored:
        """Store one extracted page through the batching store task; returns its outcome."""
        fut = asyncio.get_running_loop().create_future()
        self._store_q.put_nowait((candidate, ex, fut))
        return await fut

    async def _store_loop(self) -> None:
        q, loop = self._store_q, asyncio.get_running_loop()
        while True:
            batch = [await q.get()]
            deadline = loop.time() + self.store_linger
            while len(batch) < self.store_batch:
                if not q.empty():
                    batch.append(q.get_nowait())
                    continue
                left = deadline - loop.time()
                if left <= 0 or len(batch) >= self.in_flight:  # nothing else can come
                    break
                try:
                    batch.append(await asyncio.wait_for(q.get(), left))
                except asyncio.TimeoutError:
                    break
            try:
                results = await self.db(self._store_batch, [(c, ex) for c, ex, _ in batch])
            except asyncio.CancelledError:  # shutting down: the thread finishes the batch, nobody waits
                for *_, fut in batch:
                    fut.cancel()
                raise
            except Exception as e:  # a one-article batch that failed: that article's error
                results = [e] * len(batch)
            self.batches[len(batch)] += 1
            for (*_, fut), result in zip(batch, results):
                if fut.done():
                    continue
                if isinstance(result, BaseException):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)

    def _store_batch(self, items: list[tuple[Candidate, Extracted]]) -> list:
        """On the writer thread: one transaction for the batch; if it fails, each article alone.

        The fallback keeps one bad article from losing the others (each then gets its own
        outcome or exception).
        """
        try:
            return self.writer.store_many(items)
        except Exception:
            if len(items) == 1:
                raise
        out = []
        for cand, ex in items:
            try:
                out.append(self.writer.store(cand, ex))
            except Exception as e:
                out.append(e)
        return out

    # --- one article ------------------------------------------------------------------------
    def _precheck(self, candidate: Candidate) -> tuple[Known | None, bool]:
        """On the writer thread, in one hop: the stored article the candidate names, and whether
        it was found off topic before."""
        w = self.writer
        known = w.known(candidate)
        return known, (known is None and w.is_off_topic(candidate.url))

    async def process(self, candidate: Candidate, page: Page | None = None) -> str:
        """Fetch (unless given), extract, store. Returns the outcome word."""
        w = self.writer
        if page is None:
            known, off_topic = await self.db(self._precheck, candidate)
            if known is not None and not (known.due or self.refetch_known):
                await self.db(w.add_sighting, known.id, candidate, "seen")
                return self._done(candidate, "seen")
            if off_topic:
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
            await self.db(self._fetched, page, elapsed)
        ex = await self.pool.extract(page, candidate)
        if isinstance(ex, Skipped):
            await self.db(w.mark_skipped, candidate, ex.reason)
            if ex.reason != "off_topic":
                log.warning("nothing extracted from %s: %s", candidate.url, ex.message or ex.reason,
                            extra={"url": candidate.url, "outcome": ex.reason})
            return self._done(candidate, ex.reason)
        stored = await self.store(candidate, ex)
        self.tally.keep(stored)
        log.info("%s %s v%d%s", stored.outcome, candidate.url, stored.version,
                 f" [{', '.join(stored.flags)}]" if stored.flags else "",
                 extra={"url": candidate.url, "outcome": stored.outcome, "flags": list(stored.flags)})
        return self._done(candidate, stored.outcome)

    def _fetched(self, page: Page, elapsed_ms: float) -> None:
        """On the writer thread: log the fetch and archive the response, in one hop."""
        self.writer.record_fetch(page.url, "article", "ok", status=page.status, size=len(page.body),
                                 elapsed_ms=elapsed_ms)
        if self.archive is not None:
            self.archive.write(page)

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
            # items_last_poll keeps the size of the unchanged feed; nothing in it is new
            await self.db(w.feed_polled, feed.id, ok=True, new_last_poll=0, **validators)
            log.info("feed not modified %s", feed.url, extra={"feed": feed.url, "outcome": "not_modified"})
            return PollResult(feed.url, True, not_modified=True)
        await self.db(w.record_fetch, feed.url, "feed", "ok", feed_id=feed.id, status=result.status,
                      size=len(result.body), elapsed_ms=elapsed)
        try:
            # feedparser is pure Python (~0.65 ms per item): a big feed would stall the loop's I/O
            parsed = await asyncio.to_thread(parse_feed, result.body, result.final_url, result.headers, self.matcher)
        except FeedError as e:
            return await self._feed_failed(feed, str(e))
        if parsed.warning:
            log.warning("feed %s parsed with problems: %s", feed.url, parsed.warning, extra={"feed": feed.url})
        # how many entries were not stored before this poll: one writer hop for the whole feed
        new = await self.db(lambda: sum(1 for cand in parsed.candidates if w.known(cand) is None))
        for cand in parsed.candidates:
            await self.submit(cand)
        await self.db(w.feed_polled, feed.id, ok=True, title=parsed.title, etag=result.headers.get("ETag"),
                      last_modified=result.headers.get("Last-Modified"),
                      body_hash=hashlib.sha256(result.body).hexdigest(),
                      items_last_poll=len(parsed.candidates), new_last_poll=new)
        log.info("feed ok %s: %d items, %d new", feed.url, len(parsed.candidates), new,
                 extra={"feed": feed.url, "outcome": "ok", "items": len(parsed.candidates), "new": new})
        return PollResult(feed.url, True, items=len(parsed.candidates), new=new, ttl=parsed.ttl,
                          max_age=cache_hint(result.headers))

    async def _feed_failed(self, feed: FeedState, message: str, failure: FetchFailure | None = None) -> PollResult:
        weight = FAILURE_WEIGHT.get(failure.kind if failure else "parse", 1.0)
        await self.db(self.writer.feed_polled, feed.id, ok=False, weight=weight, last_error=message)
        log.warning("feed failed %s: %s", feed.url, message,
                    extra={"feed": feed.url, "outcome": failure.kind if failure else "parse"})
        return PollResult(feed.url, False, error=message, failure=failure)
