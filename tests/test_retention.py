"""The fetch log is bounded (config `retention`) and repeated failures do not flood the log (issue 16).

Real SQLite files through the store; a real Pipeline polling a local fault server for the log lines.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from faultserver import HOSTS, FaultServer, fast_config, run

from ingest.config import Config, ConfigError, FeedConfig, RetentionConfig, parse_config
from ingest.logs import Quota
from ingest.records import Candidate, FetchLog, Poll
from ingest.run.pipeline import Pipeline
from ingest.store import open_store
from ingest.store.sqlite.retention import PRUNE_BATCH
from ingest.store.sqlite.tables import log_fetch
from ingest.times import now


def config(tmp_path, **retention) -> Config:
    return Config(database=str(tmp_path / "r.db"), workers=1, retention=RetentionConfig(**retention))


async def rows(store, sql: str, *params) -> list[tuple]:
    return await store.execute_fn(lambda w: w.conn.execute(sql, params).fetchall(), write=False)


def test_each_poll_keeps_only_the_newest_rows_of_its_feed(tmp_path):
    cfg = config(tmp_path, fetch_log_rows_per_feed=10)

    async def main():
        async with open_store(cfg) as store:
            feed, other = await store.feeds.register([FeedConfig("https://a.test/feed"),
                                                      FeedConfig("https://b.test/feed")])
            for i in range(25):  # a burst of failed articles, all in the same second
                cand = Candidate(url=f"https://a.test/{i}", source="feed", feed_url=feed.url)
                await store.skipped(cand, "fetch_refused", FetchLog(cand.url, "article", "refused", now()))
            other_cand = Candidate(url="https://b.test/1", source="feed", feed_url=other.url)
            await store.skipped(other_cand, "fetch_http", FetchLog(other_cand.url, "article", "http", now()))
            before = await rows(store, "SELECT count(*) FROM fetches WHERE feed_id = ?", feed.id)
            await store.feeds.polled(feed, Poll(FetchLog(feed.url, "feed", "ok", now()), ok=True, items=25))
            kept = await rows(store, "SELECT url FROM fetches WHERE feed_id = ? ORDER BY id", feed.id)
            others = await rows(store, "SELECT count(*) FROM fetches WHERE feed_id = ?", other.id)
            return before[0][0], [u for (u,) in kept], others[0][0]

    before, kept, others = run(main())
    assert before == 25  # the article fetches are the feed's (feed_id from the candidate's feed)
    assert kept == [f"https://a.test/{i}" for i in range(16, 25)] + ["https://a.test/feed"]
    assert others == 1  # another feed's rows are not touched


def test_prune_drops_rows_older_than_the_retention_in_batches(tmp_path):
    cfg = config(tmp_path, fetch_log_days=30)
    old, recent = now() - timedelta(days=31), now() - timedelta(days=29)
    n_old = PRUNE_BATCH * 2 + 7  # three transactions

    def fill(w):
        for i in range(n_old):
            log_fetch(w.conn, FetchLog(f"https://a.test/old/{i}", "article", "refused", old))
        for i in range(3):
            log_fetch(w.conn, FetchLog(f"https://a.test/new/{i}", "article", "ok", recent))

    async def main():
        async with open_store(cfg) as store:
            await store.execute_fn(fill)
            pruned = await store.prune()
            left = await rows(store, "SELECT url FROM fetches ORDER BY id")
            again = await store.prune()
            return pruned, [u for (u,) in left], again

    pruned, left, again = run(main())
    assert pruned == n_old and again == 0
    assert left == [f"https://a.test/new/{i}" for i in range(3)]


def test_retention_values_are_range_checked():
    assert Config().retention.fetch_log_days == 30 and Config().retention.fetch_log_rows_per_feed == 20_000
    with pytest.raises(ConfigError, match=r"retention.fetch_log_days: must be > 0, got 0"):
        parse_config({"retention": {"fetch_log_days": 0}})
    with pytest.raises(ConfigError, match=r"retention.fetch_log_rows_per_feed: must be >= 10"):
        parse_config({"retention": {"fetch_log_rows_per_feed": 1}})


def test_quota_demotes_lines_past_the_limit_and_tells_how_many_later():
    clock = [0.0]
    q = Quota(lines=3, window=60.0, clock=lambda: clock[0])
    levels = [q.take("feed-a") for _ in range(5)]
    assert levels == [(logging.WARNING, 0)] * 3 + [(logging.DEBUG, 0)] * 2
    assert q.take("feed-b") == (logging.WARNING, 0)  # per feed
    clock[0] = 61.0
    assert q.take("feed-a") == (logging.WARNING, 2)  # a new window: the two demoted lines are told


def test_a_feed_of_failing_links_logs_a_few_lines_per_minute_and_keeps_a_bounded_log(tmp_path, caplog):
    cfg = config(tmp_path, fetch_log_rows_per_feed=50)
    cfg.fetch = fast_config()

    async def main():
        async with FaultServer() as srv:
            links = [f"/status/404?k={i}" for i in range(40)]
            url = srv.url("/list.xml?" + urlencode({"item": links}, doseq=True), "a.test")
            async with open_store(cfg) as store, Pipeline(cfg, store, hosts=HOSTS) as pipe:
                clock = [0.0]
                pipe.quota = Quota(clock=lambda: clock[0])
                (feed,) = await store.feeds.register([FeedConfig(url)])
                feed = await pipe.poll_feed(feed, conditional=False)
                await pipe.drain()
                first = [r for r in caplog.records if r.getMessage().startswith("fetch failed")]
                clock[0] = 61.0
                feed = await pipe.poll_feed(feed, conditional=False)
                await pipe.drain()
                await store.feeds.polled(feed, Poll(FetchLog(url, "feed", "ok", now()), ok=True))  # prune after
                stored = await rows(store, "SELECT count(*) FROM fetches WHERE feed_id = ?", feed.id)
                return first, stored[0][0]

    with caplog.at_level(logging.DEBUG, logger="ingest"):
        first, stored = run(main(), timeout=60)
    warned = [r for r in first if r.levelno == logging.WARNING]
    assert len(first) == 40 and len(warned) == 10
    told = [r for r in caplog.records if r.levelno == logging.WARNING and "more articles of" in r.getMessage()]
    assert len(told) == 1 and told[0].getMessage().startswith("30 more articles of ")
    assert stored == 50  # 2 x (1 poll + 40 articles) + 1 poll, capped
