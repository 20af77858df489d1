"""`ingest serve`: what one SQL query may allocate is bounded, and a non-loopback host is warned about.

Before: Datasette limited a query's time but not its memory; one `SELECT zeroblob(1e9)` took
1.1 GB, and `--host 0.0.0.0` started without a word. The server runs in a subprocess (the real
command); its peak memory is read from /proc.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import readdb

from ingest.read.serve import GENERATED_BYTES, _printf_too_wide, is_loopback

ROOT = Path(__file__).resolve().parent.parent
MB = 2**20


class Served:
    def __init__(self, proc: subprocess.Popen, port: int, log: Path):
        self.proc, self.port, self.log = proc, port, log

    def query(self, sql: str, timeout: float = 60) -> tuple[int, object, float]:
        """(HTTP status, JSON body, seconds) of one SQL query."""
        url = f"http://127.0.0.1:{self.port}/ingest.json?" + urllib.parse.urlencode({"sql": sql, "_shape": "array"})
        started = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.status, json.loads(r.read()), time.monotonic() - started
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null"), time.monotonic() - started

    def peak_rss(self) -> int:
        """The server's peak resident memory so far (VmHWM), bytes."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


@contextlib.contextmanager
def serve(db: Path, *args: str, host: str = "127.0.0.1") -> Iterator[Served]:
    """`ingest serve` on a free port, bounded in time; stderr to a file."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = db.parent / f"serve-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", "from ingest.cli.read import serve_cmd; serve_cmd()",
                                 "--db", str(db), "--host", host, "--port", str(port), *args],
                                cwd=db.parent, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"serve exited {proc.returncode}: {log.read_text()[-2000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/versions.json", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "serve did not start in time"
                time.sleep(0.1)
        yield Served(proc, port, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    return readdb.build(tmp_path_factory.mktemp("serve-limits") / "ingest.db").path


@pytest.fixture(scope="module")
def server(db) -> Iterator[Served]:
    with serve(db) as s:
        yield s


def too_big(status: int, body: object) -> bool:
    return status == 400 and isinstance(body, dict) and "too big" in str(body.get("error"))


@pytest.mark.parametrize("sql", ["SELECT zeroblob(1000000000)", "SELECT length(zeroblob(1000000000))",
                                 "SELECT randomblob(1000000000)", "SELECT hex(randomblob(2000000000))",
                                 f"SELECT zeroblob({GENERATED_BYTES + 1})", "SELECT zeroblob('1e9')"])
def test_zeroblob_and_randomblob_fail_fast_without_allocating(server, sql):
    before = server.peak_rss()
    status, body, seconds = server.query(sql)
    assert too_big(status, body), (status, body)
    assert body["error"] == "string or blob too big"
    assert seconds < 2.0
    assert server.peak_rss() - before < 20 * MB


def test_small_generated_values_and_printf_still_work(server):
    status, body, _ = server.query("SELECT length(zeroblob(1000)) AS z, length(randomblob(16)) AS r, "
                                   "printf('%d items, %.2f%%, %5s|%-3s|', 3, 1.5, 'a', 'b') AS p, "
                                   "format('%.*c', 3, 'x') AS f, printf('%q', 'it''s') AS q, printf(NULL) AS n")
    assert status == 200, body
    assert body == [{"z": 1000, "r": 16, "p": "3 items, 1.50%,     a|b  |", "f": "xxx", "q": "it''s", "n": None}]


@pytest.mark.parametrize("sql", [
    "SELECT printf('%.*c', 1000000000, 'x')",  # SQLite counted to the precision: 8 s past the time limit
    "SELECT length(format('%.*c', 2000000000, 'x'))",
    "SELECT printf('%1000000000d', 1)",
    "SELECT printf('%*s', 999999999999, 'x')",
    "SELECT length(replace(hex(zeroblob(500000)), '0', hex(zeroblob(500000))))",
    ("WITH RECURSIVE r(s, n) AS (SELECT 'x', 0 UNION ALL SELECT s || s, n + 1 FROM r WHERE n < 40) "
     "SELECT max(length(s)) FROM r"),
    ("SELECT length(group_concat(hex(zeroblob(1000000)))) FROM (WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL "
     "SELECT n + 1 FROM c LIMIT 100) SELECT n FROM c)"),
])
def test_growing_values_stop_at_the_value_limit(server, sql):
    before = server.peak_rss()
    status, body, seconds = server.query(sql)
    assert too_big(status, body), (status, body)
    assert seconds < 5.0
    assert server.peak_rss() - before < 200 * MB


def test_sql_text_and_result_width_are_bounded(server):
    status, body, _ = server.query("SELECT 1 " + " " * 100_001)
    assert status == 400 and body["error"] == "query string is too large", body
    status, body, _ = server.query("SELECT " + ", ".join(f"{i} AS c{i}" for i in range(101)))
    assert status == 400 and "too many columns" in str(body["error"]), body
    status, body, _ = server.query("SELECT * FROM latest LIMIT 1")  # the widest view fits
    assert status == 200 and len(body[0]) == 31


def test_a_query_over_the_memory_cap_fails_and_the_server_carries_on(db):
    """A 30 MB value copied into 1,000 rows (30 GB for Python): with --max-memory 256 the query
    fails with a clear error, the server's memory stays near the cap, and the next query works."""
    sql = ("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c LIMIT 1000) "
           "SELECT (SELECT printf('%.*c', 30000000, 'x')) AS v FROM c")
    with serve(db, "--max-memory", "256") as s:
        start = s.peak_rss()
        status, body, _ = s.query(sql, timeout=120)
        assert status in (400, 500), (status, str(body)[:300])
        assert "memory" in str(body["error"]) or "too big" in str(body["error"]) or "interrupted" in str(body["error"])
        assert s.peak_rss() < start + 256 * MB + 120 * MB, (start, s.peak_rss())
        status, body, _ = s.query("SELECT count(*) AS n FROM articles")
        assert status == 200 and body == [{"n": 8}]


def test_non_loopback_host_is_warned_about(db):
    with serve(db, host="0.0.0.0") as s:
        status, _, _ = s.query("SELECT 1")
        assert status == 200
        lines = s.log.read_text().splitlines()
    assert any(line.startswith("ingest: warning: serving on 0.0.0.0, not a loopback address") for line in lines), lines
    with serve(db, host="127.0.0.1") as s:
        s.query("SELECT 1")
        assert "warning" not in s.log.read_text()


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.0.0.5", True), ("::1", True),
                                            ("[::1]", True), ("localhost", True), ("0.0.0.0", False), ("::", False),
                                            ("192.168.1.10", False), ("no-such-host.invalid", False)])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("fmt, args, wide", [
    ("%.*c", (10**9, "x"), True), ("%.*c", (5, "x"), False), ("%d %s", (10**12, "x"), False),
    ("%1000000000d", (1,), True), ("%-+ 0#,!20.5f", (1.5,), False), ("%*.*s", (3, 10**9, "x"), True),
    ("%%%.*c", (10**9, "x"), True), ("%lld", (10**15,), False), ("%.99999999999999999999s", ("x",), True),
    ("no spec at all", (), False), ("%", (), False), ("%*", ("not a number",), False),
])
def test_printf_width_check(fmt, args, wide):
    assert _printf_too_wide(fmt, args, 32 * MB) is wide
