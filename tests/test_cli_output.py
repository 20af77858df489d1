"""What a person sees: the daemon's start, status and stop lines, JSON logs line by line,
`serve`'s URL, and one-line errors with their codes for a busy port and missing folders."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import ingest_cli, write_config

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[1]


def unreachable_url() -> str:
    """A feed URL on 127.0.0.1 where nothing listens (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/feed.xml"


def daemon(tmp_path: Path, world, *args: str) -> tuple[int, list[str]]:
    """`ingest run` on the world's feeds plus one dead feed, status every 0.5 s; stopped by
    SIGTERM once its second status line is out. Returns (exit code, stderr lines)."""
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "d.db", [*world.feed_urls, unreachable_url()])
    data = yaml.safe_load(cfg.read_text())
    data["schedule"] = {"status_every": 0.5}
    cfg.write_text(yaml.safe_dump(data))
    proc = subprocess.Popen([sys.executable, "-m", "ingest", "run", "--config", str(cfg), "--grace", "2", *args],
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)})
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if "first round" in line or '"first_round"' in line:
                deadline = min(deadline, time.monotonic() + 1.2)  # two more status lines, then stop
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=30)
        lines += rest.splitlines()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, lines


def test_daemon_lines_read_like_a_cli(tmp_path, world):
    code, lines = daemon(tmp_path, world)
    assert code == 0, lines
    start = lines[0]
    assert "ingest run: 4 feeds, topics trump-kim-summit, database " in start and "2 workers" in start
    assert len(start) < 300 and "{" not in start  # a line, not a dict
    first = next(line for line in lines if "first round" in line)
    assert "3 of 4 feeds reachable" in first and "failing:" in first
    status = [line for line in lines if "status:" in line]
    assert len(status) >= 2 and "polls" in status[-1] and "(1 failing feed)" in status[-1], status
    assert "new articles" in status[-1]
    stop = lines[-1]
    assert "stopped after" in stop and "new articles" in stop and "polls" in stop, stop
    assert "Traceback" not in "\n".join(lines)


def test_daemon_json_log_is_json_on_every_line(tmp_path, world):
    code, lines = daemon(tmp_path, world, "--log-format", "json")
    assert code == 0, lines
    events = [json.loads(line) for line in lines if line.strip()]  # any plain line fails here
    outcomes = [e.get("outcome") for e in events]
    assert outcomes[0] == "start" and outcomes[-1] == "stopped"
    assert {"first_round", "status"} <= set(outcomes)
    status = next(e for e in events if e.get("outcome") == "status")
    assert {"polls", "failing_feeds", "counts", "in_flight"} <= set(status)
    assert events[-1]["counts"]["new"] > 0


def test_run_once_json_summary_is_json(tmp_path, world):
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "o.db", world.feed_urls)
    r = ingest_cli("run", "--once", "--config", str(cfg), "--log-format", "json")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stderr.splitlines() if line.strip()]
    assert events[0]["outcome"] == "start" and events[0]["msg"].startswith("one pass: 3 feeds")
    assert events[-1]["msg"].startswith("done: ") and events[-1]["counts"]["new"] > 0


def test_serve_prints_its_url_and_a_busy_port_is_one_line(tmp_path, world):
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "s.db", world.feed_urls)
    assert ingest_cli("run", "--once", "--config", str(cfg)).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "ingest", "serve", "--config", str(cfg), "--port", "0"],
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        line = proc.stderr.readline()
        assert line.startswith("serving ") and "read-only at http://127.0.0.1:" in line, line
        url = line.split(" at ", 1)[1].split()[0]
        assert url.endswith("/s")
        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200
        port = url.split(":")[2].split("/")[0]
        busy = ingest_cli("serve", "--config", str(cfg), "--port", port)
        assert busy.returncode == 2, busy.stderr
        assert busy.stderr.strip() == f"ingest: cannot serve on 127.0.0.1:{port}: Address already in use"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_missing_folders_are_one_line_and_exit_2(tmp_path, world):
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "m.db", world.feed_urls)
    missing = tmp_path / "no" / "such"
    cases = {
        ("export", "-o", str(missing / "out.csv"), "--format", "csv"): "no folder",
        ("run", "--once", "--archive", "warc", str(missing / "warc")): "no folder",
        ("backfill", "--db", str(missing / "x.db"), world.url("harbour-times", "summit-0")): "no folder",
        ("stats", "--log-file", str(missing / "log.txt")): "cannot write the log file",
        ("backfill", "--urls", str(missing / "urls.txt")): "cannot read the URL file",
    }
    for args, words in cases.items():
        r = ingest_cli(*args, "--config", str(cfg))
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith(f"ingest: {words}") and r.stderr.count("\n") == 1, (args, r.stderr)
    assert not (tmp_path / "no").exists()  # nothing created on the way


def test_a_url_file_may_comment_after_the_url_and_a_dry_run_writes_nothing(tmp_path, world):
    """`URL  # why` in a --urls file is the URL; a `#` inside a URL stays its fragment. The dry
    run creates neither the database nor the archive folder."""
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "u.db", [])
    a, b = world.url("harbour-times", "summit-0"), world.url("harbour-times", "summit-1")
    urls = tmp_path / "urls.txt"
    urls.write_text(f"# the summit\n{a}  # the handshake\n\t{b}#top\t# with a fragment\n")
    r = ingest_cli("backfill", "--config", str(cfg), "--urls", str(urls), "--dry-run",
                   "--archive", "warc", str(tmp_path / "warc"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [a, f"{b}#top"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "urls.txt"]  # a dry run writes nothing
