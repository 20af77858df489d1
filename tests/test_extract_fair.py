"""Feeds take turns at the extraction workers (run/fair.py): a feed of pages that each hold a worker
for the whole time limit cannot keep another feed's article waiting behind all of them.

Real worker processes and a real store: one worker, a 2 s limit, sixteen slow pages from one feed
(trafilatura takes minutes on each), then one healthy article from another feed. First come,
first served, the healthy article waited 16.4 s (a page queued behind a killed one is handed
on untried, so two slow pages cost one limit); in turns it waits for one place to free: 3.8 s.
Unit tests of the turn order beside it.
"""
from __future__ import annotations

import asyncio
import dataclasses
import time

from test_extract_timeout import healthy, slow

from ingest.config import Config
from ingest.run.fair import Turns
from ingest.run.pipeline import Pipeline
from ingest.store import open_store

LIMIT = 2.0


def test_a_feed_of_slow_pages_does_not_hold_back_another_feeds_article(tmp_path):
    cfg = Config(database=str(tmp_path / "f.db"), workers=1, extract_timeout=LIMIT)
    hostile = [(dataclasses.replace(c, feed_url="https://hostile.test/feed"), p) for c, p in map(slow, range(16))]
    cand, page = healthy(0)
    good = dataclasses.replace(cand, feed_url="https://news.test/feed")

    async def main():
        async with open_store(cfg) as store, Pipeline(cfg, store) as pipe:
            for c, p in hostile:
                await pipe.submit(c, p)
            await asyncio.sleep(0.3)  # the slow pages are in the pool and queued for it
            started = time.monotonic()
            healthy_done = asyncio.create_task(pipe.process(good, page))
            outcome = await asyncio.wait_for(healthy_done, 60)
            waited = time.monotonic() - started
            await asyncio.wait_for(pipe.drain(), 120)
            return outcome, waited, pipe.tally.counts

    outcome, waited, counts = asyncio.run(main())
    assert outcome == "new" and counts["timeout"] == 16, counts
    # one place frees after one limit (and the worker's replacement); the healthy page is next
    assert waited < 2 * LIMIT + 5.0, f"the healthy article waited {waited:.1f}s behind slow pages"
    print(f"\nhealthy article stored {waited:.1f}s after it arrived behind 16 slow pages (limit {LIMIT:g}s)")


def test_turns_go_round_the_waiting_feeds_and_a_lone_feed_gets_every_place():
    async def main():
        turns = Turns(2)
        order: list[str] = []

        async def page(key: str, n: int) -> None:
            await turns.enter(key)
            order.append(f"{key}{n}")
            await asyncio.sleep(0.01)
            turns.leave()

        tasks = [asyncio.create_task(page("a", n)) for n in range(5)]
        await asyncio.sleep(0)  # a0 and a1 have the two places; a2..a4 wait
        tasks += [asyncio.create_task(page("b", n)) for n in range(2)]
        await asyncio.gather(*tasks)
        lone = Turns(3)
        for _ in range(3):  # no waiting: a lone key takes every place at once
            await asyncio.wait_for(lone.enter("x"), 0.1)
        return order, lone.free

    order, free = asyncio.run(main())
    assert order[:2] == ["a0", "a1"]
    assert order[2:6] == ["a2", "b0", "a3", "b1"]  # round robin between the two feeds
    assert order[6:] == ["a4"] and free == 0


def test_a_cancelled_waiter_neither_loses_nor_takes_a_place():
    async def main():
        turns = Turns(1)
        await turns.enter("a")
        waiter = asyncio.create_task(turns.enter("b"))
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        turns.leave()
        await asyncio.wait_for(turns.enter("c"), 0.1)  # the place came back
        return turns.free

    assert asyncio.run(main()) == 0
