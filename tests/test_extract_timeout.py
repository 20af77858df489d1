"""A per-page time limit in the extraction pool: a worker over it is killed and replaced, the page
comes back Skipped(url, "timeout"), and pages on healthy workers (or queued) are not lost.

The slow page is real: trafilatura is quadratic on long runs of short paragraphs (60,000 of them,
2.5 MB, take minutes; a worker stuck on it is what held a healthy feed's first article back 84 s).
Real worker processes, no hook in the worker.
"""
from __future__ import annotations

import asyncio
import html
import time
from datetime import UTC, datetime

import pytest

from ingest.analyse.synth import article
from ingest.analyse.topics import TopicMatcher
from ingest.config import Config, ConfigError, parse_config
from ingest.extract.pool import DEFAULT_TIMEOUT, ExtractPool
from ingest.records import Candidate, Extracted, Page, Skipped
from ingest.run.pipeline import Pipeline
from ingest.store import open_store

SLOW_HTML = ("<html><head><title>Slow</title></head><body><article>"
             + "<p>Summit talks in Singapore went on.</p>" * 60_000 + "</article></body></html>")


def page_of(url: str, doc: str) -> tuple[Candidate, Page]:
    page = Page(url=url, final_url=url, status=200, headers={"content-type": "text/html"}, body=doc.encode(),
                html=doc, charset="utf-8", charset_source="header", charset_mismatch=False,
                fetched_at=datetime.now(UTC))
    return Candidate(url=url, source="warc", record_key=url), page


def healthy(i: int) -> tuple[Candidate, Page]:
    title, text = article(i, paragraphs=8)
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n"))
    doc = f"<html><head><title>{html.escape(title)}</title></head><body><article><h1>{html.escape(title)}</h1>" \
          f"{paras}</article></body></html>"
    return page_of(f"https://news.test/story/{i}.html", doc)


def slow(i: int) -> tuple[Candidate, Page]:
    return page_of(f"https://hostile.test/slow/{i}.html", SLOW_HTML)


async def lag_probe(stop: asyncio.Event, lags: list[float]) -> None:
    """How late a 10 ms sleep wakes up: the event loop's stalls."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t = loop.time()
        await asyncio.sleep(0.01)
        lags.append(loop.time() - t - 0.01)


def run_pool(workers: int, timeout: float, items: list[tuple[Candidate, Page]], stagger: float = 0.0):
    """Extract `items` concurrently (the n-th submitted after n * stagger s); results in order, and more."""
    async def main():
        pool = await ExtractPool(workers, TopicMatcher(()), timeout=timeout).start().ready()
        first = list(pool.worker_pids)
        stop, lags = asyncio.Event(), []
        probe = asyncio.create_task(lag_probe(stop, lags))
        started = time.monotonic()
        done_at: dict[str, float] = {}

        async def one(n: int, cand: Candidate, page: Page):
            await asyncio.sleep(n * stagger)
            result = await pool.extract(page, cand)
            done_at[page.url] = time.monotonic() - started
            return result

        try:
            results = await asyncio.wait_for(asyncio.gather(*(one(n, c, p) for n, (c, p) in enumerate(items))), 60)
            for _ in range(100):  # the replacement starts in the background: wait for it (bounded)
                if len(pool.worker_pids) == workers:
                    break
                await asyncio.sleep(0.05)
            after = list(pool.worker_pids)
        finally:
            stop.set()
            await probe
            pool.close()
        return results, first, after, pool, lags, done_at
    return asyncio.run(main())


def test_a_slow_page_is_stopped_at_the_limit_and_the_others_are_extracted():
    items = [healthy(0), healthy(1), slow(0)] + [healthy(i) for i in range(2, 14)]
    results, first, after, pool, lags, done_at = run_pool(2, 1.5, items, stagger=0.05)
    by_url = {c.url: r for (c, _), r in zip(items, results)}
    skipped = by_url["https://hostile.test/slow/0.html"]
    assert isinstance(skipped, Skipped) and skipped.reason == "timeout" and "1.5s" in skipped.message
    others = [r for u, r in by_url.items() if "slow" not in u]
    assert len(others) == 14 and all(isinstance(r, Extracted) for r in others), others  # none lost
    assert pool.timeouts == 1 and pool.restarts == 1
    assert len(after) == 2 and len(set(first) - set(after)) == 1  # exactly the stuck worker was replaced
    killed = (set(first) - set(after)).pop()
    assert _gone(killed)
    # the slow page answered at about the limit, not when trafilatura would have finished
    assert done_at["https://hostile.test/slow/0.html"] < 1.5 + 3.0
    assert max(lags) < 0.25, max(lags)  # killing and replacing a worker never stalls the event loop


def _gone(pid: int, within: float = 5.0) -> bool:
    """The process has exited (reaped, or a zombie waiting for the forkserver to reap it)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/status") as f:
                if any(line.startswith("State:") and "Z" in line for line in f):
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def test_one_worker_two_slow_pages_then_a_healthy_one():
    """The issue's case: with one worker, two pathological pages held a healthy article back 84 s.
    Now each costs the limit at most, and the page queued behind the first one is not lost."""
    items = [slow(0), slow(1), healthy(0), healthy(1)]
    results, first, after, pool, _, done_at = run_pool(1, 1.0, items)
    assert [type(r).__name__ for r in results] == ["Skipped", "Skipped", "Extracted", "Extracted"]
    assert [r.reason for r in results[:2]] == ["timeout", "timeout"] and pool.timeouts == 2
    assert pool.restarts == 2 and len(after) == 1 and after[0] not in first
    assert pool.requeued >= 1  # slow(1) waited behind slow(0): handed back untried when slow(0) was killed
    assert done_at["https://news.test/story/0.html"] < 2 * 1.0 + 6.0  # two limits and two restarts


def test_healthy_pages_are_not_held_by_the_limit():
    """The limit is per page from its start: a long queue of healthy pages never times out."""
    items = [healthy(i) for i in range(40)]
    results, first, after, pool, _, _ = run_pool(2, 5.0, items)
    assert all(isinstance(r, Extracted) for r in results)
    assert pool.timeouts == 0 and pool.restarts == 0 and after == first


def test_pipeline_records_the_timeout_and_stores_the_rest(tmp_path):
    """End to end through the pipeline: the slow page's outcome is "timeout", the others are stored."""
    cfg = Config(database=str(tmp_path / "t.db"), workers=2, extract_timeout=1.0)
    items = [healthy(0), slow(0), healthy(1), healthy(2)]

    async def main():
        async with open_store(cfg) as store, Pipeline(cfg, store) as pipe:
            for cand, page in items:
                await pipe.submit(cand, page)
            await asyncio.wait_for(pipe.drain(), 60)
            return pipe

    pipe = asyncio.run(main())
    assert pipe.tally.counts["timeout"] == 1 and pipe.tally.counts["new"] == 3, pipe.tally.counts


def test_extract_timeout_is_configurable_and_checked():
    assert Config().extract_timeout == DEFAULT_TIMEOUT == 30.0
    assert parse_config({"extract_timeout": 5}).extract_timeout == 5.0
    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ConfigError, match=r"^extract_timeout: must be"):
            parse_config({"extract_timeout": bad})


def test_start_does_not_wait_and_a_pool_whose_workers_cannot_start_raises():
    """start() returns before the workers are up (pages are fetched meanwhile); a page then waits
    for one. If none can start (here: their initializer fails, as a broken installation's would),
    extract() raises with the reason instead of waiting for ever."""
    from concurrent.futures import ProcessPoolExecutor

    from ingest.extract import forkserver
    from ingest.extract.pool import in_worker

    class Broken(ExtractPool):
        def _new_executor(self) -> ProcessPoolExecutor:
            return ProcessPoolExecutor(1, mp_context=forkserver.context(), initializer=in_worker,
                                       initargs=("no_such_function",))

    async def main():
        good = ExtractPool(2, TopicMatcher(())).start()
        bad = Broken(2, TopicMatcher(())).start()
        try:
            waiting = len(good.worker_pids) < 2  # asked for, not waited for
            ok = await asyncio.wait_for(good.extract(*reversed(healthy(0))), 60)
            with pytest.raises(RuntimeError, match="could not start"):
                await asyncio.wait_for(bad.extract(*reversed(healthy(1))), 60)
            return waiting, ok, bad.restarts
        finally:
            good.close()
            bad.close()

    waiting, ok, restarts = asyncio.run(main())
    assert waiting and isinstance(ok, Extracted) and restarts == 0
