"""A real `ingest run` daemon against every fault the fault server can throw.

It must keep running, store every healthy article, record each failure on its feed
(feeds.last_error) or in the fetch log (fetches), never exceed the per-host limits as
measured by the server, and stop cleanly on SIGTERM.
"""
from __future__ import annotations

import json
import signal
import time
from urllib.parse import urlencode

import pytest
from faultserver import (
    FaultServer,
    consistency_problems,
    daemon_config,
    ingest_env,
    query,
    reap,
    start_daemon,
    wait_for,
)

pytestmark = pytest.mark.timeout(60)

PINS = {name: "127.0.0.1" for name in ("a.test", "b.test", "c.test", "d.test", "e.test", "f.test", "g.test",
                                         "public.test")}
DELAY = 0.15  # per_host_delay
CONCURRENCY = 2
# Arrival times are taken on the server's loop, in the test process, while the daemon and its workers
# load the 2 cores (and other suites may run beside): JITTER (20 ms) is too tight for a whole daemon.
LOADED_JITTER = 0.05
ROBOTS = {"d.test": "User-agent: *\nDisallow: /article/secret\n"}


def test_daemon_survives_every_fault_and_stays_polite(tmp_path):
    with FaultServer.threaded(robots=ROBOTS, max_hang=6.0) as srv:
        u = srv.url
        loopback = f"http://127.0.0.1:{srv.port}/feed.xml"
        healthy_feed = u("/feed.xml?n=4&prefix=a", "a.test")
        # one feed on b.test lists healthy articles between faulty ones
        good_b = ["/article/b1", "/article/b2", "/charset/utf8-as-latin1", "/charset/latin1-as-utf8",
                  "/charset/meta", "/charset/bad-name", "/article/b3"]
        bad_b = {"/status/500": "http", "/reset": "connection", "/truncated": "connection",
                 "/big?size=3000000": "too_large", "/gzip-bomb?size=60000000": "too_large",
                 "/loop/a": "redirects", "/binary/pdf": "content_type", "/hang?seconds=6": "timeout",
                 "/redirect-to?" + urlencode({"url": f"http://127.0.0.1:{srv.port}/article/9"}): "refused"}
        items = [good_b[0], *list(bad_b)[:4], *good_b[1:4], *list(bad_b)[4:], *good_b[4:]]
        mixed_feed = u("/list.xml?" + urlencode({"item": items}, doseq=True), "b.test")
        robots_feed = u("/list.xml?" + urlencode({"item": ["/article/d1", "/article/secret1"]}, doseq=True), "d.test")
        bad_feeds = {  # feed -> failure kind (in the fetch log), "parse" when the body is no feed
            u("/status/503?retry_after=4", "c.test"): "http",
            u("/status/429?retry_after=1", "c.test"): "http",
            u("/hang?seconds=6", "e.test"): "timeout",
            u("/drip?chunks=50&interval=0.1", "f.test"): "timeout",
            u("/reset", "e.test"): "connection",
            u("/truncated", "f.test"): "connection",
            u("/big?size=3000000&announce=1", "e.test"): "too_large",
            u("/gzip-bomb?size=60000000", "g.test"): "too_large",
            u("/loop/a", "e.test"): "redirects",
            u("/redirect-to?" + urlencode({"url": loopback}), "public.test"): "refused",
            u("/malformed.xml", "g.test"): "parse",
            u("/binary/png", "f.test"): "content_type",
            u("/charset/none", "g.test"): "parse",  # an HTML page where a feed should be
        }
        feeds = [healthy_feed, mixed_feed, robots_feed, *bad_feeds]
        db = tmp_path / "faults.db"
        cfg = daemon_config(tmp_path / "c.yaml", db, feeds, workers=2,
                            fetch={"allow_private_addresses": False, "per_host_delay": DELAY,
                                   "per_host_concurrency": CONCURRENCY, "obey_robots": True, "max_bytes": 1_000_000,
                                   "timeout": 1.5, "retries": 1, "max_retry_after": 2.0},
                            schedule={"min_interval": 1.0, "default_interval": 2.0, "max_interval": 20.0})
        proc = start_daemon(cfg, "--grace", "2", "--log-format", "json", "-v", log_path=tmp_path / "daemon.log", hosts=PINS)
        try:
            healthy = {u(f"/article/a{i}", "a.test") for i in range(1, 5)} | {u(p, "b.test") for p in good_b} \
                | {u("/article/d1", "d.test")}

            def all_stored():
                urls = {r[0] for r in query(db, "SELECT url FROM articles")}
                return healthy <= urls

            def all_failed():
                rows = query(db, "SELECT url, last_error FROM feeds WHERE polls > 0")
                return len([r for r in rows if r[0] in bad_feeds]) == len(bad_feeds)

            wait_for(all_stored, 30, what="every healthy article stored")
            wait_for(all_failed, 20, what="every bad feed polled")
            time.sleep(1.5)  # a few more polls and backoffs
            assert proc.poll() is None, "the daemon died"
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0
            stop_seconds = time.monotonic() - started
        finally:
            reap(proc)
        log = (tmp_path / "daemon.log").read_text()
        assert stop_seconds < 2 + 2, log[-2000:]

        # every healthy article stored, nothing from a fault
        stored = {r[0] for r in query(db, "SELECT url FROM articles")}
        assert healthy <= stored
        assert not stored & ({u(p, "b.test") for p in bad_b} | {u("/article/secret1", "d.test")})
        assert consistency_problems(db) == []

        # each bad feed failing, with its error on the feed row, and still scheduled
        rows = {r[0]: r[1:] for r in query(db, "SELECT url, last_error, failures, next_poll_at, interval, last_ok_at "
                                               "FROM feeds")}
        feed_outcomes = {}
        for url, outcome in query(db, "SELECT url, outcome FROM fetches WHERE kind = 'feed'"):
            feed_outcomes.setdefault(url, set()).add(outcome)
        for url, kind in bad_feeds.items():
            last_error, failures, next_poll_at, interval, last_ok = rows[url]
            assert last_error and failures > 0 and next_poll_at and last_ok is None, (url, rows[url])
            assert feed_outcomes[url] == ({"ok"} if kind == "parse" else {kind}), (url, feed_outcomes[url])
        assert "Retry-After" in rows[u("/status/503?retry_after=4", "c.test")][0]
        # Retry-After (capped at max_retry_after 2 s) is a floor: backoff 2 s * 2^failures is above it anyway
        assert rows[u("/status/503?retry_after=4", "c.test")][3] >= 2.0
        for url in (healthy_feed, mixed_feed, robots_feed):
            assert rows[url][0] is None and rows[url][4] is not None
        # each article fault recorded in the fetch log with its kind
        outcomes = {}
        for url, outcome in query(db, "SELECT url, outcome FROM fetches WHERE kind = 'article'"):
            outcomes.setdefault(url, set()).add(outcome)
        for path, kind in bad_b.items():
            assert kind in outcomes.get(u(path, "b.test"), set()), (path, outcomes.get(u(path, "b.test")))
        assert outcomes[u("/article/secret1", "d.test")] == {"robots"}

        # politeness, as the server measured it: per host, never more than the limits
        gaps = []
        for host in ("a.test", "b.test", "c.test", "d.test", "e.test", "f.test", "g.test"):
            st = srv.host(host)
            assert st.requests >= 2, host
            assert st.max_in_flight <= CONCURRENCY, (host, st.max_in_flight)
            assert st.min_gap >= DELAY - LOADED_JITTER, "\n".join(
                map(str, [(round(s.at, 3), s.path, s.query) for s in srv.seen if s.host == host]))
            gaps.append(st.min_gap)
        assert srv.host("127.0.0.1").requests == 0  # the redirects to loopback were never followed
        print(f"\nsmallest gap between two requests to one host: {min(gaps):.3f}s (per_host_delay {DELAY}s), "
              f"stopped in {stop_seconds:.2f}s")

        # one JSON object per line, each event naming its feed or url and its outcome
        events = [json.loads(line) for line in log.splitlines() if line.strip()]
        assert events[0]["msg"].startswith("ingest run: 16 feeds") and events[0]["outcome"] == "start"
        config = next(e["config"] for e in events if "config" in e)  # the whole config, at debug level
        assert config["fetch"]["per_host_delay"] == DELAY
        assert any(e.get("outcome") == "refused" and "public.test" in e.get("feed", "") for e in events)
        assert any(e.get("outcome") == "scheduled" and e.get("feed") == healthy_feed for e in events)
        assert events[-1]["outcome"] == "stopped"
        assert not any(e["level"] == "error" for e in events), [e for e in events if e["level"] == "error"][:3]

        # `ingest stats` shows per-feed health
        import subprocess
        import sys
        r = subprocess.run([sys.executable, "-m", "ingest", "stats", "--json", "--db", str(db)], capture_output=True,
                           text=True, timeout=30, env=ingest_env())
        assert r.returncode == 0, r.stderr
        health = {f["url"]: f for f in json.loads(r.stdout)["feeds"]}
        assert health[healthy_feed]["status"] == "ok" and health[healthy_feed]["items_last_poll"] == 4
        assert health[healthy_feed]["articles"] == 4 and health[healthy_feed]["last_ok_at"]
        loop = health[u("/loop/a", "e.test")]
        assert loop["status"] == "failing" and loop["failures"] >= 2 and loop["next_poll_at"] and loop["last_error"]
        text = subprocess.run([sys.executable, "-m", "ingest", "stats", "--db", str(db)], capture_output=True,
                              text=True, timeout=30, env=ingest_env()).stdout
        assert "FAILING" in text and healthy_feed in text
