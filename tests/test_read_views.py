"""Migration 4: the analyst views and the FTS index over current versions."""
from __future__ import annotations

import json
import sqlite3

import pytest
import readdb

from ingest.store.sqlite.connection import open_writer as open_db
from ingest.store.sqlite.schema import MIGRATIONS, migrate


@pytest.fixture
def fx(tmp_path) -> readdb.Fixture:
    return readdb.build(tmp_path / "ingest.db")


@pytest.fixture
def conn(fx):
    c = sqlite3.connect(fx.path)
    c.row_factory = sqlite3.Row
    yield c
    c.close()


def fts_ids(conn, query: str) -> set[int]:
    return {r[0] for r in conn.execute(
        "SELECT v.article_id FROM versions_fts JOIN versions v ON v.id = versions_fts.rowid "
        "WHERE versions_fts MATCH ?", (query,))}


def indexed_ids(conn) -> set[int]:
    return {r[0] for r in conn.execute("SELECT id FROM versions_fts_docsize")}


def current_ids(conn) -> set[int]:
    return {r[0] for r in conn.execute("SELECT v.id FROM articles a JOIN versions v ON v.article_id = a.id "
                                       "AND v.n = a.current_version")}


def test_latest_one_row_per_article_with_current_version(fx, conn):
    rows = {r["url"]: r for r in conn.execute("SELECT * FROM latest")}
    assert len(rows) == fx.n_articles
    bridge = rows[fx.urls["bridge"]]
    assert bridge["version"] == 3 and bridge["text"] == readdb.BRIDGE_V3
    assert json.loads(bridge["feeds"]) == sorted([readdb.FEED_NEWS, readdb.FEED_WIRE])  # distinct, 3 sightings
    near = rows[fx.urls["bridge_near"]]
    assert (near["duplicate_of"], near["duplicate_kind"], near["duplicate_similarity"]) == (fx.urls["bridge"], "near", 0.91)
    assert near["duplicate_of_id"] == fx.ids["bridge"]
    patch = rows[fx.urls["patchwork"]]
    assert patch["garbled_score"] == 0.84 and json.loads(patch["garbled_reasons"]) == ["patchwork", "truncated"]
    assert rows[fx.urls["museum"]]["garbled_score"] is None  # flagged on version 1, current is 2
    assert rows[fx.urls["stub"]]["extraction_suspect"] == 0.6


def test_latest_takes_the_newest_flag_of_the_current_version(fx, conn):
    db = open_db(fx.path)
    readdb.flag_duplicate(db.conn, fx.ids["bridge_near"], 1, fx.ids["bridge"], fx.urls["bridge"], "syndicated", 0.6,
                          "2026-11-03T00:00:00+00:00")
    db.conn.close()
    row = conn.execute("SELECT duplicate_kind, duplicate_similarity FROM latest WHERE id = ?",
                       (fx.ids["bridge_near"],)).fetchone()
    assert tuple(row) == ("syndicated", 0.6)


def test_garble_reasons_fall_back_to_subkind(fx, conn):
    db = open_db(fx.path)
    db.conn.execute("INSERT INTO flags (article_id, version_n, kind, subkind, score, detail, created_at) "
                    "VALUES (?, 2, 'garbled', 'mojibake,splice', 0.8, '{}', '2026-11-05')", (fx.ids["museum"],))
    db.conn.close()
    row = conn.execute("SELECT garbled_reasons, garbled_sources FROM latest WHERE id = ?", (fx.ids["museum"],)).fetchone()
    assert json.loads(row[0]) == ["mojibake", "splice"] and json.loads(row[1]) == []


def test_clean_duplicates_garbled_views(fx, conn):
    clean = {r["url"] for r in conn.execute("SELECT url FROM clean")}
    assert clean == {fx.urls[n] for n in ("bridge", "library", "mackerel", "museum", "stub")}
    dups = {r["copy"]: dict(r) for r in conn.execute("SELECT * FROM duplicates")}
    assert set(dups) == {fx.urls["bridge_near"], fx.urls["bridge_exact"]}
    assert dups[fx.urls["bridge_exact"]]["original"] == fx.urls["bridge"]
    assert dups[fx.urls["bridge_exact"]]["kind"] == "exact" and dups[fx.urls["bridge_exact"]]["similarity"] == 1.0
    assert dups[fx.urls["bridge_exact"]]["original_id"] == fx.ids["bridge"]
    (g,) = conn.execute("SELECT * FROM garbled").fetchall()
    assert g["article"] == fx.urls["patchwork"] and g["score"] == 0.84
    assert json.loads(g["sources"]) == [fx.urls["library"], fx.urls["mackerel"]]
    assert json.loads(g["reasons"]) == ["patchwork", "truncated"]


def test_feed_health(fx, conn):
    rows = {r["url"]: dict(r) for r in conn.execute("SELECT * FROM feed_health")}
    assert set(rows) == {readdb.FEED_NEWS, readdb.FEED_WIRE, readdb.FEED_BROKEN}
    news, broken = rows[readdb.FEED_NEWS], rows[readdb.FEED_BROKEN]
    assert news["status"] == "ok" and news["items_per_poll"] == 20 and news["polls"] == 40
    assert news["articles"] == 4 and news["last_success"] == "2026-11-07T10:00:00+00:00"
    assert broken["status"] == "failing" and broken["consecutive_failures"] == 3.0
    assert broken["last_error"].startswith("http 503") and broken["next_poll"] == "2026-11-07T13:30:00+00:00"


def test_fts_finds_current_versions_only(fx, conn):
    assert fts_ids(conn, "mackerel") == {fx.ids["mackerel"]}
    assert fts_ids(conn, "councillors") == {fx.ids["library"], fx.ids["patchwork"]}
    assert fts_ids(conn, "inspection") == {fx.ids["bridge"], fx.ids["bridge_exact"]}  # only in bridge v3
    assert fts_ids(conn, "renovation") == {fx.ids["museum"]}
    n_current = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert conn.execute("SELECT count(*) FROM versions_fts_docsize").fetchone()[0] == n_current
    conn.execute("INSERT INTO versions_fts(versions_fts, rank) VALUES ('integrity-check', 0)")  # raises if out of sync
    assert indexed_ids(conn) == current_ids(conn)


def test_fts_follows_a_new_version(fx):
    db = open_db(fx.path)
    readdb.add_version(db.conn, fx.ids["library"], 2, "Council approves new library budget and a bookmobile",
                       readdb.LIBRARY + " A bookmobile will visit the lighthouse hamlet weekly.",
                       "2026-11-08T10:00:00+00:00", previous=("", readdb.LIBRARY))
    assert fts_ids(db.conn, "bookmobile") == {fx.ids["library"]}
    assert fts_ids(db.conn, "title:bookmobile") == {fx.ids["library"]}
    assert fts_ids(db.conn, "councillors") == {fx.ids["library"], fx.ids["patchwork"]}  # v1 row left the index
    assert db.conn.execute("SELECT count(*) FROM versions_fts_docsize").fetchone()[0] == fx.n_articles
    # the writer's other order: bump current_version first, then insert the row
    db.conn.execute("UPDATE articles SET current_version = 3, versions = 3 WHERE id = ?", (fx.ids["library"],))
    db.conn.execute("INSERT INTO versions (article_id, n, fetched_at, title, text, text_hash, title_hash, change) "
                    "VALUES (?, 3, '2026-11-09', 'Library budget', 'Zeppelin text entirely replaced.', 'h', 't', 'edit')",
                    (fx.ids["library"],))
    assert fts_ids(db.conn, "zeppelin") == {fx.ids["library"]} and fts_ids(db.conn, "bookmobile") == set()
    # a version row corrected in place (re-extraction) is re-indexed
    db.conn.execute("UPDATE versions SET text = 'Airship text.' WHERE article_id = ? AND n = 3", (fx.ids["library"],))
    assert fts_ids(db.conn, "airship") == {fx.ids["library"]} and fts_ids(db.conn, "zeppelin") == set()
    # an old version inserted late (not current) is not indexed
    db.conn.execute("INSERT INTO versions (article_id, n, fetched_at, title, text, text_hash, title_hash, change) "
                    "VALUES (?, 9, '2026-11-09', 'x', 'quokka', 'h', 't', 'edit')", (fx.ids["mackerel"],))
    assert fts_ids(db.conn, "quokka") == set()
    db.conn.execute("INSERT INTO versions_fts(versions_fts, rank) VALUES ('integrity-check', 0)")
    assert indexed_ids(db.conn) == current_ids(db.conn)
    db.conn.close()


def test_fts_triggers_do_not_scan(fx):
    conn = sqlite3.connect(fx.path)
    plans = []
    for sql in ("SELECT v.id FROM versions v WHERE v.article_id = 1 AND v.n = 2",
                "SELECT current_version FROM articles WHERE id = 1"):
        plans += [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
    assert all(p.startswith("SEARCH") for p in plans), plans


def test_migration_4_indexes_an_existing_database(tmp_path):
    """A database filled under schema 3 gets its current versions indexed when migrated."""
    path = tmp_path / "old.db"
    conn = readdb.at_schema(path, 3)
    aid = readdb.add_article(conn, url="https://x.example/a", site="x.example", first_seen="2026-01-01",
                             last_seen="2026-01-01", published=None, topics=[],
                             versions=[("Old title", "walrus text", "2026-01-01"), ("New title", "narwhal text",
                                                                                   "2026-01-02")])
    assert migrate(conn) == len(MIGRATIONS)
    assert fts_ids(conn, "narwhal") == {aid} and fts_ids(conn, "walrus") == set()
    assert conn.execute("SELECT title FROM latest").fetchone()[0] == "New title"


def test_sqlite_utils_detects_and_searches_fts(fx):
    db = open_db(fx.path)
    assert db["versions"].detect_fts() == "versions_fts"
    titles = [r["title"] for r in db["versions"].search("lighthouse")]
    assert titles == ["Museum lighthouse gallery reopens"]
    db.conn.close()
