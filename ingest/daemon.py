"""`ingest run`: poll feeds on their own schedules, re-check stored articles, until stopped.

APScheduler (AsyncIOScheduler) fires one job per feed at that feed's next poll time;
after each poll the job is rescheduled with the adaptive interval (schedule.py) and the
time is saved in the feeds table, so a restarted daemon resumes where it was.
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
from .schedule import jittered, next_interval
from .store.writer import FeedState, iso

log = logging.getLogger("ingest.daemon")
SHUTDOWN_GRACE = 20.0  # seconds in-flight work gets after SIGTERM before it is abandoned
RECHECK_EVERY = 60.0


class AlreadyRunning(Exception):
    pass


class DaemonLock:
    """An exclusive lock file beside the database: one daemon per database."""

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


async def run_once(cfg: Config, hosts=None) -> Pipeline:
    """Poll every feed once, finish all resulting work, return the pipeline (for its tally)."""
    async with Pipeline(cfg, hosts=hosts, refetch_known=True) as pipe:
        feeds = await pipe.register_feeds(cfg.feeds)
        results = await asyncio.gather(*(pipe.poll_feed(f, conditional=False) for f in feeds))
        await pipe.drain()
        for feed, result in zip(feeds, results):
            await _reschedule(pipe, feed, result)
    return pipe


async def _reschedule(pipe: Pipeline, feed: FeedState, result: PollResult) -> float:
    state = await pipe.db(pipe.writer.feed_state, feed.url)
    hint = result.ttl
    if result.failure is not None and result.failure.retry_after:
        hint = max(hint or 0, result.failure.retry_after)
    interval = next_interval(pipe.cfg.schedule, state.interval, ok=result.ok, new_items=result.new,
                             failures=state.failures, hint=hint)
    at = datetime.now(timezone.utc) + timedelta(seconds=jittered(interval))
    await pipe.db(pipe.writer.update_feed, feed.id, interval=interval, next_poll_at=iso(at))
    return interval


class Daemon:
    def __init__(self, cfg: Config, hosts=None):
        self.cfg = cfg
        self.hosts = hosts
        self.stop = asyncio.Event()
        self._signals = 0

    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second signal: exiting now")
            os._exit(130)  # SQLite transactions keep the file consistent
        log.info("signal %s: stopping after in-flight work", signal.Signals(signum).name)
        self.stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        log.info("starting with config %s", describe(self.cfg), extra={"config": describe(self.cfg)})
        async with Pipeline(self.cfg, hosts=self.hosts) as pipe:
            scheduler = AsyncIOScheduler(timezone=timezone.utc)
            feeds = await pipe.register_feeds(self.cfg.feeds)
            now = datetime.now(timezone.utc)
            for i, feed in enumerate(feeds):
                first = _parse(feed.next_poll_at) or now + timedelta(seconds=min(i * 0.5, 30))
                scheduler.add_job(self._poll, "date", run_date=max(first, now), args=[pipe, scheduler, feed],
                                  id=str(feed.id), misfire_grace_time=None)
            scheduler.add_job(self._recheck, "interval", seconds=RECHECK_EVERY, args=[pipe], id="recheck",
                              next_run_time=now + timedelta(seconds=5), max_instances=1, coalesce=True)
            scheduler.start()
            await self.stop.wait()
            scheduler.shutdown(wait=False)
            try:
                await asyncio.wait_for(pipe.drain(), SHUTDOWN_GRACE)
            except asyncio.TimeoutError:
                log.warning("abandoning %d in-flight articles", len(pipe._tasks))
                for task in list(pipe._tasks):
                    task.cancel()
        log.info("stopped: %s", dict(pipe.tally.counts), extra={"outcome": "stopped"})

    async def _poll(self, pipe: Pipeline, scheduler: AsyncIOScheduler, feed: FeedState) -> None:
        if self.stop.is_set():
            return
        result = await pipe.poll_feed(await pipe.db(pipe.writer.feed_state, feed.url))
        interval = await _reschedule(pipe, feed, result)
        if not self.stop.is_set():
            at = datetime.now(timezone.utc) + timedelta(seconds=interval)
            scheduler.add_job(self._poll, "date", run_date=at, args=[pipe, scheduler, feed], id=str(feed.id),
                              replace_existing=True, misfire_grace_time=None)

    async def _recheck(self, pipe: Pipeline) -> None:
        """Re-fetch stored articles whose decaying re-check time has come (bounded per tick)."""
        due = await pipe.db(pipe.writer.due_for_recheck, self.cfg.schedule.recheck_budget)
        for article_id, url in due:
            if self.stop.is_set():
                break
            await pipe.submit(Candidate(url=url, source="recheck"))


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
