"""Per-host limits, measured by the server: never more than N in flight, never closer than the gap."""
import asyncio
import time

import pytest
from faultserver import HOSTS, JITTER, FaultServer, fast_config, run

from ingest.fetch import Fetcher
from ingest.records import Page

SLOW = "/drip?chunks=3&interval=0.05"  # each request stays open ~0.15 s, so requests overlap


def storm(cfg, per_host=10, hosts=("a.test", "b.test", "c.test"), robots=None, kinds=("article", "feed")):
    async def go():
        async with FaultServer(robots=robots) as srv, Fetcher(cfg, hosts=HOSTS) as f:
            jobs = [f.fetch(srv.url(SLOW + f"&i={i}", h), kind=kinds[i % len(kinds)])
                    for i in range(per_host) for h in hosts]
            started = time.monotonic()
            results = await asyncio.gather(*jobs)
            return results, srv, time.monotonic() - started
    return run(go())


@pytest.mark.parametrize("concurrency, delay", [(2, 0.0), (1, 0.0), (3, 0.03)])
def test_concurrency_cap_and_gap_hold_per_host(concurrency, delay):
    results, srv, elapsed = storm(fast_config(per_host_concurrency=concurrency, per_host_delay=delay))
    assert all(isinstance(r, Page) for r in results)
    for h in ("a.test", "b.test", "c.test"):
        st = srv.host(h)
        assert st.requests == 10
        assert st.max_in_flight == concurrency  # reached, never exceeded
        assert st.min_gap >= delay - JITTER, (h, st.min_gap)
    # hosts are served in parallel: total is about one host's share, not three
    one_host = 10 / concurrency * 0.15
    assert elapsed < 2.2 * one_host


def test_min_gap_between_starts():
    results, srv, _ = storm(fast_config(per_host_concurrency=4, per_host_delay=0.08), per_host=6)
    assert all(isinstance(r, Page) for r in results)
    for h in ("a.test", "b.test", "c.test"):
        assert srv.host(h).min_gap >= 0.08 - JITTER, srv.host(h).min_gap


def test_robots_and_feeds_share_the_article_budget():
    """robots.txt, feed and article requests to one host all count against one limiter."""
    results, srv, _ = storm(fast_config(per_host_concurrency=2, per_host_delay=0.05, obey_robots=True),
                            per_host=8, hosts=("a.test",), robots={"a.test": "User-agent: *\nAllow: /\n"})
    assert all(isinstance(r, Page) for r in results)
    st = srv.host("a.test")
    assert st.requests == 9 and srv.hits["/robots.txt"] == 1
    assert st.max_in_flight <= 2 and st.min_gap >= 0.05 - JITTER


def test_retries_go_through_the_limiter():
    async def go():
        async with FaultServer() as srv, Fetcher(
                fast_config(per_host_concurrency=1, per_host_delay=0.1, retries=2, backoff_base=0.001),
                hosts=HOSTS) as f:
            await asyncio.gather(*(f.fetch(srv.url(f"/status/500?i={i}", "a.test")) for i in range(3)))
            return srv
    srv = run(go())
    st = srv.host("a.test")
    assert st.requests == 9 and st.max_in_flight == 1 and st.min_gap >= 0.1 - JITTER
