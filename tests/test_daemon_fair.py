"""One feed's hostile links cannot starve another feed (issue 16: head-of-line blocking).

A real `ingest run` daemon polls two feeds on a local fault server: one lists 70 links to a host
that accepts the connection and never sends headers; the other is healthy and grows a new item
every few seconds. The pipeline's slots (max_in_flight, 64) are taken only when a request can
start, so the 70 links wait in their host's queue holding none, and the healthy feed keeps being
polled and its new items stored on time. Before the fix the 70 links took the 64 slots before
waiting for their host, and the healthy feed's poll blocked in submit() for minutes.
"""
from __future__ import annotations

import signal
import time
from urllib.parse import urlencode

import pytest
from faultserver import FaultServer, consistency_problems, daemon_config, query, reap, start_daemon, wait_for

pytestmark = pytest.mark.timeout(120)

PINS = {"news.test": "127.0.0.1", "tarpit.test": "127.0.0.1"}
HANG = 90.0  # the tarpit holds each request this long without a byte of headers
ITEMS_ON_TIME = 15.0  # seconds from a new feed item to its article stored (polls every 1-4 s)


def test_links_to_a_silent_host_do_not_stall_a_healthy_feed(tmp_path):
    with FaultServer.threaded(max_hang=HANG) as srv:
        tarpit_links = [f"/hang?seconds={HANG:g}&k={i}" for i in range(70)]
        hostile = srv.url("/list.xml?" + urlencode({"item": tarpit_links}, doseq=True), "tarpit.test")
        healthy = srv.url("/grow/fair", "news.test")
        db = tmp_path / "fair.db"
        cfg = daemon_config(tmp_path / "c.yaml", db, [hostile, healthy], workers=1,
                            fetch={"timeout": 60.0, "connect_timeout": 5.0, "per_host_concurrency": 2},
                            schedule={"min_interval": 1.0, "default_interval": 2.0, "max_interval": 4.0})
        proc = start_daemon(cfg, "--grace", "2", log_path=tmp_path / "daemon.log", hosts=PINS)
        try:
            def stored(n: int) -> bool:
                url = srv.url(f"/article/fair-{n}", "news.test")
                return bool(query(db, "SELECT 1 FROM articles WHERE url = ?", url))

            wait_for(lambda: stored(1), 30, what="the healthy feed's first article")
            wait_for(lambda: srv.host("tarpit.test").requests >= 2, 10, what="requests held by the tarpit")
            lags = []
            for n in range(2, 6):  # four new items, one every ~2 s, each stored on time
                srv.bump("fair")
                added = time.monotonic()
                wait_for(lambda n=n: stored(n), ITEMS_ON_TIME, what=f"article fair-{n} of the healthy feed")
                lags.append(time.monotonic() - added)
                time.sleep(1.0)
            tarpit = srv.host("tarpit.test")
            # the tarpit's links are still waiting (none answered), at most per_host_concurrency on the wire
            assert tarpit.max_in_flight <= 2 and tarpit.requests <= 1 + 2, tarpit
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
        finally:
            reap(proc)
        assert consistency_problems(db) == []
        print(f"\nhealthy feed's new items stored after {', '.join(f'{x:.1f}' for x in lags)} s "
              f"while 70 links waited for a silent host")
