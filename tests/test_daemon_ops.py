"""Operating a real daemon: SIGTERM/SIGINT, the lock, a backfill beside it, kill -9 and restart."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from faultserver import (
    FaultServer,
    consistency_problems,
    daemon_config,
    ingest_env,
    live_processes,
    query,
    reap,
    start_daemon,
    start_ingest,
    wait_for,
)

pytestmark = pytest.mark.timeout(90)
PINS = {name: "127.0.0.1" for name in ("a.test", "b.test", "c.test")}


def n_articles(db) -> int:
    rows = query(db, "SELECT count(*) FROM articles")
    return rows[0][0] if rows else 0


def started(log_path):
    """The daemon has registered its feeds and started its scheduler."""
    return log_path.exists() and "scheduled " in log_path.read_text()


def live_in_group(proc) -> list[int]:
    """Processes of the daemon's group still running."""
    return live_processes(group=proc.pid)


def test_sigterm_finishes_or_abandons_in_flight_work_and_exits_0(tmp_path):
    with FaultServer.threaded(max_hang=5.0) as srv:
        feed = srv.url("/feed.xml?n=4&prefix=s&delay=1.5", "a.test")  # each article takes 1.5 s to answer
        db, log = tmp_path / "t.db", tmp_path / "d.log"
        cfg = daemon_config(tmp_path / "c.yaml", db, [feed], fetch={"timeout": 5.0})
        # 1. idle daemon (its one feed is empty and polled): prompt exit
        empty = srv.url("/feed.xml?n=0&prefix=e", "a.test")
        proc = start_daemon(daemon_config(tmp_path / "idle.yaml", tmp_path / "i.db", [empty]),
                            log_path=tmp_path / "idle.log", hosts=PINS)
        try:
            wait_for(lambda: started(tmp_path / "idle.log"), 15, what="idle daemon start")
            t = time.monotonic()
            proc.send_signal(signal.SIGINT)
            assert proc.wait(10) == 0
            idle_stop = time.monotonic() - t
        finally:
            reap(proc)
        assert idle_stop < 2.0, idle_stop

        # 2. busy daemon, short grace: the slow articles are abandoned, exit 0 within grace + a bound
        proc = start_daemon(cfg, "--grace", "0.5", log_path=log, hosts=PINS)
        try:
            wait_for(lambda: len(srv.requests_to("/article/s1")) + len(srv.requests_to("/article/s2")) >= 2, 15,
                     what="articles in flight")
            t = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
            busy_stop = time.monotonic() - t
            wait_for(lambda: not live_in_group(proc), 3, what="no worker process left behind")
        finally:
            reap(proc)
        text = log.read_text()
        assert busy_stop < 0.5 + 2.0, busy_stop
        assert "abandoning" in text and "stopped after" in text and "Traceback" not in text
        assert consistency_problems(db) == []
        assert n_articles(db) == 0

        # 3. restart with enough grace: the abandoned articles are listed again and stored, then a
        #    SIGTERM while articles are in flight lets them finish
        proc = start_daemon(cfg, "--grace", "8", log_path=log, hosts=PINS)
        try:
            wait_for(lambda: n_articles(db) >= 2, 20, what="first articles after restart")
            t = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0
            graceful_stop = time.monotonic() - t
        finally:
            reap(proc)
        assert n_articles(db) == 4  # in-flight work finished, not abandoned
        assert graceful_stop < 8 + 2.0
        assert consistency_problems(db) == []
        print(f"\nstop: idle {idle_stop:.2f}s, abandon (grace 0.5) {busy_stop:.2f}s, finish in-flight {graceful_stop:.2f}s")


def test_second_signal_exits_at_once_without_corrupting(tmp_path):
    with FaultServer.threaded(max_hang=8.0) as srv:
        feed = srv.url("/feed.xml?n=20&prefix=q", "a.test")
        slow = srv.url("/feed.xml?n=4&prefix=z&delay=6", "b.test")
        db, log = tmp_path / "q.db", tmp_path / "d.log"
        cfg = daemon_config(tmp_path / "c.yaml", db, [feed, slow], fetch={"timeout": 8.0})
        proc = start_daemon(cfg, "--grace", "30", log_path=log, hosts=PINS)
        try:
            wait_for(lambda: len(srv.requests_to("/article/z1")) >= 1, 15, what="slow articles in flight")
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            t = time.monotonic()
            proc.send_signal(signal.SIGINT)
            code = proc.wait(5)
            second = time.monotonic() - t
            wait_for(lambda: not live_in_group(proc), 3, what="no extraction worker left behind")
        finally:
            reap(proc)
        assert code == 130 and second < 1.0, (code, second)
        assert "second signal" in log.read_text()
        assert consistency_problems(db) == []
        print(f"\nsecond signal: exit {code} after {second:.2f}s")


def test_second_daemon_on_same_database_is_refused(tmp_path):
    with FaultServer.threaded() as srv:
        db, log = tmp_path / "l.db", tmp_path / "d.log"
        cfg = daemon_config(tmp_path / "c.yaml", db, [srv.url("/feed.xml?n=2", "a.test")])
        proc = start_daemon(cfg, log_path=log, hosts=PINS)
        try:
            wait_for(lambda log=log: started(log), 15, what="daemon start")
            for args in (["run"], ["run", "--once"]):
                r = subprocess.run([sys.executable, "-m", "ingest", *args, "--config", str(cfg)], capture_output=True,
                                   text=True, timeout=30, env=ingest_env(PINS))
                assert r.returncode == 1, r.stderr
                assert r.stderr.strip() == f"ingest: another ingest daemon (pid {proc.pid}) is running on {db}"
            assert proc.poll() is None
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
        finally:
            reap(proc)
        # the lock goes with the process: a new daemon starts (here a --once pass)
        r = subprocess.run([sys.executable, "-m", "ingest", "run", "--once", "--config", str(cfg)], capture_output=True,
                           text=True, timeout=60, env=ingest_env(PINS))
        assert r.returncode == 0, r.stderr


def test_backfill_beside_running_daemon(tmp_path):
    with FaultServer.threaded() as srv:
        db, log = tmp_path / "b.db", tmp_path / "d.log"
        feed = srv.url("/feed.xml?n=25&prefix=f", "a.test")
        cfg = daemon_config(tmp_path / "c.yaml", db, [feed], workers=1)
        urls = tmp_path / "urls.txt"
        backfill_urls = [srv.url(f"/article/k{i}") for i in range(25)]  # 127.0.0.1: backfill has no pins
        urls.write_text("\n".join(backfill_urls) + "\n")
        proc = start_daemon(cfg, log_path=log, hosts=PINS)
        try:
            wait_for(lambda: n_articles(db) >= 1, 15, what="daemon storing")
            r = subprocess.run([sys.executable, "-m", "ingest", "backfill", "--config", str(cfg), "--urls", str(urls)],
                               capture_output=True, text=True, timeout=60, env=ingest_env(PINS))
            assert r.returncode == 0, r.stderr
            wait_for(lambda: n_articles(db) == 50, 20, what="all 50 articles")
            assert proc.poll() is None
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
        finally:
            reap(proc)
        both = r.stderr + log.read_text()
        assert "database is locked" not in both and "Traceback" not in both
        assert "25 new articles" in r.stderr  # the backfill's summary line
        stored = {row[0] for row in query(db, "SELECT url FROM articles")}
        assert set(backfill_urls) <= stored and len(stored) == 50
        assert consistency_problems(db) == []


@pytest.mark.parametrize("command, sig", [("run", signal.SIGINT), ("backfill", signal.SIGTERM)])
def test_one_shot_commands_stop_on_a_signal_and_resume(tmp_path, command, sig):
    """`run --once` and `backfill`: a signal abandons in-flight work, keeps what is stored,
    exits 128 + signal with one line, leaves no worker; a second run completes the job."""
    with FaultServer.threaded() as srv:
        feed = srv.url("/feed.xml?n=20&prefix=g&delay=0.2", "a.test")
        db, log = tmp_path / "g.db", tmp_path / "g.log"
        cfg = daemon_config(tmp_path / "c.yaml", db, [feed], fetch={"per_host_delay": 0.0})
        urls = tmp_path / "urls.txt"
        urls.write_text("".join(srv.url(f"/article/g{i}?delay=0.2") + "\n" for i in range(20)))  # no host pins in backfill
        args = ["run", "--once"] if command == "run" else ["backfill", "--urls", str(urls)]
        proc = start_ingest(cfg, *args, log_path=log, hosts=PINS)
        try:
            wait_for(lambda: n_articles(db) >= 3, 30, what="a few articles stored")
            proc.send_signal(sig)
            assert proc.wait(15) == 128 + sig
            wait_for(lambda: not live_in_group(proc), 5, what="no worker left behind")
        finally:
            reap(proc)
        last = log.read_text().strip().splitlines()[-1]
        assert last == (f"ingest: interrupted by {sig.name}; everything stored so far is kept (run again to continue)")
        assert consistency_problems(db) == []
        stored = n_articles(db)
        assert 3 <= stored < 20
        proc = start_ingest(cfg, *args, log_path=log, hosts=PINS)
        try:
            assert proc.wait(60) == 0
        finally:
            reap(proc)
        assert n_articles(db) == 20 and consistency_problems(db) == []
        if command == "backfill":  # resumed: the URLs stored before the signal were not fetched again
            assert f"{stored} already done" in log.read_text()


def test_kill_9_leaves_no_worker_behind(tmp_path):
    """The extraction workers (and with them the forkserver and resource tracker) follow a
    killed daemon out, without a supervisor to kill the group."""
    with FaultServer.threaded() as srv:
        cfg = daemon_config(tmp_path / "c.yaml", tmp_path / "o.db", [srv.url("/feed.xml?n=5&prefix=o", "a.test")],
                            workers=2)
        log = tmp_path / "o.log"
        proc = start_daemon(cfg, log_path=log, hosts=PINS)
        try:
            wait_for(lambda: started(log), 15, what="daemon start")
            # 2 workers + the forkserver (+ the resource tracker); the workers start beside the first fetches
            wait_for(lambda: len([pid for pid in live_in_group(proc) if pid != proc.pid]) >= 3, 30,
                     what="the forkserver and both workers")
            helpers = [pid for pid in live_in_group(proc) if pid != proc.pid]
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(5) == -signal.SIGKILL
            t = time.monotonic()
            wait_for(lambda: not live_in_group(proc), 5, what="workers gone after kill -9")
            print(f"\nkill -9: {len(helpers)} helper processes gone {time.monotonic() - t:.2f} s after the daemon")
        finally:
            reap(proc)


def test_kill_9_at_random_moments_then_restart(tmp_path):
    rng = random.Random(int(os.environ.get("KILL_SEED", "7")))
    with FaultServer.threaded() as srv:
        feeds = [srv.url("/feed.xml?n=30&prefix=x&delay=0.1", "a.test"),
                 srv.url("/feed.xml?n=30&prefix=y&delay=0.1", "b.test"),
                 srv.url("/grow/w", "c.test")]
        db = tmp_path / "k.db"
        cfg = daemon_config(tmp_path / "c.yaml", db, feeds, workers=1, fetch={"per_host_delay": 0.05},
                            schedule={"max_interval": 3.0})
        progress = []
        for round_ in range(4):
            log = tmp_path / f"kill{round_}.log"
            proc = start_daemon(cfg, log_path=log, hosts=PINS)
            try:
                # any moment: during start-up and migrations (first round), or mid-ingest
                time.sleep(rng.uniform(0.3, 2.0) if round_ == 0 else 0.0)
                if round_:
                    wait_for(lambda log=log: started(log), 15, what="daemon start")
                    time.sleep(rng.uniform(0.1, 1.0))
                proc.send_signal(signal.SIGKILL)
                assert proc.wait(5) == -signal.SIGKILL
            finally:
                reap(proc)
            srv.bump("w")  # a feed that changes between runs
            assert consistency_problems(db) == [], f"after kill {round_}"
            progress.append(n_articles(db))
        # the schedule survived the kills
        assert all(at for (at,) in query(db, "SELECT next_poll_at FROM feeds WHERE polls > 0"))
        log = tmp_path / "final.log"
        proc = start_daemon(cfg, log_path=log, hosts=PINS)
        try:
            want = 60 + srv.versions["w"]
            wait_for(lambda: n_articles(db) == want, 30, what=f"all {want} articles after restart")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
        finally:
            reap(proc)
        assert consistency_problems(db) == []
        assert query(db, "SELECT count(*) FROM versions")[0][0] == want  # no duplicate versions from re-fetches
        print(f"\nkill -9 x4: articles after each kill {progress}, all {want} stored after restart")
