"""The fetcher survives every fault the server can throw and names it correctly."""
import asyncio
import time
import tracemalloc

import pytest
from faultserver import HOSTS, FaultServer, fast_config, run

from ingest.fetch import Fetcher
from ingest.fetch.fetcher import binary_type
from ingest.records import FetchFailure, NotModified, Page


def fetch(path, kind="article", cfg=None, host="a.test", **kw):
    """Fetch one path from a fresh server; returns (result, server, seconds)."""
    async def go():
        async with FaultServer(max_hang=3.0) as srv, Fetcher(cfg or fast_config(), hosts=HOSTS) as f:
            started = time.monotonic()
            result = await f.fetch(srv.url(path.format(port=srv.port), host), kind=kind, **kw)
            return result, srv, time.monotonic() - started
    return run(go())


def test_healthy_feed_and_article():
    feed, srv, _ = fetch("/feed.xml?n=4", kind="feed")
    assert isinstance(feed, Page) and feed.status == 200
    assert feed.html.count("<item>") == 4 and feed.body.startswith(b"<?xml")
    assert feed.charset == "utf-8" and feed.charset_source == "header" and not feed.charset_mismatch
    assert srv.seen[0].headers["User-Agent"] == fast_config().user_agent
    assert "rss" in srv.seen[0].headers["Accept"]
    article, _, _ = fetch("/article/7")
    assert isinstance(article, Page) and "Summit news 7" in article.html
    assert article.headers["cache-control"] == "max-age=60"  # lower-case keys
    assert all(k == k.lower() for k in article.headers)
    assert article.fetched_at.tzinfo is not None


@pytest.mark.parametrize("path, kind", [
    ("/reset", "connection"),
    ("/truncated", "connection"),  # Content-Length larger than the body
    ("/status/500", "http"),
    ("/status/404", "http"),
    ("/redirect/9", "redirects"),
    ("/loop/a", "redirects"),
    ("/redirect-to?url=ftp://example.com/", "redirects"),
    ("/binary/png", "content_type"),
    ("/binary/pdf", "content_type"),
    ("/big", "too_large"),
    ("/big?announce=1", "too_large"),
])
def test_fault_kinds(path, kind):
    result, _, elapsed = fetch(path)
    assert isinstance(result, FetchFailure) and result.kind == kind, result
    assert result.message and "\n" not in result.message and len(result.message) < 320
    assert elapsed < 1.5


def test_hang_times_out_at_the_limit():
    result, _, elapsed = fetch("/hang?seconds=3", cfg=fast_config(timeout=0.3))
    assert isinstance(result, FetchFailure) and result.kind == "timeout"
    assert 0.25 < elapsed < 1.0


def test_slow_drip_is_cut_by_the_total_timeout():
    # Each chunk arrives well inside any read timeout; only a connect-to-last-byte limit stops it.
    result, _, elapsed = fetch("/drip?chunks=40&interval=0.05", cfg=fast_config(timeout=0.4))
    assert isinstance(result, FetchFailure) and result.kind == "timeout"
    assert elapsed < 1.0


def test_slow_but_finishing_drip_succeeds():
    result, _, _ = fetch("/drip?chunks=5&interval=0.02")
    assert isinstance(result, Page) and "drip 4" in result.html


def test_binary_body_is_not_downloaded():
    result, srv, elapsed = fetch("/binary/pdf")
    assert result.kind == "content_type" and "application/pdf" in result.message
    assert elapsed < 0.5 and srv.completed["/binary/pdf"] is False  # the server takes 2 s to send it


def test_announced_oversize_body_is_refused_from_the_header():
    result, _, elapsed = fetch("/big?size=50000000&announce=1")
    assert result.kind == "too_large" and elapsed < 0.5


def test_gzip_bomb_stops_at_the_cap_without_inflating_it():
    size, cap = 64_000_000, 1_000_000

    async def go():
        async with FaultServer() as srv, Fetcher(fast_config(max_bytes=cap), hosts=HOSTS) as f:
            srv._bomb(size)  # build the bomb before measuring (the server shares our process)
            tracemalloc.start()
            try:
                result = await f.fetch(srv.url(f"/gzip-bomb?size={size}", "a.test"))
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            return result, peak

    result, peak = run(go())
    assert isinstance(result, FetchFailure) and result.kind == "too_large"
    assert peak < 8 * cap  # never anywhere near the 64 MB the bomb inflates to


def test_body_under_the_cap_is_complete():
    result, _, _ = fetch("/big?size=300000")
    assert isinstance(result, Page) and len(result.body) == 300000


def test_redirect_chain_within_budget_and_over_it():
    result, _, _ = fetch("/redirect/4")  # /redirect/4 .. /redirect/0, /article/1: 5 redirects
    assert isinstance(result, Page) and result.final_url.endswith("/article/1")
    assert result.url.endswith("/redirect/4")
    result, _, _ = fetch("/redirect/5")  # one too many
    assert result.kind == "redirects" and "more than 5" in result.message
    result, srv, _ = fetch("/redirect/1", cfg=fast_config(max_redirects=0))
    assert result.kind == "redirects" and len(srv.seen) == 1


def test_redirect_loop_is_detected_not_walked():
    result, srv, _ = fetch("/loop/a", cfg=fast_config(max_redirects=20))
    assert result.kind == "redirects" and "loop" in result.message
    assert len(srv.seen) == 2


def test_malformed_xml_is_still_a_page():
    result, _, _ = fetch("/malformed.xml", kind="feed")
    assert isinstance(result, Page) and "Broken" in result.html  # parsing is the feed stage's problem


@pytest.mark.parametrize("case, charset, source, mismatch", [
    ("utf8-as-latin1", "utf-8", "detected", True),
    ("latin1-as-utf8", "cp1252", "detected", True),
    ("meta", "cp1252", "meta", False),
    ("bom", "utf-8", "bom", False),
    ("bad-name", "utf-8", "detected", False),
    ("none", "cp1252", "detected", False),
])
def test_wrong_and_missing_charsets(case, charset, source, mismatch):
    page, _, _ = fetch(f"/charset/{case}")
    assert (page.charset, page.charset_source, page.charset_mismatch) == (charset, source, mismatch)
    assert "Le président a annoncé que l’économie française" in page.html


def test_feed_may_be_octet_stream_but_articles_may_not():
    assert binary_type("application/octet-stream", "feed") is None
    assert binary_type("application/octet-stream", "article") == "application/octet-stream"
    assert binary_type("image/svg+xml; charset=utf-8", "feed") == "image/svg+xml"
    assert binary_type("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "article")
    assert binary_type("text/html; charset=utf-8", "article") is None
    assert binary_type(None, "article") is None


def test_never_raises_under_a_storm_of_faults():
    paths = ["/reset", "/truncated", "/hang?seconds=3", "/drip?chunks=30&interval=0.05", "/big",
             "/gzip-bomb?size=8000000", "/loop/a", "/status/503", "/binary/png", "/charset/bad-name",
             "/malformed.xml", "/redirect-to?url=http://127.0.0.1:{port}/", "/feed.xml", "/article/1"]

    async def go():
        async with FaultServer(max_hang=3.0) as srv, Fetcher(
                fast_config(timeout=0.5, retries=1, per_host_concurrency=4), hosts=HOSTS) as f:
            urls = [srv.url(p.format(port=srv.port), h) for p in paths for h in ("a.test", "b.test")]
            return await asyncio.gather(*(f.fetch(u) for u in urls))

    results = run(go())
    assert all(isinstance(r, (Page, NotModified, FetchFailure)) for r in results)
    assert sum(isinstance(r, Page) for r in results) == 8  # charset, malformed, feed, article x 2 hosts


def test_fetcher_outside_context_is_a_programming_error():
    async def go():
        await Fetcher(fast_config()).fetch("http://a.test/")
    with pytest.raises(RuntimeError):
        run(go())
