"""Daemon job logic in-process with a stand-in pipeline: no feed is ever dropped from the schedule."""
import asyncio
from dataclasses import replace
from datetime import timedelta

from ingest.config import Config, ScheduleConfig
from ingest.records import FeedState
from ingest.run.daemon import Daemon
from ingest.times import now


class FakePipe:
    """poll_feed answers from a script: a new state (the store planned its next poll) or an error."""

    def __init__(self, outcomes):
        self.outcomes, self.calls = list(outcomes), []
        self.failing: dict[str, str] = {}  # feeds whose last poll failed, for the first-round line

    async def poll_feed(self, state, conditional=True):
        self.calls.append(conditional)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return replace(state, next_poll_at=now() + timedelta(seconds=outcome))


class FakeScheduler:
    def __init__(self):
        self.jobs = []

    def add_job(self, fn, trigger, run_date, args, **kwargs):
        self.jobs.append((run_date, args[2]))


def test_poll_reschedules_after_success_and_crash():
    cfg = Config(schedule=ScheduleConfig(min_interval=5, default_interval=60, max_interval=600))
    feed = FeedState(1, "http://a.test/feed")

    async def go():
        daemon = Daemon(cfg)
        pipe = FakePipe([5.0, RuntimeError("database hiccup"), 300.0])
        sched = FakeScheduler()
        t0 = now()
        await daemon._poll(pipe, sched, feed)  # scheduled when the store said
        await daemon._poll(pipe, sched, sched.jobs[-1][1])  # crash: logged, retried after default_interval
        await daemon._poll(pipe, sched, sched.jobs[-1][1])
        daemon.stop.set()
        await daemon._poll(pipe, sched, sched.jobs[-1][1])  # stopping: nothing polled, nothing scheduled
        return pipe, sched, t0

    pipe, sched, t0 = asyncio.run(asyncio.wait_for(go(), 10))
    assert pipe.calls == [False, True, True]  # first poll after a start is unconditional
    waits = [(at - t0).total_seconds() for at, _ in sched.jobs]
    assert len(waits) == 3
    assert 4 <= waits[0] <= 6.5 and 59 <= waits[1] <= 61.5 and 299 <= waits[2] <= 301.5
    assert sched.jobs[0][1].next_poll_at == sched.jobs[0][0]  # the job carries the feed's new state


def test_recheck_tick_and_budget_follow_config():
    d = Daemon(Config(schedule=ScheduleConfig(recheck_after=1800, recheck_budget=50)))
    assert d.recheck_every == 60 and d.recheck_per_tick == 50
    d = Daemon(Config(schedule=ScheduleConfig(recheck_after=2, recheck_budget=50)))
    assert d.recheck_every == 0.5 and d.recheck_per_tick == 1  # 50 per minute, spread over ticks
