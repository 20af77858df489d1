"""The pipeline: candidate -> fetch -> extract (worker processes) -> store (the store's writer).

Daemon, one-shot runs and backfills drive the same Pipeline; only the source of candidates
differs. The event loop only does I/O: extraction and fingerprinting run in the process
pool, and every database call goes through the store (ingest/store/), which runs it on its
own writer thread. `max_in_flight` bounds the work between stages, so memory stays flat
however many candidates a source produces.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import importlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from ingest.analyse.topics import TopicMatcher
from ingest.config import Config
from ingest.extract import ExtractPool, ExtractPort
from ingest.fetch import Admission, Fetcher, FetchPort
from ingest.logs import Quota
from ingest.records import (
    Candidate,
    Extracted,
    FeedState,
    FetchFailure,
    FetchLog,
    Known,
    NotModified,
    OffTopic,
    Packed,
    Page,
    Poll,
    Skipped,
    Stored,
)
from ingest.store import Store
from ingest.store.errors import StoreError
from ingest.store.schedule import cache_hint
from ingest.times import now

from .fair import Turns
from .leases import HostLeases

if TYPE_CHECKING:
    from ingest.sources.feeds import FeedError, ParsedFeed

    from .metrics import Metrics

log = logging.getLogger("ingest.pipeline")
T = TypeVar("T")


class Archive(Protocol):
    """Where every fetched response is also kept (ingest/run/archive.py: WARC files)."""

    def write(self, page: Page) -> None: ...


# What each outcome of an article is, in words, in the order a summary lists them.
_WORDS = {
    "new": "new articles", "version": "new versions", "unchanged": "unchanged", "flipflop": "flip-flops",
    "seen": "listed again", "already_done": "already done", "not_modified": "not modified",
    "suspect": "suspect extractions", "off_topic": "off topic", "prefiltered": "off topic (prefilter)",
    "empty": "empty pages", "would_fetch_or_store": "to fetch or store",
}
_DONE = {"new", "version", "unchanged", "flipflop", "seen", "already_done", "not_modified", "suspect", "off_topic",
         "prefiltered", "empty", "would_fetch_or_store"}


@dataclass
class Tally:
    """Counts of outcomes over a run, for the summary line and `demo`.

    `stored` keeps the first KEEP_STORED results only, so a daemon running for months
    holds a bounded list, not one entry per article ever stored.
    """

    counts: Counter[str] = field(default_factory=Counter)
    stored: list[Stored] = field(default_factory=list)
    KEEP_STORED: ClassVar[int] = 10_000

    def add(self, outcome: str) -> None:
        self.counts[outcome] += 1

    def keep(self, stored: Stored) -> None:
        if len(self.stored) < self.KEEP_STORED:
            self.stored.append(stored)

    def summary(self) -> str:
        """The counts in words: "12 new articles, 3 new versions, 40 unchanged, 2 failed (timeout 2)"."""
        parts = [f"{self.counts[k]} {words}" for k, words in _WORDS.items() if self.counts.get(k)]
        if failed := self.failures():
            parts.append(f"{sum(v for k, v in self.counts.items() if k not in _DONE)} failed ({failed})")
        return ", ".join(parts) or "nothing to do"

    def failures(self) -> str:
        """What failed, by kind: "timeout 2, connection 1"."""
        bad = {k.removeprefix("fetch_"): v for k, v in self.counts.items() if k not in _DONE and v}
        return ", ".join(f"{k} {v}" for k, v in sorted(bad.items(), key=lambda kv: -kv[1]))

    def achieved_anything(self) -> bool:
        """Something was stored, found unchanged, or known to be done or off topic."""
        return any(self.counts.get(k) for k in _DONE)


FEED_PARSER = "ingest.sources.feeds"  # feedparser: ~50 ms to import, and backfills never need it


@functools.cache
def _import_feed_parser_soon() -> None:
    """Start importing the feed parser on a thread of its own, once: it then loads while the
    first feeds are fetched, not afterwards (and never on the event loop's thread)."""
    threading.Thread(target=importlib.import_module, args=(FEED_PARSER,), name="import-feed-parser",
                     daemon=True).start()


def _parse_feed(body: bytes, url: str, headers: dict[str, str], matcher: TopicMatcher,
                feed_url: str) -> ParsedFeed | FeedError:
    """`parse_feed` on the calling thread, with its module imported there too; a FeedError is
    returned rather than raised."""
    from ingest.sources.feeds import FeedError, parse_feed

    try:
        return parse_feed(body, url, headers, matcher, feed_url)
    except FeedError as e:
        return e


async def _on_daemon_thread(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` on a thread of its own that never holds up the exit of the process.

    A thread cannot be cancelled: feedparser on a 10 MB feed runs ~25 s, and `asyncio.to_thread`'s
    threads are waited for when the event loop closes, so a SIGTERM during such a parse would
    wait for it. A poll abandoned at shutdown does not need its result.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(result: T | None, error: BaseException | None) -> None:
        if not future.done():
            future.set_exception(error) if error is not None else future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = fn(*args), None
        except BaseException as e:  # noqa: BLE001 - handed to the awaiting task as it is
            result, error = None, e
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(deliver, result, error)

    threading.Thread(target=run, name="ingest-feed-parse", daemon=True).start()
    return await future


class _Slot:
    """One article's hold on the pipeline's `max_in_flight` slots (an Admission, fetch/limiter.py)."""

    def __init__(self, slots: asyncio.Semaphore):
        self._slots = slots
        self.held = False

    async def enter(self) -> None:
        if not self.held:
            await self._slots.acquire()
            self.held = True

    def leave(self) -> None:
        if self.held:
            self.held = False
            self._slots.release()


class Pipeline:
    """Owns the worker pool and the fetcher for one run, and feeds the store.

    Stages and their bounds:
      submit() --(a lane per feed or source: max_in_flight)--> wait for the host (fetch/limiter.py)
        --(max_in_flight slots)--> fetch (loop, aiohttp) --> extract (worker processes)
        --> store.store() (batched on the store's writer thread)
    A slot is taken only when the article's request can start (or its page is given) and held
    until it is stored, so everything in memory (pages, extracted texts, queued stores) is
    bounded by `max_in_flight` together, while articles queued behind a slow host hold none:
    a feed listing links to a host that never answers takes that host's few connections
    (fetch.per_host_concurrency), not the slots every other feed needs. Each feed (or source)
    has its own lane of `max_in_flight` submitted articles: a full lane makes that feed's
    poll wait, and no other.
    """

    def __init__(self, cfg: Config, store: Store, *, hosts: dict[str, str] | None = None,
                 refetch_known: bool = False, max_in_flight: int = 64, archive: Archive | None = None,
                 metrics: Metrics | None = None, engine: ExtractPort | None = None):
        self.cfg = cfg
        self.store = store
        self.metrics = metrics
        self.hosts = hosts
        self.refetch_known = refetch_known  # `run --once` and backfills re-fetch listed articles
        self.matcher = TopicMatcher.from_config(cfg.topics)
        self.tally = Tally()
        self.archive = archive
        self.polls = 0  # feed polls done, and how many failed (summary lines, `run --once` exit code)
        self.polls_failed = 0
        self.failing: dict[str, str] = {}  # feed URL -> its last error, while it keeps failing
        self._fail_streak: dict[str, int] = {}
        self.quota = Quota()  # warnings about failed articles, per feed or source
        self.failed = asyncio.Event()  # set when the database itself failed: the run must stop
        self.failure: StoreError | None = None
        self._slots = asyncio.Semaphore(max_in_flight)
        self._lane_size = max_in_flight
        self._lanes: dict[str, asyncio.Semaphore] = {}  # feed URL or source -> its submitted articles
        self._tasks: set[asyncio.Task[None]] = set()
        self._at_store = 0  # of those, articles handed to store.store() and not answered yet
        self._archive_thread: ThreadPoolExecutor | None = None
        self.engine = engine  # extraction elsewhere (a cluster, ingest/run/cluster.py): its owner closes it
        self.pool: ExtractPort | None = None
        self._turns: Turns | None = None  # places in the pool, taken in turn by feeds
        self.fetcher: FetchPort | None = None
        self._fetcher: Fetcher | None = None
        self.leases = HostLeases(store.leases, cfg.fetch.per_host_delay)

    async def __aenter__(self) -> Pipeline:
        # Workers asked for first (forked by the forkserver, they inherit none of our sockets), not
        # waited for: the first pages are fetched while they start (extract/pool.py).
        if self.engine is not None:  # a cluster schedules its own workers
            self.pool = self.engine
        else:
            pool = ExtractPool(self.cfg.workers, self.matcher, timeout=self.cfg.extract_timeout).start()
            self.pool, self._turns = pool, Turns(pool.capacity)
        if self.archive is not None:  # archive files are written off the loop, one writer
            self._archive_thread = ThreadPoolExecutor(1, thread_name_prefix="ingest-archive")
        credentials = {f.url: f.auth for f in self.cfg.feeds if f.auth}
        self._fetcher = await Fetcher(self.cfg.fetch, hosts=self.hosts, credentials=credentials,
                                      gate=self.leases.hold).__aenter__()
        self.fetcher = self._fetcher
        self.store.expect(self._more_coming)
        return self

    def _more_coming(self) -> bool:
        """Articles submitted and not yet handed to the store: its batch lingers for them only."""
        return len(self._tasks) > self._at_store

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        try:
            if exc_type is asyncio.CancelledError:  # the run was cancelled (a signal): abandon in-flight work
                for task in list(self._tasks):
                    task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            await self.leases.close()
            if self._fetcher:
                await self._fetcher.__aexit__(None, None, None)
            if self._archive_thread:
                self._archive_thread.shutdown(wait=True)
            if self.pool and self.pool is not self.engine:
                self.pool.close()

    # --- submitting work ------------------------------------------------------------------
    async def submit(self, candidate: Candidate, page: Page | Packed | Skipped | None = None) -> None:
        """Queue a candidate (with its page when a source already has it, e.g. WARC; or what a
        cluster worker extracted from it, ingest/run/cluster.py).

        Waits while `max_in_flight` candidates of the same feed (or source) are submitted and
        not yet done: backpressure on that feed alone. Raises the StoreError that stopped the
        run, if the database failed.
        """
        if self.failure is not None:
            raise self.failure
        key = candidate.feed_url or candidate.source
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = asyncio.Semaphore(self._lane_size)
        await lane.acquire()
        task = asyncio.create_task(self._guarded(candidate, page, lane))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait until everything submitted so far is stored; raise the StoreError that stopped it."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self.failure is not None:
            raise self.failure

    async def settled(self) -> None:
        """Wait until what was submitted before this call is finished (not what comes after)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def fail(self, error: StoreError) -> None:
        """The database failed: remember the first failure, log it once, stop taking work."""
        if self.failure is None:
            self.failure = error
            log.error("%s", error, extra={"outcome": "storage_fault"})
            self.failed.set()

    async def settle(self, grace: float, also: set[asyncio.Task[None]] | None = None) -> int:
        """Let in-flight articles (and the tasks `also`) finish for `grace` seconds, then cancel
        the rest; how many were abandoned (they are listed again by their source next time)."""
        extra = also if also is not None else set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while waiting := {*extra, *self._tasks}:  # polls still running may submit more articles
            left = deadline - loop.time()
            if left <= 0:
                for task in waiting:
                    task.cancel()
                await asyncio.gather(*waiting, return_exceptions=True)
                return len(waiting)
            await asyncio.wait(waiting, timeout=left)
        return 0

    async def _guarded(self, candidate: Candidate, page: Page | Packed | Skipped | None,
                       lane: asyncio.Semaphore) -> None:
        slot = _Slot(self._slots)
        try:
            await self.process(candidate, page, slot)
        except asyncio.CancelledError:
            raise
        except StoreError as e:  # the database, not the article: every article would fail the same way
            self.fail(e)
            self.tally.add("error")
        except Exception:  # one bad article must not stop the run
            log.exception("failed to process %s", candidate.url, extra={"url": candidate.url, "outcome": "error"})
            self.tally.add("error")
        finally:
            slot.leave()
            lane.release()

    # --- one article ------------------------------------------------------------------------
    async def process(self, candidate: Candidate, page: Page | Packed | Skipped | None = None,
                      slot: Admission | None = None) -> str:
        """Fetch (unless given), extract (unless done on a cluster), store. Returns the outcome word.

        `slot` (one of the pipeline's `max_in_flight`) is entered when the request can start
        or, for a given page or a cluster's result, before extraction or storing; the caller leaves it."""
        assert self.pool is not None and self.fetcher is not None
        fetch_log = None
        if isinstance(page, Packed | Skipped):
            if slot is not None:
                await slot.enter()
            return await self._store(candidate, page.unpack() if isinstance(page, Packed) else page, None)
        if page is None:
            known = await self.store.known(candidate)
            if isinstance(known, Known) and not (known.due or self.refetch_known):
                await self.store.seen(known, candidate)
                return self._done("seen")
            if isinstance(known, OffTopic):
                return self._done("off_topic")
            at, started = now(), time.monotonic()
            result = await self.fetcher.fetch(candidate.url, kind="article", admit=slot)
            fetch_log = FetchLog.of(result, "article", at, (time.monotonic() - started) * 1000)
            if self.metrics:
                self.metrics.fetched(fetch_log)
            if isinstance(result, FetchFailure):
                await self.store.skipped(candidate, f"fetch_{result.kind}", fetch_log)
                self._warn(candidate, "fetch failed %s: %s", candidate.url, result.message,
                           extra={"url": candidate.url, "outcome": result.kind})
                return self._done(f"fetch_{result.kind}")
            if isinstance(result, NotModified):  # not asked for, but harmless
                return self._done("not_modified")
            page = result
            if self._archive_thread is not None and self.archive is not None:
                await asyncio.get_running_loop().run_in_executor(self._archive_thread, self.archive.write, page)
        elif slot is not None:
            await slot.enter()
        started = time.monotonic()
        ex = await self._extract(page, candidate)
        if self.metrics:
            self.metrics.extraction.observe(time.monotonic() - started)
        return await self._store(candidate, ex, fetch_log)

    async def _store(self, candidate: Candidate, ex: Extracted | Skipped, fetch_log: FetchLog | None) -> str:
        if isinstance(ex, Skipped):
            await self.store.skipped(candidate, ex.reason, fetch_log)
            if ex.reason != "off_topic":
                self._warn(candidate, "nothing extracted from %s: %s", candidate.url, ex.message or ex.reason,
                           extra={"url": candidate.url, "outcome": ex.reason})
            return self._done(ex.reason)
        self._at_store += 1
        try:
            stored = await self.store.store(candidate, ex, fetch_log)
        finally:
            self._at_store -= 1
        self.tally.keep(stored)
        if self.metrics:
            self.metrics.stored(stored)
        log.info("%s %s v%d%s", stored.outcome, candidate.url, stored.version,
                 f" [{', '.join(stored.flags)}]" if stored.flags else "",
                 extra={"url": candidate.url, "outcome": stored.outcome, "flags": list(stored.flags)})
        return self._done(stored.outcome)

    async def _extract(self, page: Page, candidate: Candidate) -> Extracted | Skipped:
        """Extract in the feed's turn (run/fair.py): a feed of slow pages cannot hold every worker."""
        assert self.pool is not None
        if self._turns is None:
            return await self.pool.extract(page, candidate)
        await self._turns.enter(candidate.feed_url or candidate.source)
        try:
            return await self.pool.extract(page, candidate)
        finally:
            self._turns.leave()

    def _warn(self, candidate: Candidate, msg: str, *args: object, extra: dict[str, object]) -> None:
        """A failed article's warning, within its feed's (or source's) quota of lines (logs.Quota)."""
        key = candidate.feed_url or candidate.source
        level, demoted = self.quota.take(key)
        if demoted:
            log.warning("%d more articles of %s failed in %gs (logged at debug level; each is in the fetch log)",
                        demoted, key, self.quota.window, extra={"feed": key, "outcome": "quiet", "count": demoted})
        log.log(level, msg, *args, extra={**extra, "feed": key})

    def _done(self, outcome: str) -> str:
        self.tally.add(outcome)
        return outcome

    # --- feeds ----------------------------------------------------------------------------
    async def poll_feed(self, feed: FeedState, conditional: bool = True) -> FeedState:
        """Fetch and parse one feed, submit its entries, record the poll; the feed's new state.

        Never raises for what the feed does (failures are recorded on the feed and its next
        poll is backed off); `conditional=False` (a one-off full pass) ignores the stored
        validators and body hash.
        """
        assert self.fetcher is not None
        _import_feed_parser_soon()
        at, started = now(), time.monotonic()
        result = await (self.fetcher.fetch(feed.url, kind="feed", etag=feed.etag,
                                           last_modified=feed.last_modified, body_hash=feed.body_hash)
                        if conditional else self.fetcher.fetch(feed.url, kind="feed"))
        fetch_log = FetchLog.of(result, "feed", at, (time.monotonic() - started) * 1000)
        if isinstance(result, FetchFailure):
            poll = Poll(fetch_log, ok=False, error=result.message, failure=result.kind, hint=result.retry_after)
        elif isinstance(result, NotModified):
            poll = Poll(fetch_log, ok=True, not_modified=True, etag=result.etag, last_modified=result.last_modified)
        else:
            poll = await self._entries(feed, result, fetch_log)
        state = await self.store.feeds.polled(feed, poll)
        self._count_poll(feed.url, poll)
        if not poll.ok:
            streak = self._fail_streak[feed.url]
            # Logged at the 1st, 2nd, 4th, 8th... failure in a row, or when the error changes: a feed
            # that fails for a week is a few lines, not one per poll (the feeds table has every one).
            level = logging.WARNING if streak & (streak - 1) == 0 or self.failing.get(feed.url) != poll.error \
                else logging.DEBUG
            log.log(level, "feed failed %s: %s%s", feed.url, poll.error,
                    f" ({streak} times in a row)" if streak > 1 else "",
                    extra={"feed": feed.url, "outcome": poll.failure, "streak": streak})
            self.failing[feed.url] = poll.error or ""
        elif poll.not_modified:
            log.info("feed not modified %s", feed.url, extra={"feed": feed.url, "outcome": "not_modified"})
        else:
            log.info("feed ok %s: %d items, %d new", feed.url, poll.items or 0, poll.new,
                     extra={"feed": feed.url, "outcome": "ok", "items": poll.items, "new": poll.new})
        log.info("feed next poll %s at %s", feed.url, state.next_poll_at,
                 extra={"feed": feed.url, "outcome": "scheduled", "interval": state.interval, "hint": poll.hint,
                        "failures": state.failures, "next_poll_at": state.next_poll_at})
        return state

    def _count_poll(self, url: str, poll: Poll) -> None:
        self.polls += 1
        if self.metrics:
            self.metrics.fetched(poll.fetch)
            outcome = "failed" if not poll.ok else "not_modified" if poll.not_modified else "ok"
            self.metrics.polled(url, outcome, 0 if poll.ok else self._fail_streak.get(url, 0) + 1)
        if poll.ok:
            if self._fail_streak.pop(url, 0):
                log.info("feed recovered %s", url, extra={"feed": url, "outcome": "recovered"})
            self.failing.pop(url, None)
        else:
            self.polls_failed += 1
            self._fail_streak[url] = self._fail_streak.get(url, 0) + 1

    async def _entries(self, feed: FeedState, page: Page, fetch_log: FetchLog) -> Poll:
        """Parse a fetched feed and submit its entries; what the poll found."""
        # feedparser is pure Python (~0.65 ms per item): a big feed would stall the loop's I/O
        parsed = await _on_daemon_thread(_parse_feed, page.body, page.final_url, page.headers, self.matcher, feed.url)
        if isinstance(parsed, Exception):  # the FeedError
            return Poll(fetch_log, ok=False, error=str(parsed), failure="parse")
        if parsed.warning:
            log.warning("feed %s parsed with problems: %s", feed.url, parsed.warning, extra={"feed": feed.url})
        new = await self.store.feeds.new_entries(parsed.candidates)  # counted before any entry is stored
        for cand in parsed.candidates:
            await self.submit(cand)
        hints = [h for h in (parsed.ttl, cache_hint(page.headers)) if h]
        return Poll(fetch_log, ok=True, title=parsed.title, etag=page.headers.get("ETag"),
                    last_modified=page.headers.get("Last-Modified"), body_hash=hashlib.sha256(page.body).hexdigest(),
                    items=len(parsed.candidates), new=new, hint=max(hints) if hints else None)
