"""Credentials in a feed URL are used, and never logged, stored or shown (issue 16).

A real `ingest run --once` process reads a feed behind HTTP Basic auth, configured as
`http://alice:s3cret-pw@news.test:PORT/private.xml`. The fetcher sends the login to that origin
(the feed answers 401 without it) and to no other (an article on another host gets none); the
password is in no log line and nowhere in the database file, and the feed is stored under its
URL without credentials.
"""
from __future__ import annotations

import pytest
from faultserver import PRIVATE_LOGIN, FaultServer, daemon_config, query, reap, start_daemon

from ingest.config import ConfigError, describe, parse_config, strip_credentials

pytestmark = pytest.mark.timeout(60)
PASSWORD = PRIVATE_LOGIN.split(":")[1]


def test_credentials_move_from_the_url_to_auth_at_load():
    cfg = parse_config({"feeds": ["https://al%40ice:pa:ss@news.test:8443/rss?x=1", {"url": "https://b.test/f",
                                                                                  "auth": "bob:pw"}]})
    assert cfg.feeds[0].url == "https://news.test:8443/rss?x=1" and cfg.feeds[0].auth == "al@ice:pa:ss"
    assert "pa:ss" not in repr(cfg) and "pw" not in str(describe(cfg))
    assert describe(cfg)["feeds"][1]["auth"] == "bob:***"
    assert strip_credentials("http://u:p@h.test/x?a=b@c") == "http://h.test/x?a=b@c"
    with pytest.raises(ConfigError, match=r"feeds\[0\]: credentials both in the url and in auth"):
        parse_config({"feeds": [{"url": "https://u:p@a.test/f", "auth": "v:q"}]})
    with pytest.raises(ConfigError, match=r"feeds\[0\].auth: expected 'user:password'"):
        parse_config({"feeds": [{"url": "https://a.test/f", "auth": "nocolon"}]})


def test_a_feed_behind_basic_auth_is_read_and_its_password_kept_out_of_logs_and_database(tmp_path):
    with FaultServer.threaded() as srv:
        port = srv.port
        feed = f"http://{PRIVATE_LOGIN}@news.test:{port}/private.xml?item=/article/p1" \
               f"&item=http://other.test:{port}/article/p2"
        db = tmp_path / "auth.db"
        cfg = daemon_config(tmp_path / "c.yaml", db, [feed])
        log = tmp_path / "run.log"
        proc = start_daemon(cfg, "--once", "-vv", "--log-format", "json", log_path=log,
                            hosts={"news.test": "127.0.0.1", "other.test": "127.0.0.1"})
        try:
            assert proc.wait(45) == 0, log.read_text()[-2000:]
        finally:
            reap(proc)
        seen = {(s.host, s.path): s.headers.get("Authorization") for s in srv.seen}
        assert seen[("news.test", "/private.xml")] and seen[("news.test", "/article/p1")]  # same origin
        assert seen[("other.test", "/article/p2")] is None  # another host never gets the login

    stored = {u for (u,) in query(db, "SELECT url FROM articles")}
    assert stored == {f"http://news.test:{port}/article/p1", f"http://other.test:{port}/article/p2"}
    assert [u for (u,) in query(db, "SELECT url FROM feeds")] == [strip_credentials(feed)]
    assert PASSWORD not in log.read_text()
    for f in tmp_path.glob("auth.db*"):
        assert PASSWORD.encode() not in f.read_bytes(), f
