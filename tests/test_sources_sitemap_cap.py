"""A cap on the URLs one sitemap walk yields: an index may list 1,000 sitemaps of 50,000 URLs each.

Once `max_urls` URLs have come out, the walk stops with one warning line, counted in
SitemapStats.capped, and the sitemaps not read yet are not fetched. Served from 127.0.0.1.
"""
from __future__ import annotations

import logging

from faultserver import run
from test_sources_sitemap import XML, collect, index, urlset

from ingest.sources.sitemap import MAX_URLS, SitemapStats


def site(children: int, per_child: int) -> dict:
    kids = [(f"/s{i}.xml", None) for i in range(children)]
    routes = {"/idx.xml": (200, index(*kids), XML)}
    for i, (path, _) in enumerate(kids):
        routes[path] = (200, urlset(*[(f"/p/{i}/{j}", None) for j in range(per_child)]), XML)
    return routes


def test_the_walk_stops_at_max_urls_with_one_warning(caplog):
    caplog.set_level(logging.WARNING, logger="ingest.sources.sitemap")
    srv, out, stats = run(collect(site(5, 40), "/idx.xml", max_urls=50), timeout=30)
    assert len(out) == 50 and len({c.url for c in out}) == 50
    assert stats.urls == 50 and stats.capped == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("sitemap URL cap reached: 50 URLs from ")
    assert srv.hits["/s1.xml"] == 1 and not any(srv.hits[f"/s{i}.xml"] for i in (2, 3, 4))  # the rest unread
    assert "stopped at the URL cap" in str(stats)


def test_exactly_max_urls_is_not_capped_and_duplicates_do_not_count(caplog):
    caplog.set_level(logging.WARNING, logger="ingest.sources.sitemap")
    routes = {"/idx.xml": (200, index(("/a.xml", None), ("/b.xml", None)), XML),
              "/a.xml": (200, urlset(*[(f"/p/{j}", None) for j in range(30)]), XML),
              "/b.xml": (200, urlset(*[(f"/p/{j}", None) for j in range(30)]), XML)}  # the same 30 again
    _, out, stats = run(collect(routes, "/idx.xml", max_urls=30), timeout=30)
    assert len(out) == 30 and stats.duplicates == 30 and stats.capped == 0
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "cap" not in str(stats)


def test_a_large_sitemap_is_cut():
    """A 10,000-URL sitemap (under the fetch cap of the tests' config) with a cap of 1,000."""
    _, out, stats = run(collect(site(1, 10_000), "/idx.xml", max_urls=1_000), timeout=60)
    assert stats.failed == 0 and len(out) == 1_000 and stats.capped == 1


def test_the_default_cap():
    assert MAX_URLS == 1_000_000
    assert SitemapStats().capped == 0
