"""Ctrl-C pressed in a real terminal, at any moment: one line, exit 130, nothing half-written.

A Ctrl-C typed in a terminal is not a signal to one pid: the terminal sends SIGINT to the
whole foreground process group, which includes the forkserver and the extraction workers.
So these tests start the CLI as a session leader on a pseudo-terminal (its controlling
terminal) and write ^C to the terminal's master side, as a keyboard would; the line
discipline does the rest. They press it at several moments: while the command's modules
load, while the forkserver imports trafilatura, while articles are in flight.
"""
from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import readdb
from faultserver import FaultServer, daemon_config, ingest_env, live_processes, query

from ingest.store.sqlite.connection import open_writer

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[1]
PINS = {"a.test": "127.0.0.1"}
ONE_LINE = "ingest: interrupted by SIGINT; everything stored so far is kept (run again to continue)"
Moment = Callable[[float, str, int], bool]  # (seconds since start, terminal output, pid of the command)


def loading(library: str) -> Moment:
    """Once the command has loaded a C extension that its modules import, not Python's own start-up."""
    def moment(elapsed: float, out: str, pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/maps") as f:
                return library in f.read()
        except OSError:
            return False
    return moment


def helpers_started(n: int) -> Moment:
    """Once the session holds `n` processes besides the command (forkserver, workers...)."""
    return lambda elapsed, out, pid: len(session(pid)) > n + 1


def printed(text: str) -> Moment:
    return lambda elapsed, out, pid: text in out


def session(sid: int) -> list[int]:
    """Live processes of session `sid` (the command and everything it started)."""
    return live_processes(session=sid)


def press_ctrl_c(args: list[str], moment: Moment, *, env: dict[str, str] | None = None, cwd: Path | None = None,
                 timeout: float = 60) -> tuple[int, str]:
    """Run `ingest ARGS` on its own terminal, type ^C at `moment`; return (exit code, terminal output).

    Also checks that ^C was typed before the command ended and that no process of its session
    (forkserver, workers, resource tracker) outlives it by more than a few seconds.
    """
    master, slave = pty.openpty()

    def controlling_terminal() -> None:  # runs in the child after setsid(): the pty becomes its terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([sys.executable, "-m", "ingest", *args], stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True, preexec_fn=controlling_terminal, cwd=cwd,
                            env={**(env or os.environ), "COLUMNS": "120", "PYTHONPATH": str(ROOT)})
    os.close(slave)
    raw, start, pressed = b"", time.monotonic(), False
    try:
        while time.monotonic() - start < timeout:
            if not pressed and moment(time.monotonic() - start, raw.decode("utf-8", "replace"), proc.pid):
                assert proc.poll() is None, "the command ended before ^C could be typed"
                os.write(master, b"\x03")
                pressed = True
            ready, _, _ = select.select([master], [], [], 0.01)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every process holding the terminal has gone
                    break
                if not chunk:
                    break
                raw += chunk
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=30)
        deadline = time.monotonic() + 5
        while session(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert session(proc.pid) == [], "a process of the command outlived it"
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert pressed, "the moment to type ^C never came"
    return code, raw.decode("utf-8", "replace")


def lines(terminal: str) -> list[str]:
    """What the terminal shows, line by line: echoed ^C, progress redraws and colour codes removed."""
    out = []
    for line in terminal.replace("^C", "").split("\r\n"):
        line = line.split("\r")[-1]  # a progress line redrawn in place: its last state
        for code in ("\x1b[?25l", "\x1b[?25h", "\x1b[1A", "\x1b[2K"):
            line = line.replace(code, "")
        if line.strip():
            out.append(line.strip())
    return out


def assert_one_line_130(code: int, terminal: str) -> None:
    assert code == 130, terminal
    assert "Traceback" not in terminal and "KeyboardInterrupt" not in terminal and "Aborted" not in terminal, terminal
    shown = lines(terminal)
    assert shown[-1] == ONE_LINE, shown
    assert sum("interrupted" in line for line in shown) == 1, shown


@pytest.fixture(scope="module")
def slow_site():
    """Twenty articles that take 0.3 s each to answer: a command on them is busy for seconds."""
    with FaultServer.threaded(max_hang=5.0) as srv:
        yield srv


MOMENTS = {
    "while its modules load": loading("_sqlite3"),
    "while the forkserver starts": helpers_started(1),
    "while articles are in flight": printed("backfill"),  # the progress line: fetching has begun
}


@pytest.mark.parametrize("moment", MOMENTS)
def test_backfill(slow_site, tmp_path, moment):
    db = tmp_path / "b.db"
    cfg = daemon_config(tmp_path / "c.yaml", db, [], workers=2)
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(slow_site.url(f"/article/b{i}?delay=0.3") + "\n" for i in range(20)))
    code, terminal = press_ctrl_c(["backfill", "--config", str(cfg), "--urls", str(urls)], MOMENTS[moment])
    assert_one_line_130(code, terminal)
    if db.exists():
        assert query(db, "PRAGMA integrity_check") == [("ok",)]
        assert query(db, "SELECT count(*) FROM articles")[0][0] < 20


@pytest.mark.parametrize("moment", ["while its modules load", "while the forkserver starts", "after its start line"])
def test_run_once(slow_site, tmp_path, moment):
    feed = slow_site.url("/feed.xml?n=20&prefix=o&delay=0.3", "a.test")
    cfg = daemon_config(tmp_path / "c.yaml", tmp_path / "o.db", [feed], workers=2)
    when = printed("one pass:") if moment == "after its start line" else MOMENTS[moment]
    code, terminal = press_ctrl_c(["run", "--once", "--config", str(cfg)], when, env=ingest_env(PINS))
    assert_one_line_130(code, terminal)


def test_daemon_before_it_runs_is_interrupted_and_after_it_stops_with_its_summary(slow_site, tmp_path):
    """`ingest run`: ^C before the daemon runs ends the command (130); once it runs, ^C is how
    a daemon is stopped: in-flight work gets its grace, then the stop summary, exit 0."""
    feed = slow_site.url("/feed.xml?n=20&prefix=d&delay=0.3", "a.test")
    cfg = daemon_config(tmp_path / "c.yaml", tmp_path / "d.db", [feed], workers=2)
    code, terminal = press_ctrl_c(["run", "--config", str(cfg)], helpers_started(1), env=ingest_env(PINS))
    assert_one_line_130(code, terminal)

    code, terminal = press_ctrl_c(["run", "--config", str(cfg), "--grace", "1"], printed("scheduled"),
                                  env=ingest_env(PINS))
    assert code == 0, terminal
    assert "Traceback" not in terminal and "KeyboardInterrupt" not in terminal, terminal
    shown = lines(terminal)
    assert "stopping" in shown[-2] or any("stopping" in line for line in shown), shown
    assert "stopped after" in shown[-1], shown


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.db"
    readdb.build(path)
    db = open_writer(path)
    readdb.add_synthetic(db.conn, 20_000, words=250)
    db.conn.close()
    return path


def test_export(big, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    target = out / "all.csv"
    code, terminal = press_ctrl_c(["export", "--db", str(big), "--format", "csv", "-o", str(target)],
                                  lambda elapsed, text, pid: bool(list(out.glob(".*.part"))))
    assert code == 130, terminal
    assert "Traceback" not in terminal and "KeyboardInterrupt" not in terminal, terminal
    assert lines(terminal)[-1] == f"ingest: export interrupted by SIGINT; {target} not written"
    assert list(out.iterdir()) == []  # neither the temporary file nor a half-written export


def test_reextract_and_demo(slow_site, tmp_path):
    """The other commands that start workers: ^C while their forkserver starts."""
    db = tmp_path / "r.db"
    cfg = daemon_config(tmp_path / "c.yaml", db, [], workers=2)
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(slow_site.url(f"/article/r{i}") + "\n" for i in range(5)))
    backfill = subprocess.run([sys.executable, "-m", "ingest", "backfill", "--config", str(cfg), "--urls", str(urls)],
                              capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert backfill.returncode == 0, backfill.stderr
    code, terminal = press_ctrl_c(["reextract", "--config", str(cfg)], helpers_started(1))
    assert_one_line_130(code, terminal)
    code, terminal = press_ctrl_c(["demo"], printed("Database:"), cwd=tmp_path)
    assert_one_line_130(code, terminal)
