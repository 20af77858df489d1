"""`ingest run`: poll feeds on their own schedules, re-check stored articles, until stopped.

APScheduler (AsyncIOScheduler) fires one job per feed at that feed's next poll time;
after each poll the job is rescheduled with the adaptive interval (schedule.py) and the
time is saved in the feeds table, so a restarted daemon resumes where it was.

Crash safety comes from the store (one transaction per article, WAL); the daemon adds:
- the first poll of each feed after a start is unconditional (validators ignored), so
  entries whose articles were in flight when the last run was killed are listed again;
- SIGTERM/SIGINT stop the scheduler, give in-flight work `grace` seconds, cancel the
  rest (an abandoned article is simply not stored, and is listed again next time), and
  return normally (exit 0); a second signal exits at once (the database stays consistent:
  an interrupted transaction is rolled back by SQLite on the next open).
"""
from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
from datetime import datetime, timedelta, timezone
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from .config import Config, describe
from .pipeline import Pipeline, PollResult
from .records import Candidate
from .schedule import floor, jittered, next_interval, stagger
from .store.writer import FeedState, Writer, iso, now_iso

log = logging.getLogger("ingest.daemon")
SHUTDOWN_GRACE = 20.0  # seconds in-flight work gets after SIGTERM before it is abandoned
RECHECK_EVERY = 60.0  # seconds between re-check ticks, at most (shorter when recheck_after is short)
STAGGER_GAP = 1.0  # seconds between first polls of feeds on one host, at least
TEST_HOSTS_ENV = "INGEST_TEST_HOSTS"  # test-only: "a.test=127.0.0.1,b.test" (see docs/daemon.md)


class AlreadyRunning(Exception):
    pass


class DaemonLock:
    """An exclusive lock file beside the database: one daemon per database.

    flock is released by the kernel when the process dies, even by kill -9, so a stale
    lock file never blocks a restart.
    """

    def __init__(self, database: str):
        self.path = Path(f"{database}.lock")
        self._fd: int | None = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise AlreadyRunning(f"another ingest daemon (pid {holder}) is running on {self.path.with_suffix('')}") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock; the file stays (harmless)
            self._fd = None


def test_hosts_from_env() -> dict[str, str] | None:
    """Host pins for tests (`INGEST_TEST_HOSTS=a.test=127.0.0.1,b.test`): never set in production.

    They let a daemon *process* treat names served from 127.0.0.1 as public hosts while the
    address guard stays on for everything else (Fetcher `hosts`, docs/fetching.md).
    """
    raw = os.environ.get(TEST_HOSTS_ENV, "").strip()
    if not raw:
        return None
    pins = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, _, addr = part.partition("=")
        pins[name.strip().lower()] = addr.strip() or "127.0.0.1"
    log.warning("test-only host pins from %s: %s", TEST_HOSTS_ENV, pins, extra={"outcome": "test_hosts"})
    return pins


async def run_once(cfg: Config, hosts=None, archive=None) -> Pipeline:
    """Poll every feed once, finish all resulting work, return the pipeline (for its tally).

    `archive`: an object with .write(Page) (archive.WarcArchive) that keeps every response.
    """
    log.info("one pass with config %s", describe(cfg), extra={"config": describe(cfg), "outcome": "start"})
    hosts = hosts if hosts is not None else test_hosts_from_env()
    async with Pipeline(cfg, hosts=hosts, refetch_known=True, archive=archive) as pipe:
        feeds = await pipe.register_feeds(cfg.feeds)
        results = await asyncio.gather(*(pipe.poll_feed(f, conditional=False) for f in feeds))
        await pipe.drain()
        for feed, result in zip(feeds, results):
            await _reschedule(pipe, feed, result)
    return pipe


async def _reschedule(pipe: Pipeline, feed: FeedState, result: PollResult) -> datetime:
    """Compute and save the feed's next interval and poll time; return that time."""
    s = pipe.cfg.schedule
    state = await pipe.db(pipe.writer.feed_state, feed.url)
    hint = result.hint
    interval = next_interval(s, state.interval, ok=result.ok, new_items=result.new, failures=state.failures, hint=hint)
    wait = jittered(interval, lo=max(s.min_interval, floor(s, hint)), hi=s.max_interval)
    at = datetime.now(timezone.utc) + timedelta(seconds=wait)
    await pipe.db(pipe.writer.update_feed, feed.id, interval=interval, next_poll_at=iso(at))
    log.info("feed next poll %s in %.0fs", feed.url, wait,
             extra={"feed": feed.url, "outcome": "scheduled", "interval": round(interval, 3),
                    "hint": hint, "failures": state.failures, "next_poll_at": iso(at)})
    return at


class Daemon:
    def __init__(self, cfg: Config, hosts=None, grace: float = SHUTDOWN_GRACE, archive=None):
        self.cfg = cfg
        self.hosts = hosts
        self.archive = archive
        self.grace = grace
        self.stop = asyncio.Event()
        self._signals = 0
        self._polls: set[asyncio.Task] = set()  # feed polls running now (awaited at shutdown)
        self._polled: set[int] = set()  # feeds polled since this start (later polls are conditional)
        self._rechecking: dict[int, str | None] = {}  # article id -> next_check_at when submitted
        s = cfg.schedule
        self.recheck_every = min(RECHECK_EVERY, max(0.5, s.recheck_after / 4))
        self.recheck_per_tick = max(1, round(s.recheck_budget * self.recheck_every / 60))

    # --- signals -------------------------------------------------------------------------------
    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        name = signal.Signals(signum).name
        if self._signals > 1:
            log.warning("second signal %s: exiting now", name, extra={"outcome": "killed"})
            os._exit(130)  # SQLite rolls back an interrupted transaction; the workers follow (worker.exit_with)
        log.info("signal %s: stopping, in-flight work gets %gs", name, self.grace, extra={"outcome": "stopping"})
        self.stop.set()

    # --- main loop -----------------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        log.info("starting with config %s", describe(self.cfg), extra={"config": describe(self.cfg), "outcome": "start"})
        hosts = self.hosts if self.hosts is not None else test_hosts_from_env()
        async with Pipeline(self.cfg, hosts=hosts, archive=self.archive) as pipe:
            scheduler = AsyncIOScheduler(timezone=timezone.utc)
            feeds = await pipe.register_feeds(self.cfg.feeds)
            for feed, first in self._first_polls(feeds).items():
                self._schedule(scheduler, pipe, feed, first)
            scheduler.add_job(self._recheck, "interval", seconds=self.recheck_every, args=[pipe], id="recheck",
                              next_run_time=datetime.now(timezone.utc) + timedelta(seconds=min(5.0, self.recheck_every)),
                              max_instances=1, coalesce=True, misfire_grace_time=None)
            log.info("scheduled %d feeds, re-checks every %gs (up to %d each)", len(feeds), self.recheck_every,
                     self.recheck_per_tick, extra={"outcome": "scheduled", "feeds": len(feeds)})
            if not self.stop.is_set():
                scheduler.start()
                await self.stop.wait()
                scheduler.pause()  # no new polls; shutdown() would cancel the running ones at once
            await self._finish(pipe)
            if scheduler.running:
                scheduler.shutdown(wait=False)
        log.info("stopped: %s", dict(pipe.tally.counts), extra={"outcome": "stopped", "counts": dict(pipe.tally.counts)})

    def _first_polls(self, feeds: list[FeedState]) -> dict[FeedState, datetime]:
        """Resume each feed at its saved next poll time; spread feeds of one host apart."""
        now = datetime.now(timezone.utc)
        offsets = stagger([f.url for f in feeds], max(self.cfg.fetch.per_host_delay, STAGGER_GAP))
        return {f: max(_parse(f.next_poll_at) or now, now) + timedelta(seconds=offsets[f.url]) for f in feeds}

    def _schedule(self, scheduler: AsyncIOScheduler, pipe: Pipeline, feed: FeedState, at: datetime) -> None:
        scheduler.add_job(self._poll, "date", run_date=at, args=[pipe, scheduler, feed], id=f"feed-{feed.id}",
                          replace_existing=True, misfire_grace_time=None, max_instances=3)

    async def _finish(self, pipe: Pipeline) -> None:
        """Let in-flight polls and articles finish for `grace` seconds, then cancel them."""
        async def settle():
            while self._polls or pipe._tasks:
                await asyncio.gather(*self._polls, *pipe._tasks, return_exceptions=True)

        try:
            await asyncio.wait_for(settle(), self.grace)
        except asyncio.TimeoutError:
            pending = len(self._polls) + len(pipe._tasks)
            log.warning("abandoning %d in-flight polls and articles after %gs", pending, self.grace,
                        extra={"outcome": "abandoned", "count": pending})
            for task in [*self._polls, *pipe._tasks]:
                task.cancel()
            await asyncio.gather(*self._polls, *pipe._tasks, return_exceptions=True)

    # --- jobs ------------------------------------------------------------------------------------
    async def _poll(self, pipe: Pipeline, scheduler: AsyncIOScheduler, feed: FeedState) -> None:
        """Poll one feed and schedule its next poll, whatever happens (a feed is never dropped)."""
        if self.stop.is_set():
            return
        task = asyncio.current_task()
        self._polls.add(task)
        at = None
        try:
            state = await pipe.db(pipe.writer.feed_state, feed.url)
            conditional = feed.id in self._polled
            self._polled.add(feed.id)
            result = await pipe.poll_feed(state, conditional=conditional)
            at = await _reschedule(pipe, feed, result)
        except asyncio.CancelledError:
            if self.stop.is_set():  # abandoned at shutdown: its next_poll_at is still the old one, due at restart
                log.info("poll of %s abandoned", feed.url, extra={"feed": feed.url, "outcome": "abandoned"})
                return
            raise
        except Exception:  # a bug or a database hiccup: log it, try again after the default interval
            log.exception("poll of %s crashed", feed.url, extra={"feed": feed.url, "outcome": "error"})
            at = datetime.now(timezone.utc) + timedelta(seconds=self.cfg.schedule.default_interval)
        finally:
            self._polls.discard(task)
            if at is not None and not self.stop.is_set():
                self._schedule(scheduler, pipe, feed, at)

    async def _recheck(self, pipe: Pipeline) -> None:
        """Re-fetch stored articles whose decaying re-check time has come (bounded per tick).

        A re-check that stored nothing (fetch failed, page empty) leaves next_check_at where it
        was; the next tick pushes such articles back (growing, like an unchanged re-check), so
        a deleted page cannot hold the head of the queue and use up every tick's budget.
        """
        if self.stop.is_set():
            return
        try:
            if self._rechecking:
                deferred = await pipe.db(_defer_unanswered, pipe.writer, self._rechecking, self.cfg)
                if deferred:
                    log.info("deferred %d re-checks that stored nothing", deferred,
                             extra={"outcome": "recheck_deferred", "count": deferred})
                self._rechecking.clear()
            due = await pipe.db(_due, pipe.writer, self.recheck_per_tick)
            for article_id, url, next_at in due:
                if self.stop.is_set():
                    break
                self._rechecking[article_id] = next_at
                await pipe.submit(Candidate(url=url, source="recheck"))
            if due:
                log.info("re-checking %d stored articles", len(due), extra={"outcome": "recheck", "count": len(due)})
        except asyncio.CancelledError:
            if self.stop.is_set():  # cancelled at shutdown: the articles stay due, checked after restart
                return
            raise
        except Exception:
            log.exception("re-check tick failed", extra={"outcome": "error"})


def _due(writer: Writer, limit: int) -> list[tuple[int, str, str]]:
    """(id, url, next_check_at) of articles due for a re-check (runs on the writer thread)."""
    rows = writer.due_for_recheck(limit)
    if not rows:
        return []
    marks = ",".join("?" * len(rows))
    when = dict(writer.conn.execute(f"SELECT id, next_check_at FROM articles WHERE id IN ({marks})",
                                    [r[0] for r in rows]).fetchall())
    return [(article_id, url, when.get(article_id)) for article_id, url in rows]


def _defer_unanswered(writer: Writer, submitted: dict[int, str | None], cfg: Config) -> int:
    """Push back re-checks whose next_check_at did not move (runs on the writer thread)."""
    s = cfg.schedule
    now = datetime.now(timezone.utc)
    moved = 0
    with writer.txn() as c:
        for article_id, was in submitted.items():
            row = c.execute("SELECT next_check_at, check_interval, first_seen FROM articles WHERE id = ?",
                            (article_id,)).fetchone()
            if row is None or row[0] is None or row[0] != was or row[0] > now_iso():
                continue
            interval = (row[1] or s.recheck_after) * s.recheck_growth
            at = now + timedelta(seconds=interval)
            too_old = at - datetime.fromisoformat(row[2]) > timedelta(days=s.recheck_max_age_days)
            c.execute("UPDATE articles SET next_check_at = ?, check_interval = ? WHERE id = ?",
                      (None if too_old else iso(at), interval, article_id))
            moved += 1
    return moved


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
