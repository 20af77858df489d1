"""Retries: transient failures are retried with backoff, Retry-After is honoured and capped."""
import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from faultserver import HOSTS, JITTER, FaultServer, fast_config, run

from ingest.fetch import Fetcher
from ingest.fetch.retry import backoff, parse_retry_after
from ingest.records import FetchFailure, Page


def fetch(path, cfg):
    async def go():
        async with FaultServer(max_hang=3.0) as srv, Fetcher(cfg, hosts=HOSTS) as f:
            started = time.monotonic()
            result = await f.fetch(srv.url(path, "a.test"))
            return result, srv, time.monotonic() - started
    return run(go())


def gaps(srv, path_prefix):
    starts = [s.at for s in srv.seen if s.path.startswith(path_prefix)]
    return [b - a for a, b in zip(starts, starts[1:])]


def test_parse_retry_after():
    now = datetime(2018, 6, 12, 9, 0, tzinfo=UTC)
    assert parse_retry_after("120", cap=300, now=now) == 120
    assert parse_retry_after("100000", cap=300, now=now) == 300
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), 300, now) == 90
    assert parse_retry_after(format_datetime(now - timedelta(days=1), usegmt=True), 300, now) == 0
    for junk in (None, "", "soon", "-5", "1.5e3", "Mon, 99 Foo 2018"):
        assert parse_retry_after(junk, 300, now) is None


def test_backoff_grows_exponentially_with_jitter():
    samples = [[backoff(n, 1.0) for _ in range(200)] for n in range(4)]
    for n, s in enumerate(samples):
        assert 0.5 * 2**n <= min(s) and max(s) <= 1.5 * 2**n
        assert len(set(s)) > 100  # jittered, not lockstep


@pytest.mark.parametrize("code", [500, 502, 503, 504, 408, 429])
def test_transient_statuses_are_retried_until_success(code):
    result, srv, _ = fetch(f"/flaky/k?fail=2&code={code}", fast_config(retries=3, backoff_base=0.02))
    assert isinstance(result, Page)
    assert srv.hits["/flaky/k"] == 3


def test_backoff_waits_between_attempts():
    result, srv, _ = fetch("/status/503", fast_config(retries=3, backoff_base=0.05))
    assert result.kind == "http" and result.status == 503
    assert srv.hits["/status/503"] == 4
    g = gaps(srv, "/status/503")
    # jitter is 0.5..1.5x of base*2**n: each wait is at least half its nominal size
    assert all(gap >= 0.5 * 0.05 * 2**n - JITTER for n, gap in enumerate(g)), g
    assert g[2] > g[0]


@pytest.mark.parametrize("code", [400, 401, 403, 404, 410, 451])
def test_other_4xx_are_not_retried(code):
    result, srv, _ = fetch(f"/status/{code}", fast_config(retries=3))
    assert result.kind == "http" and result.status == code
    assert srv.hits[f"/status/{code}"] == 1


@pytest.mark.parametrize("path, kind", [("/reset", "connection"), ("/truncated", "connection"),
                                        ("/hang?seconds=3", "timeout")])
def test_network_failures_are_retried(path, kind):
    result, srv, _ = fetch(path, fast_config(retries=2, timeout=0.3))
    assert result.kind == kind
    assert srv.hits[path.split("?")[0]] == 3


def test_retry_after_seconds_is_honoured():
    result, srv, _ = fetch("/flaky/r?fail=1&code=429&retry_after=1", fast_config(retries=1, backoff_base=0.01))
    assert isinstance(result, Page)
    assert gaps(srv, "/flaky/r")[0] >= 0.95


def test_retry_after_http_date_is_honoured():
    # HTTP-dates have one-second resolution, so "3 s from now" means 2..3 s; the cap makes it exact.
    result, srv, _ = fetch("/status/503?retry_after_in=3", fast_config(retries=1, backoff_base=0.01,
                                                                       max_retry_after=0.5))
    assert result.retry_after == 0.5
    assert 0.45 <= gaps(srv, "/status/503")[0] < 1.5


def test_retry_after_is_capped_and_reported_when_retries_run_out():
    result, srv, elapsed = fetch("/status/503?retry_after=3600", fast_config(retries=1, max_retry_after=0.3))
    assert isinstance(result, FetchFailure) and result.retry_after == 0.3
    assert "Retry-After" in result.message
    assert 0.3 <= elapsed < 1.5


def test_retry_after_defers_the_whole_host():
    """Another fetch to the same host waits out the server's Retry-After too."""
    async def go():
        async with FaultServer() as srv, Fetcher(fast_config(retries=0, per_host_concurrency=4), hosts=HOSTS) as f:
            await f.fetch(srv.url("/status/503?retry_after=1", "a.test"))
            other_host = await f.fetch(srv.url("/article/2", "b.test"))
            t = time.monotonic()
            same_host = await f.fetch(srv.url("/article/1", "a.test"))
            return other_host, same_host, time.monotonic() - t
    other_host, same_host, waited = run(go())
    assert isinstance(other_host, Page) and isinstance(same_host, Page)
    assert waited >= 0.9


def test_refusals_and_invalid_urls_are_not_retried():
    result, srv, elapsed = fetch("/redirect-to?url=http://127.0.0.1:1/", fast_config(retries=3, backoff_base=1))
    assert result.kind == "refused" and srv.hits["/redirect-to"] == 1 and elapsed < 0.5


def test_cancellation_propagates():
    async def go():
        async with FaultServer(max_hang=3.0) as srv, Fetcher(fast_config(timeout=5), hosts=HOSTS) as f:
            task = asyncio.create_task(f.fetch(srv.url("/hang", "a.test")))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    run(go())
