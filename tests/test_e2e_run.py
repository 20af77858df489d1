"""End to end: the real CLI, a real local news site, a real SQLite file."""
from __future__ import annotations

import json
import socket
import sqlite3

from conftest import ingest_cli, write_config


def counts(db):
    conn = sqlite3.connect(db)
    try:
        return {
            "articles": conn.execute("select count(*) from articles").fetchone()[0],
            "versions": conn.execute("select count(*) from versions").fetchone()[0],
            "per_article": dict(conn.execute("select url, versions from articles")),
        }
    finally:
        conn.close()


def test_run_once_stores_versions_and_flags_exact_copy(world, tmp_path):
    db = tmp_path / "news.db"
    cfg = write_config(tmp_path / "c.yaml", db, world.feed_urls)
    r = ingest_cli("run", "--once", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    first = counts(db)
    # 9 summit pages and copies; the off-topic page is not stored
    assert first["articles"] == 8 and first["versions"] == 8
    assert world.url("harbour-times", "autumn-fair") not in first["per_article"]

    conn = sqlite3.connect(db)
    copy_id, orig_id, kind = conn.execute(
        "select a.id, f.other_article_id, f.subkind from flags f join articles a on a.id = f.article_id "
        "where a.url = ?", (world.url("northern-ledger", "copy-of-handshake"),)).fetchone()
    assert kind == "exact"
    assert conn.execute("select url from articles where id = ?", (orig_id,)).fetchone()[0] == world.url("harbour-times", "summit-0")
    # sightings name the feed that listed each article
    feeds = {row[0] for row in conn.execute(
        "select f.url from sightings s join feeds f on f.id = s.feed_id where s.article_id = ?", (copy_id,))}
    assert feeds == {world.outlets["northern-ledger"].feed_url}
    assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
    conn.close()

    r = ingest_cli("run", "--once", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert counts(db) == first  # nothing changed, nothing added
    s = json.loads(ingest_cli("stats", "--json", "--config", str(cfg)).stdout)
    assert s["sighting_outcomes"] == {"new": 8, "unchanged": 8} and s["sightings"] == 16

    story = world.outlets["harbour-times"].stories["summit-1"]  # the wire-digest copy points at it
    world.edit("harbour-times", "summit-1", text=story.text + "\n\nOfficials in Seoul welcomed the statement on Wednesday.")
    r = ingest_cli("run", "--once", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    after = counts(db)
    assert after["versions"] == first["versions"] + 1
    edited = world.url("harbour-times", "summit-1")
    assert after["per_article"][edited] == 2
    assert {u: n for u, n in after["per_article"].items() if u != edited} == {
        u: n for u, n in first["per_article"].items() if u != edited}
    conn = sqlite3.connect(db)
    change, added = conn.execute("select change, words_added from versions v join articles a on a.id = v.article_id "
                                 "where a.url = ? and v.n = 2", (edited,)).fetchone()
    assert change == "edit" and added == 8
    # a new version of an original is not a copy of anything (not of its own copies, not of itself)
    assert conn.execute("select count(*) from flags f join articles a on a.id = f.article_id "
                        "where a.url = ? and f.kind = 'duplicate'", (edited,)).fetchone()[0] == 0
    conn.close()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_feed_is_one_line_and_the_rest_is_stored(world, tmp_path):
    db = tmp_path / "news.db"
    dead = f"http://127.0.0.1:{_closed_port()}/feed.xml"
    cfg = write_config(tmp_path / "c.yaml", db, [dead] + world.feed_urls[:1])
    r = ingest_cli("run", "--once", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    failures = [line for line in r.stderr.splitlines() if "feed failed" in line]
    assert len(failures) == 1 and dead in failures[0]
    assert counts(db)["articles"] == 3  # harbour-times: 3 summit stories
    s = ingest_cli("stats", "--json", "--config", str(cfg))
    assert s.returncode == 0, s.stderr
    health = {f["url"]: f for f in json.loads(s.stdout)["feeds"]}
    assert health[dead]["failures"] == 1 and health[dead]["last_error"]
    assert health[world.feed_urls[0]]["failures"] == 0 and health[world.feed_urls[0]]["items_last_poll"] == 4


def test_malformed_config_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("database: x.db\nfetch:\n  timeout: soon\n")
    r = ingest_cli("run", "--once", "--config", str(bad))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "fetch.timeout" in r.stderr
    bad.write_text("feeds: [\n")
    r = ingest_cli("run", "--once", "--config", str(bad))
    assert r.returncode == 2 and "invalid YAML" in r.stderr and r.stderr.strip().count("\n") == 0
    bad.write_text("databse: x.db\n")
    r = ingest_cli("stats", "--config", str(bad))
    assert r.returncode == 2 and "databse: unknown key" in r.stderr


def test_missing_files_are_one_line_errors(tmp_path):
    r = ingest_cli("run", "--once", "--config", str(tmp_path / "nope.yaml"))
    assert r.returncode == 2 and "config file not found" in r.stderr and r.stderr.strip().count("\n") == 0
    r = ingest_cli("backfill", "--db", str(tmp_path / "x.db"), "--urls", str(tmp_path / "missing.txt"))
    assert r.returncode == 2 and "missing.txt" in r.stderr and r.stderr.strip().count("\n") == 0
    r = ingest_cli("stats", "--db", str(tmp_path / "none.db"))
    assert r.returncode == 2 and "no database" in r.stderr
    r = ingest_cli("backfill", "--db", str(tmp_path / "x.db"))
    assert r.returncode == 2  # bad usage: nothing to backfill


def test_backfill_urls_args_and_file_then_rerun_skips(world, tmp_path):
    db = tmp_path / "news.db"
    cfg = write_config(tmp_path / "c.yaml", db, [], topics=[])
    urls = [world.url("harbour-times", "summit-0"), world.url("harbour-times", "autumn-fair")]
    listfile = tmp_path / "urls.txt"
    listfile.write_text(f"# two more\n{world.url('northern-ledger', 'summit-3')}\n\n{world.url('wire-digest', 'scraped-summit')}\n")
    r = ingest_cli("backfill", "--config", str(cfg), *urls, "--urls", str(listfile))
    assert r.returncode == 0, r.stderr
    assert counts(db)["articles"] == 4  # no topics configured: everything kept
    r = ingest_cli("backfill", "--config", str(cfg), "--dry-run", *urls, world.url("wire-digest", "wire-summit-statement"))
    assert r.returncode == 0
    assert r.stdout.split() == [world.url("wire-digest", "wire-summit-statement")]  # the rest was done
    assert counts(db)["articles"] == 4


def test_private_addresses_refused_by_default(world, tmp_path):
    db = tmp_path / "news.db"
    cfg = write_config(tmp_path / "c.yaml", db, world.feed_urls[:1], allow_private_addresses=False)
    r = ingest_cli("run", "--once", "--config", str(cfg))
    assert r.returncode == 1  # nothing it was asked for was achieved
    assert "feed failed" in r.stderr and "none of the 1 feeds could be read" in r.stderr
    assert counts(db)["articles"] == 0

