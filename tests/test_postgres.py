"""The PostgreSQL store against a real server the tests start (tests/pgserver.py): the same
commands, the same articles, versions and verdicts as SQLite over the same local pages."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest
from conftest import ingest_cli, write_config

pytestmark = pytest.mark.timeout(300)


def pg_rows(url: str, sql: str, params=()) -> list[tuple]:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def sqlite_rows(path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# what must agree between backends, by URL: versions, and each article's current verdicts
SUMMARY = ("SELECT a.url, a.versions, a.current_version, "
           "(SELECT count(*) FROM versions v WHERE v.article_id = a.id), "
           "l.duplicate_kind, l.duplicate_of, l.garbled_score, l.page_kind FROM articles a "
           "JOIN latest l ON l.id = a.id ORDER BY a.url")


def summary_pg(url):
    return [tuple(r) for r in pg_rows(url, SUMMARY)]


def summary_sqlite(path):
    return [tuple(r) for r in sqlite_rows(path, SUMMARY)]


def test_run_once_on_postgres_equals_sqlite(world, tmp_path, pg_url):
    db = tmp_path / "news.db"
    cfg = write_config(tmp_path / "c.yaml", db, world.feed_urls)
    r = ingest_cli("run", "--once", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    r = ingest_cli("run", "--once", "--config", str(cfg), "--db", pg_url)
    assert r.returncode == 0, r.stderr
    pg, lite = summary_pg(pg_url), summary_sqlite(db)
    assert len(pg) == 8 and pg == lite
    assert any(row[4] == "exact" for row in pg)
    # a second pass adds nothing, as on SQLite
    r = ingest_cli("run", "--once", "--config", str(cfg), "--db", pg_url)
    assert r.returncode == 0, r.stderr
    assert summary_pg(pg_url) == lite
    s = json.loads(ingest_cli("stats", "--json", "--config", str(cfg), "--db", pg_url).stdout)
    assert s["articles"] == 8 and s["sighting_outcomes"] == {"new": 8, "unchanged": 8}


def test_unusable_database_urls_are_refused_with_one_line(tmp_path):
    for url in ("mysql://u@h/db", "sqlite:///x.db"):
        r = ingest_cli("backfill", "https://example.com/a", "--db", url, cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "not a database this build can use" in lines[0]
    assert list(tmp_path.iterdir()) == []  # no folder called "mysql:" or "sqlite:"


def test_postgres_url_without_psycopg_is_refused_with_one_line(tmp_path):
    import os

    blocked = tmp_path / "blocked" / "psycopg"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('psycopg is not installed here')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(blocked.parent), os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run([sys.executable, "-m", "ingest", "stats", "--db", "postgresql://u@127.0.0.1:1/x"],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "pip install 'ingest[postgres]'" in r.stderr


def _together(args_a: list[str], args_b: list[str], cwd) -> list[subprocess.CompletedProcess]:
    """Two CLI commands started at the same moment."""
    procs = [subprocess.Popen([sys.executable, "-m", "ingest", *a], cwd=cwd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for a in (args_a, args_b)]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=120)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_commands_on_a_new_database_both_succeed(world, tmp_path, request, backend):
    db = str(tmp_path / "new.db") if backend == "sqlite" else request.getfixturevalue("pg_url")
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "unused.db", [])
    a = world.url("harbour-times", "summit-0")
    b = world.url("harbour-times", "summit-1")
    results = _together(["backfill", a, "--config", str(cfg), "--db", db],
                        ["backfill", b, "--config", str(cfg), "--db", db], tmp_path)
    for r in results:
        assert r.returncode == 0, r.stderr
    if backend == "sqlite":
        urls = {u for (u,) in sqlite_rows(db, "SELECT url FROM articles")}
    else:
        urls = {u for (u,) in pg_rows(db, "SELECT url FROM articles")}
    assert urls == {a, b}


def _site_sitemap(outlet) -> str:
    """A Google News sitemap of an outlet's stories, served by the outlet; its URL."""
    sitemap = ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
               'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
               + "".join(f"<url><loc>{outlet.url(s.slug)}</loc><news:news><news:publication_date>"
                         f"{s.published.isoformat()}</news:publication_date></news:news></url>"
                         for s in outlet.stories.values()) + "</urlset>")
    outlet.extra["/sitemap.xml"] = (sitemap.encode(), "application/xml")
    return f"{outlet.base}/sitemap.xml"


def _past_captures_warc(path, world) -> None:
    """Captures from before the live pages were fetched: past versions on both backends."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from ingest.demo.site import render_page

    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for outlet, slug in (("harbour-times", "summit-1"), ("northern-ledger", "summit-3")):
            story = world.outlets[outlet].stories[slug]
            from dataclasses import replace

            old = replace(story, text=story.text + "\n\nThis paragraph of an earlier draft was cut later.")
            url = world.url(outlet, slug)
            head = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(
                render_page(outlet, old, url).encode()), http_headers=head,
                warc_headers_dict={"WARC-Date": "2018-06-12T00:30:00Z"}))


def _backfill_all(world, cfg, db, warc) -> None:
    sitemap = _site_sitemap(world.outlets["harbour-times"])
    others = [world.url(o, slug) for o, out in world.outlets.items() if o != "harbour-times"
              for slug in out.stories]
    for args in (["--sitemap", sitemap], others, ["--warc", str(warc)]):
        r = ingest_cli("backfill", *args, "--config", str(cfg), "--db", str(db))
        assert r.returncode == 0, r.stderr


def test_backfill_export_and_reading_commands_on_postgres(world, tmp_path, pg_url):
    warc = tmp_path / "past.warc.gz"
    _past_captures_warc(warc, world)
    db = tmp_path / "news.db"
    cfg = write_config(tmp_path / "c.yaml", db, [])
    _backfill_all(world, cfg, db, warc)
    _backfill_all(world, cfg, pg_url, warc)
    lite, pg = summary_sqlite(db), summary_pg(pg_url)
    assert pg == lite and len(pg) >= 8
    assert sum(row[1] for row in pg) == len(pg) + 2  # the two past captures are versions, on both
    # a rerun skips every record (resumable per record)
    r = ingest_cli("backfill", "--warc", str(warc), "--config", str(cfg), "--db", pg_url)
    assert r.returncode == 0 and "already done" in r.stderr, r.stderr
    assert summary_pg(pg_url) == lite

    # exports: the same columns in the same order, the same rows by URL
    import pandas as pd

    from ingest.read.export import export

    r = ingest_cli("export", "--format", "csv", "-o", str(tmp_path / "cli.csv"), "--config", str(cfg), "--db", pg_url)
    assert r.returncode == 0 and len(pd.read_csv(tmp_path / "cli.csv")) == len(lite), r.stderr

    for fmt, read in (("jsonl", lambda p: pd.read_json(p, lines=True)), ("csv", pd.read_csv),
                      ("parquet", pd.read_parquet)):
        frames = []
        for where in (str(db), pg_url):  # the export command's own function, in-process (the CLI: below)
            out = tmp_path / f"out-{len(frames)}.{fmt}"
            assert export(where, out, fmt, progress=False) == len(lite)
            frames.append(read(out))
        a, b = frames
        assert list(a.columns) == list(b.columns) and len(a) == len(b) == len(lite), fmt
        cols = [c for c in a.columns if c not in ("id", "first_seen", "last_seen")]  # times: fetch moments
        # row ids differ (pages arrive in any order); the evidence names them
        a, b = (f.sort_values("url")[cols].astype(str).replace(r"""["']article_id["']: \d+""", "", regex=True)
                .reset_index(drop=True) for f in frames)
        pd.testing.assert_frame_equal(a, b)
    import pyarrow.parquet as pq

    assert pq.read_schema(tmp_path / "out-0.parquet") == pq.read_schema(tmp_path / "out-1.parquet")

    # stats, history and explain read PostgreSQL as they read SQLite
    sl = json.loads(ingest_cli("stats", "--json", "--config", str(cfg)).stdout)
    sp = json.loads(ingest_cli("stats", "--json", "--config", str(cfg), "--db", pg_url).stdout)
    for key in ("articles", "versions", "sites", "sighting_outcomes", "flags"):
        assert sp[key] == sl[key], key
    edited = world.url("harbour-times", "summit-1")
    hl = json.loads(ingest_cli("history", edited, "--format", "json", "--config", str(cfg)).stdout)
    r = ingest_cli("history", edited, "--format", "json", "--config", str(cfg), "--db", pg_url)
    assert r.returncode == 0, r.stderr
    hp = json.loads(r.stdout)
    strip = lambda h: [(v["n"], v["change"], v["title"], v["words_added"], v["words_removed"], v["diff"])  # noqa: E731
                       for v in h["versions"]]
    assert len(hp["versions"]) == 2 and strip(hp) == strip(hl)
    copy = next(row[0] for row in pg if row[4] is not None)
    el = json.loads(ingest_cli("explain", copy, "--format", "json", "--config", str(cfg)).stdout)
    r = ingest_cli("explain", copy, "--format", "json", "--config", str(cfg), "--db", pg_url)
    assert r.returncode == 0, r.stderr
    ep = json.loads(r.stdout)
    assert ep["article"]["duplicate"]["of"] == el["article"]["duplicate"]["of"]
    assert ep["aligned"] == el["aligned"]

    # the analyst views keep their names and columns; full-text search is PostgreSQL's own
    import ingest

    for view in ("latest", "clean", "duplicates", "garbled", "feed_health"):
        lite_cols = [d[0] for d in sqlite3.connect(db).execute(f"SELECT * FROM {view} LIMIT 0").description]
        import psycopg

        with psycopg.connect(pg_url) as conn:
            pg_cols = [d.name for d in conn.execute(f"SELECT * FROM {view} LIMIT 0").description]
        assert pg_cols == lite_cols, view
    assert pg_rows(pg_url, "SELECT indexdef FROM pg_indexes WHERE indexname = 'versions_search'")[0][0].count("gin")
    with ingest.open(pg_url) as reader:
        hits = [a.url for a in reader.search("Sentosa")]
        assert hits and all("sentosa" in (a.title + a.text).lower() for a in reader.search("Sentosa"))
        assert [r["url"] for r in reader.sql("SELECT url FROM clean WHERE site = ? ORDER BY url", ["x"])] == []
    with ingest.open(db) as reader:
        assert sorted(a.url for a in reader.search("Sentosa")) == sorted(hits)

    # serve refuses with one line naming the alternative
    r = ingest_cli("serve", "--config", str(cfg), "--db", pg_url)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "db copy" in r.stderr


def test_db_copy_round_trip_sqlite_postgres_sqlite(world, tmp_path, pg_url):
    from ingest.store.copy import TABLES

    db = tmp_path / "news.db"
    cfg = write_config(tmp_path / "c.yaml", db, world.feed_urls)
    assert ingest_cli("run", "--once", "--config", str(cfg)).returncode == 0
    r = ingest_cli("db", "copy", str(db), pg_url, "--config", str(cfg))
    assert r.returncode == 0 and "copied 8 articles" in r.stderr, r.stderr
    assert summary_pg(pg_url) == summary_sqlite(db)
    back = tmp_path / "back.db"
    r = ingest_cli("db", "copy", pg_url, str(back), "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    for table in TABLES:  # every row of every table, ids included
        assert sorted(sqlite_rows(back, f"SELECT * FROM {table}")) == sorted(sqlite_rows(db, f"SELECT * FROM {table}"))
    import ingest

    with ingest.open(back) as a, ingest.open(db) as b:  # the FTS index was rebuilt on the way in
        assert [x.url for x in a.search("Singapore")] == [x.url for x in b.search("Singapore")] != []
    # a new article after the copy gets a fresh id on PostgreSQL
    from datetime import UTC, datetime

    from ingest.demo.stories import summit_story

    ht = world.outlets["harbour-times"]
    fresh = summit_story(77, datetime(2018, 6, 13, tzinfo=UTC))
    ht.stories[fresh.slug] = fresh
    r = ingest_cli("backfill", ht.url(fresh.slug), "--config", str(cfg), "--db", pg_url)
    assert r.returncode == 0, r.stderr
    assert pg_rows(pg_url, "SELECT count(*), count(DISTINCT id) FROM articles")[0] == (9, 9)
    # a destination that holds a corpus is refused, with one line
    r = ingest_cli("db", "copy", str(db), pg_url, "--config", str(cfg))
    assert r.returncode == 2 and "already holds a corpus" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_dry_run_reextract_and_health_on_postgres(world, tmp_path, pg_url):
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "unused.db", world.feed_urls)
    url = world.url("harbour-times", "summit-0")
    r = ingest_cli("backfill", url, "--dry-run", "--config", str(cfg), "--db", pg_url)  # no corpus yet
    assert r.returncode == 0 and r.stdout.split() == [url], r.stderr
    assert pg_rows(pg_url, "SELECT to_regclass('articles')")[0][0] is None  # a dry run writes nothing
    r = ingest_cli("run", "--once", "--config", str(cfg), "--db", pg_url)
    assert r.returncode == 0, r.stderr
    r = ingest_cli("reextract", "--config", str(cfg), "--db", pg_url)
    assert r.returncode == 0, r.stderr
    assert pg_rows(pg_url, "SELECT count(*) FROM versions WHERE change = 'reextract'")[0][0] == 0  # same extractor
    # health reads the feeds' health from the database (no daemon ran here: no status file)
    r = ingest_cli("health", "--config", str(cfg), "--db", pg_url)
    assert r.returncode == 1 and "status file" in r.stderr, r.stderr
