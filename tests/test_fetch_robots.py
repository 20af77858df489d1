"""robots.txt: obeyed for articles, cached per origin, failures handled as documented."""
import asyncio
import time

import pytest
from faultserver import HOSTS, JITTER, FaultServer, fast_config, run

from ingest.fetch import Fetcher
from ingest.records import FetchFailure, Page

RULES = "User-agent: *\nDisallow: /article/2\n\nUser-agent: ingest\nDisallow: /article/3\n"


def fetch_many(paths, robots, kind="article", cfg=None, concurrent=False):
    async def go():
        async with FaultServer(robots=robots) as srv, Fetcher(cfg or fast_config(obey_robots=True), hosts=HOSTS) as f:
            urls = [srv.url(p.format(port=srv.port), "a.test") for p in paths]
            if concurrent:
                results = await asyncio.gather(*(f.fetch(u, kind=kind) for u in urls))
            else:
                results = [await f.fetch(u, kind=kind) for u in urls]
            return results, srv
    return run(go())


def test_disallowed_paths_are_not_fetched_and_robots_is_read_once():
    results, srv = fetch_many(["/article/1", "/article/2", "/article/3", "/article/4"] * 3,
                              {"a.test": RULES}, concurrent=True)
    kinds = [r.kind if isinstance(r, FetchFailure) else "ok" for r in results[:4]]
    # Our agent has its own group, so only that group applies (RFC 9309): /article/2 is allowed.
    assert kinds == ["ok", "ok", "robots", "ok"]
    assert srv.hits["/robots.txt"] == 1
    assert srv.hits.get("/article/3") is None
    assert all(s.headers["User-Agent"].startswith("ingest/") for s in srv.seen)


def test_feeds_are_exempt_and_obey_robots_false_disables():
    results, _ = fetch_many(["/feed.xml"], {"a.test": "User-agent: *\nDisallow: /\n"}, kind="feed")
    assert isinstance(results[0], Page)
    results, srv = fetch_many(["/article/1"], {"a.test": "User-agent: *\nDisallow: /\n"},
                              cfg=fast_config(obey_robots=False))
    assert isinstance(results[0], Page) and "/robots.txt" not in srv.hits


@pytest.mark.parametrize("status, allowed", [(404, True), (403, True), (401, True), (410, True),
                                             (500, False), (503, False), (429, False)])
def test_robots_status_policy(status, allowed):
    results, _ = fetch_many(["/article/1"], {"a.test": status})
    assert isinstance(results[0], Page) is allowed
    if not allowed:
        assert results[0].kind == "robots" and "robots.txt unavailable" in results[0].message


def test_failing_robots_is_retried_after_the_error_ttl():
    async def go():
        async with FaultServer(robots={"a.test": 503}) as srv, Fetcher(
                fast_config(obey_robots=True, robots_error_ttl=0.2), hosts=HOSTS) as f:
            url = srv.url("/article/1", "a.test")
            first = await f.fetch(url)
            srv.robots["a.test"] = "User-agent: *\nAllow: /\n"
            soon = await f.fetch(url)
            await asyncio.sleep(0.25)
            later = await f.fetch(url)
            return first, soon, later, srv.hits["/robots.txt"]
    first, soon, later, robots_hits = run(go())
    assert first.kind == soon.kind == "robots"
    assert isinstance(later, Page) and robots_hits == 2


def test_redirect_to_another_host_checks_that_hosts_robots():
    results, srv = fetch_many(["/redirect-to?url=http://b.test:{port}/article/1"],
                              {"a.test": "User-agent: *\nAllow: /\n", "b.test": "User-agent: *\nDisallow: /\n"})
    assert results[0].kind == "robots" and "b.test" in results[0].message
    assert srv.host("b.test").requests == 1  # its robots.txt only


def test_crawl_delay_spaces_requests_to_that_host():
    results, srv = fetch_many([f"/article/{i}" for i in range(1, 5)], {"a.test": "User-agent: *\nCrawl-delay: 0.2\n"},
                              cfg=fast_config(obey_robots=True, per_host_delay=0.01, per_host_concurrency=4),
                              concurrent=True)
    assert all(isinstance(r, Page) for r in results)
    # robots.txt itself went out before the delay was known; the article requests obey it
    article_starts = [s.at for s in srv.seen if s.path.startswith("/article/")]
    gaps = [b - a for a, b in zip(article_starts, article_starts[1:])]
    assert min(gaps) >= 0.2 - JITTER, gaps


def test_crawl_delay_is_capped():
    started = time.monotonic()
    results, _ = fetch_many(["/article/1", "/article/2", "/article/3"], {"a.test": "User-agent: *\nCrawl-delay: 3600\n"},
                            cfg=fast_config(obey_robots=True, max_crawl_delay=0.1))
    assert all(isinstance(r, Page) for r in results)
    assert time.monotonic() - started < 2
