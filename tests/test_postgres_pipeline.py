"""The PostgreSQL writer's round-trip savers against a real server: executemany as one
INSERT ... SELECT FROM unnest(...), and the pipelined store transaction's rollback and retry."""
from __future__ import annotations

import pytest

from ingest.analyse.synth import article
from ingest.config import Config
from ingest.records import Candidate

pytestmark = pytest.mark.timeout(120)


def test_executemany_keeps_row_by_row_meaning(pg_url):
    from ingest.store.postgres.connection import connect
    from ingest.store.postgres.schema import migrate

    conn = connect(pg_url)
    migrate(conn)
    upsert = ("INSERT INTO site_lines (site, h, n) VALUES (?, ?, 1) "
              "ON CONFLICT (site, h) DO UPDATE SET n = site_lines.n + 1")
    conn.executemany(upsert, [("a.example", h) for h in range(700)])  # distinct keys: unnest, in 2 parts
    conn.executemany(upsert, [("a.example", 5), ("a.example", 5)])  # a key twice: row by row, counted twice
    rows = dict(conn.execute("SELECT h, n FROM site_lines WHERE site = 'a.example'").fetchall())
    assert len(rows) == 700 and rows[5] == 3 and rows[699] == 1
    conn.executemany("INSERT INTO lsh_bands (key, article_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                     [(2**62 + 1, 7), (-(2**62), 7), (2**62 + 1, 7)])  # 64-bit keys, a repeat ignored
    assert sorted(conn.execute("SELECT key FROM lsh_bands").fetchall()) == [(-(2**62),), (2**62 + 1,)]
    conn.close()


def test_a_failed_statement_rolls_the_batch_back_and_it_is_retried(pg_url):
    """A statement that fails inside the pipelined transaction (as a deadlock or a lost race
    does) surfaces, the transaction is rolled back (not left aborted), and the retry stores the
    whole batch once."""
    from bench.scale import page_for
    from ingest.store.postgres.writer import PgWriter

    w = PgWriter.open(pg_url, Config(database=pg_url))
    items = []
    for i in range(4):
        title, text = article(900 + i, paragraphs=6)
        url = f"https://site{i}.example/news/{i}"
        items.append((Candidate(url=url, source="urls", feed_url=None, guid=None), page_for(url, title, text), None))
    store, calls = w.articles.store, []

    def store_once_failing(c, ex, log):
        calls.append(c.url)
        if len(calls) == 2:  # the second article of the first attempt collides with a row of the first
            w.conn.execute("INSERT INTO url_keys (key, article_id) VALUES (?, ?)", ("dup", 1))
            w.conn.execute("INSERT INTO url_keys (key, article_id) VALUES (?, ?)", ("dup", 1))
        return store(c, ex, log)

    w.articles.store = store_once_failing
    stored = w.store_many(items)
    assert [s.article_id for s in stored] == sorted({s.article_id for s in stored}) and len(stored) == 4
    assert calls[:2] == [items[0][0].url, items[1][0].url] and len(calls) == 6  # 2 then rolled back, 4 again
    assert w.conn.execute("SELECT count(*), count(DISTINCT url) FROM articles").fetchone() == (4, 4)
    assert w.conn.execute("SELECT count(*) FROM url_keys WHERE key = 'dup'").fetchone() == (0,)
    w.close()
