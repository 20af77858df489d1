"""Backfill end to end through the CLI: sitemaps (with dates) and WARC files, resumable, archived."""
from __future__ import annotations

import gzip
import io
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime

from conftest import ingest_cli, write_config
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ingest.demo.site import render_page
from ingest.demo.stories import summit_story
from ingest.sources.warc import warc_pages


def _db_urls(db) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("select url, versions from articles"))
    finally:
        conn.close()


def test_sitemap_backfill_with_dates_dry_run_and_rerun(world, tmp_path):
    ht = world.outlets["harbour-times"]
    # A sitemap served by the outlet itself: write it into the outlet's pages through a story-less route.
    sitemap = ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
               'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
               + "".join(f"<url><loc>{ht.url(s.slug)}</loc><news:news><news:publication_date>{s.published.isoformat()}"
                         f"</news:publication_date><news:title>{s.title}</news:title></news:news></url>"
                         for s in ht.stories.values()) + "</urlset>")
    ht.extra["/sitemap.xml.gz"] = (gzip.compress(sitemap.encode()), "application/x-gzip")
    db = tmp_path / "news.db"
    cfg = write_config(tmp_path / "c.yaml", db, [], topics=[])
    sm = f"{ht.base}/sitemap.xml.gz"

    r = ingest_cli("backfill", "--config", str(cfg), "--sitemap", sm, "--since", "2018-06-12T01:30:00", "--dry-run")
    assert r.returncode == 0, r.stderr
    # stories are published at 01:00, 02:00, 03:00 (+ the fair at 02:00): three on or after 01:30
    assert len(r.stdout.split()) == 3 and not db.exists() or _db_urls(db) == {}

    r = ingest_cli("backfill", "--config", str(cfg), "--sitemap", sm, "--since", "2018-06-12T01:30:00")
    assert r.returncode == 0, r.stderr
    assert len(_db_urls(db)) == 3
    hits = dict(ht.hits)
    r = ingest_cli("backfill", "--config", str(cfg), "--sitemap", sm)
    assert r.returncode == 0, r.stderr
    assert len(_db_urls(db)) == 4  # only the one left out by --since is fetched now
    assert "3 already done" in r.stderr
    pages = lambda h: sum(n for path, n in h.items() if path.endswith(".html"))  # noqa: E731
    assert pages(ht.hits) - pages(hits) == 1  # only the page left out before is fetched


def _warc(path, pages):
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for url, html, when in pages:
            head = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            rec = w.create_warc_record(url, "response", payload=io.BytesIO(html.encode()), http_headers=head,
                                       warc_headers_dict={"WARC-Date": when})
            w.write_record(rec)


def test_warc_backfill_keeps_capture_time_and_resumes(tmp_path):
    stories = [summit_story(i, datetime(2018, 6, 12, i, tzinfo=UTC)) for i in range(3)]
    pages = [(f"https://paper.example/{s.slug}", render_page("paper", s, f"https://paper.example/{s.slug}"),
              f"2018-06-1{3 + i}T10:00:00Z") for i, s in enumerate(stories)]
    warc = tmp_path / "crawl.warc.gz"
    _warc(warc, pages)
    db = tmp_path / "news.db"
    cfg = write_config(tmp_path / "c.yaml", db, [], topics=[])
    archive = tmp_path / "archive"
    r = ingest_cli("backfill", "--config", str(cfg), "--warc", str(warc), "--archive", "warc", str(archive))
    assert r.returncode == 0, r.stderr
    conn = sqlite3.connect(db)
    rows = dict(conn.execute("select a.url, v.fetched_at from articles a join versions v on v.article_id = a.id"))
    assert rows == {url: when.replace("Z", "+00:00") for url, _, when in pages}
    conn.close()
    r = ingest_cli("backfill", "--config", str(cfg), "--warc", str(warc))
    assert r.returncode == 0 and "3 already done" in r.stderr
    assert len(_db_urls(db)) == 3
    # nothing was fetched, so the archive holds no records; a missing file is a one-line error
    r = ingest_cli("backfill", "--config", str(cfg), "--warc", str(tmp_path / "nope.warc.gz"))
    assert r.returncode == 2 and "nope.warc.gz" in r.stderr and r.stderr.strip().count("\n") == 0


def test_backfill_archive_writes_fetched_pages_as_warc(world, tmp_path):
    db = tmp_path / "news.db"
    cfg = write_config(tmp_path / "c.yaml", db, [], topics=[])
    archive = tmp_path / "archive"
    urls = [world.url("harbour-times", "summit-0"), world.url("northern-ledger", "summit-3")]
    r = ingest_cli("backfill", "--config", str(cfg), *urls, "--archive", "warc", str(archive))
    assert r.returncode == 0, r.stderr
    files = sorted(archive.glob("*.warc.gz"))
    assert files
    got = sorted(c.url for f in files for c, _ in warc_pages(f))
    assert got == sorted(urls)


def _current_texts(db) -> dict[str, str]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("select a.url, v.text from articles a join versions v "
                                 "on v.article_id = a.id and v.n = a.current_version"))
    finally:
        conn.close()


def test_run_archive_replays_and_a_past_capture_takes_its_place_in_time(world, tmp_path):
    db, arch = tmp_path / "news.db", tmp_path / "archive"
    cfg = write_config(tmp_path / "c.yaml", db, world.feed_urls)
    r = ingest_cli("run", "--once", "--config", str(cfg), "--archive", "warc", str(arch))
    assert r.returncode == 0, r.stderr
    stored = _current_texts(db)
    assert len(stored) == 8
    files = sorted(str(p) for p in arch.glob("*.warc.gz"))
    assert files and set(stored) <= {c.url for f in files for c, _ in warc_pages(f)}

    # the archive alone rebuilds the same store: nothing fetched (the feeds are not configured)
    db2 = tmp_path / "replay.db"
    r = ingest_cli("backfill", "--config", str(write_config(tmp_path / "c2.yaml", db2, [])), "--warc", *files)
    assert r.returncode == 0, r.stderr
    assert _current_texts(db2) == stored

    # a 2018 capture of a stored article, before a late paragraph was added: version 1, in its place
    url = world.url("harbour-times", "summit-1")
    story = world.outlets["harbour-times"].stories["summit-1"]
    draft = replace(story, text=story.text.rsplit("\n\n", 1)[0])
    _warc(tmp_path / "old.warc.gz", [(url, render_page("harbour-times", draft, url), "2018-06-12T10:00:00Z")])
    r = ingest_cli("backfill", "--config", str(cfg), "--warc", str(tmp_path / "old.warc.gz"))
    assert r.returncode == 0, r.stderr
    conn = sqlite3.connect(db)
    rows = conn.execute("select v.n, v.fetched_at, v.change, v.words_added > 0, v.words_removed from versions v "
                        "join articles a on a.id = v.article_id where a.url = ? order by v.n", (url,)).fetchall()
    assert [r[:3] for r in rows][0] == (1, "2018-06-12T10:00:00+00:00", "first")
    assert rows[1][2:] == ("edit", 1, 0)  # the daemon's version now counts the paragraph it added
    art = conn.execute("select current_version, versions, first_seen from articles where url = ?", (url,)).fetchone()
    assert art == (2, 2, "2018-06-12T10:00:00+00:00")
    assert conn.execute("select text from latest where url = ?", (url,)).fetchone()[0] == stored[url]
    conn.close()
    assert _current_texts(db) == stored
