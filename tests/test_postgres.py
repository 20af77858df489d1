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
