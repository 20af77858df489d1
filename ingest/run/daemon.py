"""`ingest run`: poll feeds on their own schedules, re-check stored articles, until stopped.

APScheduler (AsyncIOScheduler) fires one job per feed at that feed's next poll time; each
poll is recorded by the store together with the next poll time (store/schedule.py), so a
restarted daemon resumes where it was.

Crash safety comes from the store (one transaction per article and per poll, WAL); the
daemon adds:
- the first poll of each feed after a start is unconditional (validators ignored), so
  entries whose articles were in flight when the last run was killed are listed again;
- SIGTERM/SIGINT stop the scheduler, give in-flight work `grace` seconds, cancel the
  rest (an abandoned article is simply not stored, and is listed again next time; a worker
  still on a page is killed), and return normally (exit 0); a second signal exits at once
  (the database stays consistent: an interrupted transaction is rolled back by SQLite on the
  next open). Whatever the input, the process is gone `STOP_MARGIN` seconds after the grace:
  work that cannot be cancelled (a thread parsing a huge feed) is cut short like a second signal.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import threading
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.config import Config, describe
from ingest.extract import ExtractPort
from ingest.records import Candidate, FeedState, Recheck
from ingest.store import Store, open_store
from ingest.store.errors import StoreError
from ingest.store.schedule import stagger
from ingest.times import now

from .pipeline import Archive, Pipeline
from .status import StatusFile

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger("ingest.daemon")
SHUTDOWN_GRACE = 20.0  # seconds in-flight work gets after SIGTERM before it is abandoned
# Seconds after the grace by which the process has exited, whatever it was doing: closing the pool,
# the store and the archive takes well under a second, but a thread cannot be cancelled (feedparser on a
# 10 MB feed runs ~25 s on one), and `asyncio.run` waits for such threads before it returns.
STOP_MARGIN = 5.0
PRUNE_EVERY = 3600.0  # seconds between fetch-log retention passes (store.prune)
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

    def __enter__(self) -> DaemonLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise AlreadyRunning(
                f"another ingest daemon (pid {holder}) is running on {self.path.with_suffix('')}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
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


async def run_once(cfg: Config, hosts: dict[str, str] | None = None, archive: Archive | None = None,
                   engine: ExtractPort | None = None) -> Pipeline:
    """Poll every feed once, finish all resulting work, return the pipeline (for its tally).
    `engine`: extract elsewhere (a cluster) instead of in local worker processes."""
    log.info("one pass: %s", start_line(cfg), extra={"outcome": "start", **start_fields(cfg)})
    log.debug("config: %s", describe(cfg), extra={"config": describe(cfg)})
    hosts = hosts if hosts is not None else test_hosts_from_env()
    async with open_store(cfg) as store, Pipeline(cfg, store, hosts=hosts, refetch_known=True,
                                                  archive=archive, engine=engine) as pipe:
        feeds = await store.feeds.register(cfg.feeds)
        await asyncio.gather(*(pipe.poll_feed(f, conditional=False) for f in feeds))
        await pipe.drain()
    return pipe


class Daemon:
    def __init__(self, cfg: Config, hosts: dict[str, str] | None = None, grace: float = SHUTDOWN_GRACE,
                 archive: Archive | None = None, metrics: tuple[str, int] | None = None,
                 engine: ExtractPort | None = None):
        self.cfg = cfg
        self.engine = engine
        self.hosts = hosts
        self.archive = archive
        self.metrics_at = metrics
        self.started = now()
        self.status = StatusFile(cfg.database)
        self._first_round_told = False
        self._n_feeds = 0
        self.grace = grace
        self.stop = asyncio.Event()
        self._signals = 0
        self._polls: set[asyncio.Task[None]] = set()  # feed polls running now (awaited at shutdown)
        self._polled: set[int] = set()  # feeds polled since this start (later polls are conditional)
        self._handed_out: list[Recheck] = []  # re-checks submitted by the last tick
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
        watchdog = threading.Timer(self.grace + STOP_MARGIN, _stop_now, args=(signum, self.grace + STOP_MARGIN))
        watchdog.daemon = True  # never what keeps the process alive
        watchdog.start()

    # --- main loop -----------------------------------------------------------------------------
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        log.info("ingest run: %s", start_line(self.cfg), extra={"outcome": "start", **start_fields(self.cfg)})
        log.debug("config: %s", describe(self.cfg), extra={"config": describe(self.cfg)})
        hosts = self.hosts if self.hosts is not None else test_hosts_from_env()
        # APScheduler and prometheus_client load here, not with the module: `run --once` and the
        # backfills need neither before their first page (docs/performance.md, start-up)
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        from .metrics import Metrics

        metrics = Metrics() if self.metrics_at else None
        async with open_store(self.cfg) as store, Pipeline(self.cfg, store, hosts=hosts, archive=self.archive,
                                                           metrics=metrics, engine=self.engine) as pipe:
            if metrics is not None and self.metrics_at is not None:
                port = metrics.serve(*self.metrics_at)
                metrics.queues(lambda: pipe.in_flight, store.backlog)
                log.info("metrics on http://%s:%d/metrics", self.metrics_at[0], port,
                         extra={"outcome": "metrics", "port": port})
            scheduler = AsyncIOScheduler(timezone=UTC)
            feeds = await store.feeds.register(self.cfg.feeds)
            self._n_feeds = len(feeds)
            await self._status(pipe)
            scheduler.add_job(self._status, "interval", seconds=self.cfg.schedule.status_every, args=[pipe],
                              id="status", max_instances=1, coalesce=True, misfire_grace_time=None)
            for feed, first in self._first_polls(feeds).items():
                self._schedule(scheduler, pipe, feed, first)
            scheduler.add_job(self._recheck, "interval", seconds=self.recheck_every, args=[pipe], id="recheck",
                              next_run_time=now() + timedelta(seconds=min(5.0, self.recheck_every)),
                              max_instances=1, coalesce=True, misfire_grace_time=None)
            scheduler.add_job(self._prune, "interval", seconds=PRUNE_EVERY, args=[pipe], id="prune",
                              next_run_time=now() + timedelta(seconds=min(60.0, self.cfg.schedule.status_every)),
                              max_instances=1, coalesce=True, misfire_grace_time=None)
            log.info("scheduled %d feeds, re-checks every %gs (up to %d each)", len(feeds), self.recheck_every,
                     self.recheck_per_tick, extra={"outcome": "scheduled", "feeds": len(feeds)})
            if not self.stop.is_set():
                scheduler.start()
                await _first(self.stop.wait(), pipe.failed.wait())  # a signal, or the database failed
                scheduler.pause()  # no new polls; shutdown() would cancel the running ones at once
            abandoned = await pipe.settle(self.grace, also=self._polls)
            if abandoned:
                log.warning("abandoning %d in-flight polls and articles after %gs", abandoned, self.grace,
                            extra={"outcome": "abandoned", "count": abandoned})
            if scheduler.running:
                scheduler.shutdown(wait=False)
            self.status.write(self._status_fields(pipe, store, None), stopped=True)
        log.info("stopped after %s: %s; %d polls (%d failed)", _duration(now() - self.started), pipe.tally.summary(),
                 pipe.polls, pipe.polls_failed,
                 extra={"outcome": "stopped", "counts": dict(pipe.tally.counts), "polls": pipe.polls})
        if pipe.failure is not None:
            raise pipe.failure

    def _first_polls(self, feeds: list[FeedState]) -> dict[FeedState, datetime]:
        """Resume each feed at its saved next poll time; spread feeds of one host apart."""
        start = now()
        offsets = stagger([f.url for f in feeds], max(self.cfg.fetch.per_host_delay, STAGGER_GAP))
        return {f: max(f.next_poll_at or start, start) + timedelta(seconds=offsets[f.url]) for f in feeds}

    def _schedule(self, scheduler: AsyncIOScheduler, pipe: Pipeline, feed: FeedState, at: datetime) -> None:
        scheduler.add_job(self._poll, "date", run_date=at, args=[pipe, scheduler, feed], id=f"feed-{feed.id}",
                          replace_existing=True, misfire_grace_time=None, max_instances=3)

    # --- jobs ------------------------------------------------------------------------------------
    async def _poll(self, pipe: Pipeline, scheduler: AsyncIOScheduler, feed: FeedState) -> None:
        """Poll one feed and schedule its next poll, whatever happens (a feed is never dropped)."""
        if self.stop.is_set():
            return
        task: asyncio.Task[None] = asyncio.current_task()  # type: ignore[assignment]
        self._polls.add(task)
        at = None
        try:
            conditional = feed.id in self._polled
            self._polled.add(feed.id)
            feed = await pipe.poll_feed(feed, conditional=conditional)
            at = feed.next_poll_at
            self._tell_first_round(pipe)
        except asyncio.CancelledError:
            if self.stop.is_set():  # abandoned at shutdown: its next_poll_at is still the old one, due at restart
                log.info("poll of %s abandoned", feed.url, extra={"feed": feed.url, "outcome": "abandoned"})
                return
            raise
        except StoreError as e:  # the database failed: the daemon stops (exit 3), nothing half-written
            pipe.fail(e)
        except Exception:  # a bug or a database hiccup: log it, try again after the default interval
            log.exception("poll of %s crashed", feed.url, extra={"feed": feed.url, "outcome": "error"})
            at = now() + timedelta(seconds=self.cfg.schedule.default_interval)
        finally:
            self._polls.discard(task)
            if at is not None and not self.stop.is_set():
                self._schedule(scheduler, pipe, feed, at)

    def _tell_first_round(self, pipe: Pipeline) -> None:
        """Once every feed was polled once: how many could be read (and why the others not)."""
        if self._first_round_told or len(self._polled) < self._n_feeds:
            return
        self._first_round_told = True
        ok = self._n_feeds - len(pipe.failing)
        failing = "; ".join(f"{url}: {why}" for url, why in list(pipe.failing.items())[:5])
        level = logging.WARNING if pipe.failing else logging.INFO
        log.log(level, "first round: %d of %d feeds reachable%s", ok, self._n_feeds,
                f" (failing: {failing}{'; ...' if len(pipe.failing) > 5 else ''})" if pipe.failing else "",
                extra={"outcome": "first_round", "reachable": ok, "feeds": self._n_feeds})

    async def _status(self, pipe: Pipeline) -> None:
        """The periodic status line, and the status file `ingest health` reads."""
        try:
            lag = await pipe.store.ping()
        except Exception:  # the status must not take the daemon down; health sees a stale file
            lag = None
        fields = self._status_fields(pipe, pipe.store, lag)
        self.status.write(fields)
        failing = len(pipe.failing)
        log.info("status: %d polls (%d failing feed%s), %s; %d in flight", pipe.polls, failing,
                 "" if failing == 1 else "s", pipe.tally.summary(), pipe.in_flight,
                 extra={"outcome": "status", **fields})

    def _status_fields(self, pipe: Pipeline, store: Store, lag: float | None) -> dict[str, object]:
        return {"pid": os.getpid(), "started_at": self.started.isoformat(), "feeds": self._n_feeds,
                "polls": pipe.polls, "polls_failed": pipe.polls_failed, "failing_feeds": len(pipe.failing),
                "in_flight": pipe.in_flight, "store_backlog": store.backlog(),
                "writer_lag_ms": None if lag is None else round(lag * 1000, 1), "counts": dict(pipe.tally.counts)}

    async def _prune(self, pipe: Pipeline) -> None:
        """Drop fetch-log rows past `retention.fetch_log_days` (the per-feed cap is kept at each poll)."""
        if self.stop.is_set():
            return
        try:
            pruned = await pipe.store.prune()
        except StoreError as e:  # the database failed: the daemon stops (exit 3)
            pipe.fail(e)
            return
        except Exception:  # noqa: BLE001 - pruning must never take the daemon down; tried again next hour
            log.exception("pruning the fetch log failed", extra={"outcome": "error"})
            return
        if pruned:
            log.info("pruned %d fetch-log rows older than %g days", pruned, self.cfg.retention.fetch_log_days,
                     extra={"outcome": "pruned", "count": pruned})

    async def _recheck(self, pipe: Pipeline) -> None:
        """Re-fetch stored articles whose decaying re-check time has come (bounded per tick).

        Re-checks of the previous tick that stored nothing are pushed back first, so a deleted
        page cannot hold the head of the queue (store.recheck.defer).
        """
        if self.stop.is_set():
            return
        store: Store = pipe.store
        try:
            if self._handed_out:
                deferred = await store.recheck.defer(self._handed_out)
                if deferred:
                    log.info("deferred %d re-checks that stored nothing", deferred,
                             extra={"outcome": "recheck_deferred", "count": deferred})
                self._handed_out = []
            due = await store.recheck.due(self.recheck_per_tick)
            for r in due:
                if self.stop.is_set():
                    break
                self._handed_out.append(r)
                await pipe.submit(Candidate(url=r.url, source="recheck"))
            if due:
                log.info("re-checking %d stored articles", len(due), extra={"outcome": "recheck", "count": len(due)})
        except asyncio.CancelledError:
            if self.stop.is_set():  # cancelled at shutdown: the articles stay due, checked after restart
                return
            raise
        except StoreError as e:
            pipe.fail(e)
        except Exception:
            log.exception("re-check tick failed", extra={"outcome": "error"})


def _stop_now(signum: int, after: float) -> None:
    """The daemon is still here `after` seconds after a signal: exit now, as a second signal would."""
    log.warning("still running %gs after %s: exiting now", after, signal.Signals(signum).name,
                extra={"outcome": "killed"})
    logging.shutdown()
    os._exit(128 + signum)  # SQLite rolls back an interrupted transaction; the workers follow (worker.exit_with)


async def _first(*waits: Awaitable[object]) -> None:
    """Return when the first of `waits` finishes; cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


def start_line(cfg: Config) -> str:
    """What the daemon runs on, in one line."""
    topics = ", ".join(t.name for t in cfg.topics) or "none (every article kept)"
    return (f"{len(cfg.feeds)} feeds, topics {topics}, database {cfg.database}, {cfg.workers} "
            f"worker{'s' if cfg.workers != 1 else ''}")


def start_fields(cfg: Config) -> dict[str, object]:
    return {"feeds": len(cfg.feeds), "topics": [t.name for t in cfg.topics], "database": cfg.database,
            "workers": cfg.workers}


def _duration(d: timedelta) -> str:
    minutes, seconds = divmod(int(d.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {seconds:02d}s"
