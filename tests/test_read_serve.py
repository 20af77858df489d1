"""`ingest serve`: Datasette over the database in a subprocess; views, FTS, canned queries, read-only."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import readdb

from ingest.read.serve import metadata

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def fx(tmp_path_factory) -> readdb.Fixture:
    return readdb.build(tmp_path_factory.mktemp("serve") / "ingest.db")


@pytest.fixture(scope="module")
def server(fx):
    with readdb.Server(fx.path) as s:
        yield s


def get(server, path: str, **params) -> tuple[int, object]:
    url = server.url(path) + ("?" + urllib.parse.urlencode(params) if params else "")
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def rows(server, path: str, **params) -> list[dict]:
    status, body = get(server, path, _shape="array", **params)
    assert status == 200, body
    return body


def test_metadata_describes_views_and_queries():
    md = metadata("/data/ingest.db")
    db = md["databases"]["ingest"]
    assert set(db["queries"]) == {"latest_coverage", "copies", "garbled_pages", "article_versions", "search"}
    assert db["tables"]["latest"]["fts_table"] == "versions_fts"
    assert all(db["tables"][v]["description"] for v in ("latest", "clean", "duplicates", "garbled", "feed_health"))


def test_views_as_json(fx, server):
    latest = rows(server, "/ingest/latest.json")
    assert {r["url"] for r in latest} == set(fx.urls.values())
    dups = rows(server, "/ingest/duplicates.json")
    assert {(r["copy"], r["original"], r["kind"]) for r in dups} == {
        (fx.urls["bridge_near"], fx.urls["bridge"], "near"), (fx.urls["bridge_exact"], fx.urls["bridge"], "exact")}
    health = {r["url"]: r for r in rows(server, "/ingest/feed_health.json")}
    assert health[readdb.FEED_BROKEN]["status"] == "failing"
    assert len(rows(server, "/ingest/clean.json")) == 5


def test_fts_search_on_latest_and_versions(fx, server):
    found = rows(server, "/ingest/latest.json", _search="mackerel")
    assert [r["url"] for r in found] == [fx.urls["mackerel"]]
    found = rows(server, "/ingest/clean.json", _search="inspection")  # the exact copy is not clean
    assert [r["url"] for r in found] == [fx.urls["bridge"]]
    found = rows(server, "/ingest/versions.json", _search="renovation")
    assert [(r["article_id"], r["n"]) for r in found] == [(fx.ids["museum"], 2)]


def test_canned_queries(fx, server):
    coverage = rows(server, "/ingest/latest_coverage.json")
    assert coverage[0]["url"] == fx.urls["stub"]  # newest by published, else first seen
    assert len(coverage) == fx.n_articles
    copies = rows(server, "/ingest/copies.json", url=fx.urls["bridge_exact"])
    assert [(r["role"], r["url"]) for r in copies] == [
        ("original", fx.urls["bridge"]), ("copy", fx.urls["bridge_exact"]), ("copy", fx.urls["bridge_near"])]
    garbled = rows(server, "/ingest/garbled_pages.json")
    assert len(garbled) == 1 and json.loads(garbled[0]["sources"]) == [fx.urls["library"], fx.urls["mackerel"]]
    versions = rows(server, "/ingest/article_versions.json", url=fx.urls["bridge"])
    assert [v["version"] for v in versions] == [1, 2, 3] and versions[0]["change"] == "first"
    hits = rows(server, "/ingest/search.json", q="lighthouse")
    assert [h["url"] for h in hits] == [fx.urls["museum"]] and "[lighthouse]" in hits[0]["snippet"]
    assert rows(server, "/ingest/search.json", q="") == []  # the empty form does not error


def test_write_attempts_fail_and_change_nothing(fx, server):
    before = hashlib.sha256(fx.path.read_bytes()).hexdigest()
    for sql in ("DELETE FROM articles", "UPDATE articles SET site = 'x'", "DROP VIEW latest",
                "SELECT 1; DELETE FROM articles", "PRAGMA user_version = 99"):
        status, body = get(server, "/ingest.json", sql=sql)
        assert status >= 400 or not body.get("ok", True), (sql, body)
    req = urllib.request.Request(server.url("/ingest/articles/-/insert"), method="POST",
                                 data=json.dumps({"row": {"url": "x"}}).encode(),
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(req, timeout=10)
    assert rows(server, "/ingest.json", sql="select count(*) as n from articles")[0]["n"] == fx.n_articles
    assert hashlib.sha256(fx.path.read_bytes()).hexdigest() == before


def test_serve_missing_database_exits_2(tmp_path):
    missing = tmp_path / "missing.db"
    proc = subprocess.run([sys.executable, "-c", "from ingest.cli.read import serve_cmd; serve_cmd()",
                           "--db", str(missing), "--port", "0"], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert proc.returncode == 2 and "no database" in proc.stderr
    assert not missing.exists()


def test_database_page_lists_the_analyst_views_first_with_their_descriptions(fx, server):
    """The page `ingest serve` prints: the five views, in order, described, before anything else."""
    import html as htmllib

    from ingest.read.serve import VIEWS

    with urllib.request.urlopen(server.url("/ingest"), timeout=10) as r:
        page = r.read().decode()
    start = page.index('id="analyst-views"')
    section = page[start:page.index("</section>", start)]
    found = [section.index(f'/ingest/{name}">{name}</a>') for name in VIEWS]
    assert found == sorted(found)  # latest, clean, duplicates, garbled, feed_health
    for text in VIEWS.values():
        assert text in htmllib.unescape(section)
    # first on the page: before the SQL box, the canned queries and the base tables
    for later in ('<form class="sql"', 'id="queries"', 'id="tables"'):
        assert start < page.index(later), later
