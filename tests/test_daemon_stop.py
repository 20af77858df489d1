"""SIGTERM ends the daemon within its grace whatever the input (issue 16).

Real `ingest run` daemons, SIGTERM while each is stuck on hostile input:
- a worker extracting a page that takes it minutes (trafilatura is quadratic on 60,000 short
  paragraphs; extract_timeout 300 s): the page is abandoned after --grace, the worker killed, exit 0;
- a thread parsing a 7 MB feed of 40,000 items (feedparser, ~10-30 s; a thread cannot be cancelled,
  and asyncio.run waited for it: 16.5 s after SIGTERM): the poll is abandoned, exit 0 after the grace.
Either way no worker process is left behind and the database is consistent. And whatever else could
hold the process up, it is gone STOP_MARGIN seconds after the grace (exit 143).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from faultserver import FaultServer, consistency_problems, daemon_config, query, reap, start_daemon, wait_for

from ingest.run.daemon import STOP_MARGIN

pytestmark = pytest.mark.timeout(90)

GRACE = 2.0
SLACK = 4.0  # the signal reaching a daemon on a loaded machine, the process exiting


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_within_grace(proc, wait: float) -> float:
    """SIGTERM the daemon: it exits 0 within the grace (plus the time to kill a worker), its process
    group gone; the seconds it took."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(wait)
    took = time.monotonic() - sent
    assert code == 0
    assert took < GRACE + 2.0 + SLACK, f"stopped {took:.1f}s after SIGTERM (grace {GRACE:g}s)"
    wait_for(lambda: not group_alive(proc.pid), 5, what="the extraction workers gone")
    return took


def test_sigterm_ends_the_daemon_while_a_worker_is_stuck_on_a_page(tmp_path):
    with FaultServer.threaded() as srv:
        feed = srv.url("/list.xml?item=/article/ok&item=/slow-extract", "news.test")
        db = tmp_path / "stop.db"
        cfg = daemon_config(tmp_path / "c.yaml", db, [feed], workers=1)
        text = cfg.read_text() + "extract_timeout: 300\n"
        cfg.write_text(text)
        proc = start_daemon(cfg, "--grace", f"{GRACE:g}", log_path=tmp_path / "daemon.log",
                            hosts={"news.test": "127.0.0.1"})
        try:
            wait_for(lambda: query(db, "SELECT 1 FROM articles"), 30, what="the healthy article stored")
            wait_for(lambda: srv.hits.get("/slow-extract"), 10, what="the slow page fetched")
            time.sleep(3.0)  # the worker is deep in the page now
            assert proc.poll() is None
            took = stop_within_grace(proc, GRACE + STOP_MARGIN + 30)
        finally:
            reap(proc)
        log = (tmp_path / "daemon.log").read_text()
        assert "abandoning 1 in-flight" in log, log[-2000:]
        assert consistency_problems(db) == []
        print(f"\nstopped {took:.1f}s after SIGTERM with a worker stuck on a page (grace {GRACE:g}s)")


def test_sigterm_ends_the_daemon_while_a_thread_parses_a_huge_feed(tmp_path):
    with FaultServer.threaded() as srv:
        feed = srv.url("/feed.xml?n=40000", "news.test")
        db = tmp_path / "stop.db"
        cfg = daemon_config(tmp_path / "c.yaml", db, [feed], workers=1)
        proc = start_daemon(cfg, "--grace", f"{GRACE:g}", log_path=tmp_path / "daemon.log",
                            hosts={"news.test": "127.0.0.1"})
        try:
            wait_for(lambda: srv.hits.get("/feed.xml"), 30, what="the huge feed fetched")
            time.sleep(1.5)  # the feed is being parsed now
            assert proc.poll() is None and not query(db, "SELECT 1 FROM fetches")
            took = stop_within_grace(proc, GRACE + STOP_MARGIN + 60)
        finally:
            reap(proc)
        assert consistency_problems(db) == []
        print(f"\nstopped {took:.1f}s after SIGTERM while parsing a 40,000-item feed (grace {GRACE:g}s, exit 0)")


def test_a_daemon_that_does_not_stop_is_gone_after_the_grace_and_margin(tmp_path):
    """The last resort: a main thread that never returns (here: a sleep) is ended by the watchdog."""
    code = f"""
import signal, time
from ingest.config import Config
from ingest.run.daemon import Daemon
Daemon(Config(), grace={GRACE})._on_signal(signal.SIGTERM)
time.sleep(120)
"""
    started = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert r.returncode == 128 + signal.SIGTERM, r.stderr
    assert GRACE + STOP_MARGIN <= took < GRACE + STOP_MARGIN + SLACK + 3  # + the interpreter's start
    assert "exiting now" in r.stderr
