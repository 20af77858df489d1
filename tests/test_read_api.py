"""The Python API: ingest.open(path) -> Store."""
from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
import readdb

import ingest
from ingest.read.api import Article, Reader, Version
from ingest.store.errors import StoreError


@pytest.fixture
def fx(tmp_path) -> readdb.Fixture:
    return readdb.build(tmp_path / "ingest.db")


@pytest.fixture
def store(fx):
    with ingest.open(fx.path) as s:
        yield s


def test_open_is_the_api_and_builtin_open_is_untouched(fx):
    assert ingest.open is __import__("ingest.read.api").read.api.open
    import builtins

    assert open is builtins.open  # `from .api import open` shadows nothing outside the ingest namespace
    s = ingest.open(fx.path)
    assert isinstance(s, Reader)
    s.close()
    with pytest.raises(sqlite3.ProgrammingError):
        s.sql("select 1")


def test_articles_typed_and_filtered(fx, store):
    arts = list(store.articles())
    assert len(arts) == fx.n_articles and all(isinstance(a, Article) for a in arts)
    bridge = next(a for a in arts if a.url == fx.urls["bridge"])
    assert bridge.published == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    assert bridge.first_seen.tzinfo is not None and bridge.version == 3 and bridge.clean
    assert bridge.topics == ["transport", "storm"] and len(bridge.feeds) == 2
    near = next(a for a in arts if a.url == fx.urls["bridge_near"])
    assert near.duplicate.of == fx.urls["bridge"] and near.duplicate.kind == "near" and not near.clean
    assert {a.url for a in store.articles(site="coastwire.example", clean=True)} == {fx.urls["mackerel"]}
    assert {a.url for a in store.articles(flag="patchwork")} == {fx.urls["patchwork"]}
    assert [a.url for a in store.articles(since="2026-11-06", topic="fishing")] == [fx.urls["patchwork"]]
    garbled = next(store.articles(flag="garbled")).garbled
    assert garbled.score == 0.84 and garbled.sources == [fx.urls["library"], fx.urls["mackerel"]]
    with pytest.raises(ValueError):
        store.articles(flag="spam")


def test_versions(fx, store):
    vs = store.versions(fx.urls["bridge"])
    assert [v.version for v in vs] == [1, 2, 3] and all(isinstance(v, Version) for v in vs)
    assert vs[0].text == readdb.BRIDGE_V1 and vs[0].change == "first"
    assert vs[2].fetched_at == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert store.versions("https://nowhere.example/x") == []


def test_cluster_from_any_member(fx, store):
    expected = [fx.urls["bridge"], fx.urls["bridge_exact"], fx.urls["bridge_near"]]  # original, then by similarity
    assert [a.url for a in store.cluster(fx.urls["bridge"])] == expected
    assert [a.url for a in store.cluster(fx.urls["bridge_near"])] == expected
    assert store.cluster(fx.urls["library"]) == []
    assert store.cluster("https://nowhere.example/x") == []


def test_article_lookup(fx, store):
    a = store.article(fx.urls["museum"])
    assert a.id == fx.ids["museum"] and a.version == 2 and a.garbled is None
    assert store.article("https://nowhere.example/x") is None
    # any form the identity key folds (www., tracking parameters) finds it through url_keys
    variant = fx.urls["museum"].replace("https://", "http://www.") + "?utm_source=feed"
    assert store.article(variant).id == fx.ids["museum"]
    assert [v.version for v in store.versions(variant)] == [1, 2]


def test_search(fx, store):
    assert [a.url for a in store.search("mackerel")] == [fx.urls["mackerel"]]
    assert {a.url for a in store.search("inspection")} == {fx.urls["bridge"], fx.urls["bridge_exact"]}
    assert {a.url for a in store.search('"library budget" OR lantern')} == {fx.urls["library"], fx.urls["museum"]}
    assert len(list(store.search("bridge", limit=1))) == 1
    with pytest.raises(sqlite3.OperationalError):
        list(store.search('"unbalanced'))


def test_sql_passthrough_is_read_only(fx, store):
    rows = store.sql("SELECT copy, kind FROM duplicates WHERE kind = ?", ("exact",))
    assert [(r["copy"], r[1]) for r in rows] == [(fx.urls["bridge_exact"], "exact")]
    with pytest.raises(sqlite3.OperationalError):
        store.sql("DELETE FROM articles")


def test_missing_database(tmp_path):
    with pytest.raises(StoreError, match="no database"):
        ingest.open(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()


def test_sql_rows_are_one_type_on_sqlite_and_postgresql(fx, tmp_path, pg_url):
    """Reader.sql gives the same Row on both backends: by position, by (any-case) name, keys(),
    dict(row); the same query over a copy of one corpus gives equal rows."""
    from conftest import ingest_cli, write_config

    from ingest.read.api import Row

    cfg = write_config(tmp_path / "c.yaml", fx.path, [])
    r = ingest_cli("db", "copy", str(fx.path), pg_url, "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    query = "SELECT copy, kind, count(*) OVER () AS n FROM duplicates WHERE kind = ? ORDER BY copy"
    results = []
    for where in (fx.path, pg_url):
        with ingest.open(where) as reader:
            rows = reader.sql(query, ("exact",))
            named = reader.sql("SELECT url FROM clean WHERE site = :site ORDER BY url", {"site": "coastwire.example"})
        assert rows and all(type(row) is Row for row in rows + named), where
        row = rows[0]
        assert (row["copy"], row["KIND"], row[2]) == (fx.urls["bridge_exact"], "exact", 1)
        assert row.keys() == ["copy", "kind", "n"] and len(row) == 3
        assert dict(row) == {"copy": fx.urls["bridge_exact"], "kind": "exact", "n": 1}
        assert tuple(row) == (fx.urls["bridge_exact"], "exact", 1)
        with pytest.raises(IndexError):
            row["missing"]
        assert [x["url"] for x in named] == [fx.urls["mackerel"]]
        results.append(rows + named)
    assert results[0] == results[1]
