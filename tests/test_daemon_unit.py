"""Daemon job logic in-process with a stand-in pipeline: no feed is ever dropped from the schedule."""
import asyncio
from datetime import datetime, timezone

from ingest.config import Config, ScheduleConfig
from ingest.daemon import Daemon
from ingest.pipeline import PollResult
from ingest.store.writer import FeedState


class FakeWriter:
    def __init__(self):
        self.updates = []
        self.failures = 0.0

    def feed_state(self, url):
        return FeedState(1, url, None, '"e"', None, "h", 10.0, self.failures, None)

    def update_feed(self, feed_id, **fields):
        self.updates.append(fields)


class FakePipe:
    def __init__(self, cfg, outcomes):
        self.cfg, self.writer, self.outcomes, self.calls = cfg, FakeWriter(), list(outcomes), []

    async def db(self, fn, *args, **kwargs):
        return fn(*args, **kwargs)

    async def poll_feed(self, state, conditional=True):
        self.calls.append(conditional)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class FakeScheduler:
    def __init__(self):
        self.jobs = []

    def add_job(self, fn, trigger, run_date, **kwargs):
        self.jobs.append(run_date)


def test_poll_reschedules_after_success_failure_and_crash():
    cfg = Config(schedule=ScheduleConfig(min_interval=5, default_interval=60, max_interval=600))
    feed = FeedState(1, "http://a.test/feed", None, None, None, None, None, 0.0, None)

    async def go():
        daemon = Daemon(cfg)
        pipe = FakePipe(cfg, [PollResult(feed.url, True, items=3, new=3), RuntimeError("database hiccup"),
                              PollResult(feed.url, True, ttl=300)])
        sched = FakeScheduler()
        t0 = datetime.now(timezone.utc)
        await daemon._poll(pipe, sched, feed)  # new items: 10 s * 0.5 -> min 5 s (+-10 %)
        await daemon._poll(pipe, sched, feed)  # crash: logged, retried after default_interval
        await daemon._poll(pipe, sched, feed)  # ttl 300 s is a floor
        daemon.stop.set()
        await daemon._poll(pipe, sched, feed)  # stopping: nothing polled, nothing scheduled
        return pipe, sched, t0

    pipe, sched, t0 = asyncio.run(asyncio.wait_for(go(), 10))
    assert pipe.calls == [False, True, True]  # first poll after a start is unconditional
    waits = [(at - t0).total_seconds() for at in sched.jobs]
    assert len(waits) == 3
    assert 4.5 <= waits[0] <= 6.5 and 59 <= waits[1] <= 61 and 300 <= waits[2] <= 331
    assert [u["interval"] for u in pipe.writer.updates] == [5.0, 300.0]
    assert all(u["next_poll_at"] for u in pipe.writer.updates)


def test_recheck_tick_and_budget_follow_config():
    d = Daemon(Config(schedule=ScheduleConfig(recheck_after=1800, recheck_budget=50)))
    assert d.recheck_every == 60 and d.recheck_per_tick == 50
    d = Daemon(Config(schedule=ScheduleConfig(recheck_after=2, recheck_budget=50)))
    assert d.recheck_every == 0.5 and d.recheck_per_tick == 1  # 50 per minute, spread over ticks
