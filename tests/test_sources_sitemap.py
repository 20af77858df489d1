"""Sitemap backfill source against a real local HTTP server (127.0.0.1, pinned as public.test)."""
import gzip
import logging
from collections import Counter
from datetime import UTC, datetime

import pytest
from aiohttp import web
from faultserver import HOSTS, fast_config, run

from ingest.fetch import Fetcher
from ingest.fetch.fetcher import binary_type
from ingest.records import FetchFailure, Page
from ingest.sources.sitemap import (
    SitemapError,
    SitemapStats,
    inflate,
    parse_sitemap,
    parse_w3c_datetime,
    sitemap_candidates,
)

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
NEWS_NS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
UTC = UTC


def urlset(*entries) -> bytes:
    """entries: (path, lastmod or None)."""
    rows = "".join(
        f"<url><loc>{{base}}{p}</loc>{f'<lastmod>{m}</lastmod>' if m else ''}</url>" for p, m in entries
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {NS}>{rows}</urlset>'.encode()


def index(*children) -> bytes:
    """children: (path, lastmod or None)."""
    rows = "".join(
        f"<sitemap><loc>{{base}}{p}</loc>{f'<lastmod>{m}</lastmod>' if m else ''}</sitemap>" for p, m in children
    )
    return f'<?xml version="1.0"?><sitemapindex {NS}>{rows}</sitemapindex>'.encode()


NEWS = f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset {NS} {NEWS_NS}>
 <url><loc>{{base}}/news/1</loc>
  <news:news><news:publication><news:name>Example</news:name><news:language>en</news:language></news:publication>
   <news:publication_date>2024-05-02T10:30:00+02:00</news:publication_date>
   <news:title>Leaders meet in Singapore</news:title></news:news></url>
 <url><loc>{{base}}/news/2</loc>
  <news:news><news:publication_date>2024-05-03</news:publication_date><news:title>Talks continue</news:title></news:news></url>
</urlset>""".encode()


class SiteServer:
    """Serves `routes` {path: (status, body, headers)}; `{base}` in bodies becomes the site's URL."""

    def __init__(self, routes: dict):
        self.routes = routes
        self.hits: Counter = Counter()

    async def _handle(self, request):
        self.hits[request.path] += 1
        if request.path not in self.routes:
            return web.Response(status=404, text="not found")
        status, body, headers = self.routes[request.path]
        if isinstance(body, bytes) and b"{base}" in body:
            body = body.replace(b"{base}", self.base.encode())
        if headers.get("Content-Encoding") == "gzip" or headers.get("_gzip"):
            body = gzip.compress(body)  # after the {base} substitution
        headers = {k: v for k, v in headers.items() if k != "_gzip"}
        return web.Response(status=status, body=body, headers=headers)

    async def __aenter__(self):
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.base = f"http://public.test:{port}"
        return self

    async def __aexit__(self, *exc):
        await self.runner.cleanup()


XML = {"Content-Type": "application/xml"}
GZ = {"Content-Type": "application/gzip", "_gzip": "1"}  # body sent gzip'd, as a .gz file


async def collect(routes, start_path, **kwargs):
    async with SiteServer(routes) as srv, Fetcher(fast_config(), hosts=HOSTS) as fetcher:
        stats = SitemapStats()
        out = [c async for c in sitemap_candidates(fetcher.fetch, srv.base + start_path, stats=stats, **kwargs)]
        return srv, out, stats


def paths(cands, srv):
    return sorted(c.url.removeprefix(srv.base) for c in cands)


def test_index_with_plain_and_gzipped_children():
    routes = {
        "/sitemap_index.xml": (200, index(("/a.xml", "2024-05-01"), ("/b.xml.gz", None)), XML),
        "/a.xml": (200, urlset(("/a/1", "2024-05-01T08:00:00Z"), ("/a/2", None)), XML),
        "/b.xml.gz": (200, urlset(("/b/1", "2024-04-30"), ("/a/1", None)), GZ),  # a gzip file, no Content-Encoding
    }
    srv, out, stats = run(collect(routes, "/sitemap_index.xml"), timeout=20)
    assert paths(out, srv) == ["/a/1", "/a/2", "/b/1"]  # /a/1 listed twice, yielded once
    assert stats.sitemaps == 3 and stats.failed == 0 and stats.duplicates == 1 and stats.urls == 3
    for c in out:
        assert c.source == "sitemap" and c.record_key == c.url and c.published is None
    assert all(n == 1 for n in srv.hits.values())


def test_gzip_served_with_content_encoding_and_octet_stream():
    routes = {
        "/idx.xml": (200, index(("/s1.xml.gz", None), ("/s2.xml", None)), XML),
        "/s1.xml.gz": (200, urlset(("/x/1", None)), {"Content-Type": "application/xml", "Content-Encoding": "gzip"}),
        "/s2.xml": (200, urlset(("/x/2", None)), {"Content-Type": "application/octet-stream", "_gzip": "1"}),
    }
    srv, out, _ = run(collect(routes, "/idx.xml"), timeout=20)
    assert paths(out, srv) == ["/x/1", "/x/2"]  # gzip sniffed by magic bytes, not by name or header


def test_news_sitemap_dates_and_titles():
    srv, out, _ = run(collect({"/news.xml": (200, NEWS, XML)}, "/news.xml"), timeout=20)
    by = {c.url.removeprefix(srv.base): c for c in out}
    assert by["/news/1"].published == datetime(2024, 5, 2, 8, 30, tzinfo=UTC)
    assert by["/news/1"].published.tzinfo is not None
    assert by["/news/1"].title == "Leaders meet in Singapore"
    assert by["/news/2"].published == datetime(2024, 5, 3, tzinfo=UTC)
    assert by["/news/2"].title == "Talks continue"


def test_broken_sitemaps_are_skipped_and_logged_others_continue(caplog):
    routes = {
        "/index.xml": (200, index(("/bad.xml", None), ("/gone.xml", None), ("/html.xml", None),
                                  ("/badgz.xml.gz", None), ("/good.xml", None)), XML),
        "/bad.xml": (200, b'<?xml version="1.0"?><urlset><url><loc>http://x/1</loc></url', XML),
        "/html.xml": (200, b"<!doctype html><html><body>hello</body></html>", {"Content-Type": "text/html"}),
        "/badgz.xml.gz": (200, b"\x1f\x8b\x08\x00garbage-not-deflate", {"Content-Type": "application/gzip"}),
        "/good.xml": (200, urlset(("/ok", None)), XML),
    }
    with caplog.at_level(logging.WARNING, logger="ingest.sources.sitemap"):
        srv, out, stats = run(collect(routes, "/index.xml"), timeout=20)
    assert paths(out, srv) == ["/ok"]
    assert stats.failed == 4 and stats.sitemaps == 2
    lines = [r.getMessage() for r in caplog.records if r.name == "ingest.sources.sitemap"]
    assert len(lines) == 4 and all("\n" not in m for m in lines)
    assert any("bad.xml" in m and "bad XML" in m for m in lines)
    assert any("gone.xml" in m and "404" in m for m in lines)


def test_robots_txt_discovery():
    routes = {
        "/robots.txt": (200, b"User-agent: *\nDisallow: /private\nSitemap: {base}/news.xml\nSitemap: {base}/more.xml\n",
                        {"Content-Type": "text/plain"}),
        "/news.xml": (200, NEWS, XML),
        "/more.xml": (200, urlset(("/more/1", None)), XML),
        "/": (200, b"<html>home</html>", {"Content-Type": "text/html"}),
    }
    srv, out, _ = run(collect(routes, "/"), timeout=20)
    assert paths(out, srv) == ["/more/1", "/news/1", "/news/2"]
    assert srv.hits["/"] == 0  # a bare site URL goes straight to robots.txt


def test_site_url_that_is_not_a_sitemap_falls_back_to_sitemap_xml():
    routes = {  # no robots.txt (404), a section page that is HTML, then /sitemap.xml
        "/section/world": (200, b"<html><body>world news</body></html>", {"Content-Type": "text/html"}),
        "/sitemap.xml": (200, urlset(("/w/1", None)), XML),
    }
    srv, out, _ = run(collect(routes, "/section/world"), timeout=20)
    assert paths(out, srv) == ["/w/1"]
    assert srv.hits["/robots.txt"] == 1 and srv.hits["/section/world"] == 1


def test_since_until_filter_and_index_pruning():
    routes = {
        "/index.xml": (200, index(("/2023-01.xml", "2023-01-31"), ("/2024-05.xml", "2024-05-20"), ("/nodate.xml", None)), XML),
        "/2023-01.xml": (200, urlset(("/old", "2023-01-10")), XML),
        "/2024-05.xml": (200, urlset(("/early", "2024-04-30T23:59:59Z"), ("/in", "2024-05-10"),
                                     ("/edge", "2024-05-01T00:00:00+00:00"), ("/late", "2024-06-02"),
                                     ("/undated", None)), XML),
        "/nodate.xml": (200, NEWS, XML),  # news dates 2024-05-02, 2024-05-03 win over lastmod
    }
    since, until = datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 31, tzinfo=UTC)
    srv, out, stats = run(collect(routes, "/index.xml", since=since, until=until), timeout=20)
    assert paths(out, srv) == ["/edge", "/in", "/news/1", "/news/2", "/undated"]
    assert stats.out_of_range == 2 and stats.pruned == 1
    assert srv.hits["/2023-01.xml"] == 0  # lastmod before since: not fetched

    srv, out, _ = run(collect(routes, "/index.xml", until=datetime(2024, 5, 2, 12, tzinfo=UTC)), timeout=20)
    assert "/news/2" not in paths(out, srv) and "/old" in paths(out, srv) and "/news/1" in paths(out, srv)


def test_naive_since_is_refused():
    with pytest.raises(ValueError):
        run(collect({}, "/x.xml", since=datetime(2024, 1, 1)), timeout=20)


def test_index_loop_terminates_and_fetches_each_sitemap_once():
    routes = {
        "/a.xml": (200, index(("/b.xml", None), ("/a.xml", None)), XML),
        "/b.xml": (200, index(("/a.xml", None), ("/c.xml", None), ("/b.xml", None)), XML),
        "/c.xml": (200, urlset(("/page", None)), XML),
    }
    srv, out, stats = run(collect(routes, "/a.xml"), timeout=20)
    assert paths(out, srv) == ["/page"]
    assert srv.hits == Counter({"/a.xml": 1, "/b.xml": 1, "/c.xml": 1})


def test_max_sitemaps_bounds_fetches():
    kids = [(f"/s{i}.xml", None) for i in range(10)]
    routes = {"/idx.xml": (200, index(*kids), XML)}
    routes.update({p: (200, urlset((f"/p{i}", None)), XML) for i, (p, _) in enumerate(kids)})
    srv, out, _ = run(collect(routes, "/idx.xml", max_sitemaps=4), timeout=20)
    assert len(out) == 3 and sum(srv.hits.values()) == 4


def test_parser_is_safe_from_entities_and_external_dtds(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "file://{secret}">'
           f'<!ENTITY y "expanded">]><urlset {NS}><url><loc>http://e.test/&x;&y;</loc></url></urlset>').encode()
    try:
        kind, entries = parse_sitemap(xxe)
    except SitemapError:
        return  # refusing the document is safe too
    assert kind == "urlset"
    assert all("TOPSECRET" not in e.loc and "expanded" not in e.loc for e in entries)


def test_inflate_caps_a_gzip_bomb():
    bomb = gzip.compress(b"<" + b" " * 5_000_000)
    with pytest.raises(SitemapError, match="over"):
        inflate(bomb, cap=1_000_000)
    assert inflate(b"<urlset/>") == b"<urlset/>"


def test_w3c_dates():
    assert parse_w3c_datetime("2024-05-01T10:00:00Z") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_w3c_datetime("2024-05-01T12:00+02:00") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_w3c_datetime("2024-05") == datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_w3c_datetime("2024") == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_w3c_datetime("yesterday") is None and parse_w3c_datetime(None) is None


def test_fetcher_sitemap_kind_accepts_gzip_types_feed_does_not():
    assert binary_type("application/gzip", "sitemap") is None
    assert binary_type("application/x-gzip", "sitemap") is None
    assert binary_type("application/gzip", "feed") == "application/gzip"
    assert binary_type("image/png", "sitemap") == "image/png"

    async def go():
        routes = {"/s.xml.gz": (200, b"<urlset/>", {"Content-Type": "application/x-gzip", "_gzip": "1"})}
        async with SiteServer(routes) as srv, Fetcher(fast_config(), hosts=HOSTS) as fetcher:
            return (await fetcher.fetch(srv.base + "/s.xml.gz", kind="sitemap"),
                    await fetcher.fetch(srv.base + "/s.xml.gz", kind="feed"))

    as_sitemap, as_feed = run(go(), timeout=20)
    assert isinstance(as_sitemap, Page) and as_sitemap.body.startswith(b"\x1f\x8b")
    assert isinstance(as_feed, FetchFailure) and as_feed.kind == "content_type"


def test_max_inflated_is_applied_to_gzip_sitemaps(caplog):
    big = urlset(*[(f"/p/{i}", None) for i in range(2000)])  # ~100 KB inflated
    routes = {"/big.xml.gz": (200, big, GZ)}
    with caplog.at_level(logging.WARNING, logger="ingest.sources.sitemap"):
        _, out, stats = run(collect(routes, "/big.xml.gz", max_inflated=10_000), timeout=20)
    assert out == [] and stats.failed == 1 and "over 10000 bytes" in stats.failures[0]
