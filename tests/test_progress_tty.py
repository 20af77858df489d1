"""Progress lines for long commands: drawn on a terminal (a real pty), absent in pipes and logs."""
from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

from conftest import ingest_cli, write_config


def on_a_terminal(*args: str, timeout: float = 120) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal; return (exit code, what the terminal got)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "ingest", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=slave, env=dict(os.environ, COLUMNS="160"))
    os.close(slave)
    out, deadline = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed its end
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=max(1.0, deadline - time.monotonic())), out.decode("utf-8", "replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def test_backfill_export_and_reextract_show_progress_on_a_terminal_only(world, tmp_path):
    db = tmp_path / "news.db"
    cfg = str(write_config(tmp_path / "c.yaml", db, [], topics=[]))
    urls = [world.url("harbour-times", f"summit-{i}") for i in range(3)]
    code, tty = on_a_terminal("backfill", "--config", cfg, *urls)
    assert code == 0, tty
    assert "backfill" in tty and "3/3" in tty and "ETA" in tty

    code, tty = on_a_terminal("export", "--config", cfg, "--output", str(tmp_path / "out.jsonl"))
    assert code == 0, tty
    assert "export" in tty and "articles" in tty and "3/3" in tty
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 3

    code, tty = on_a_terminal("reextract", "--config", cfg)
    assert code == 0, tty
    assert "re-extracting" in tty and "3/3" in tty

    # the same commands in a pipe (logs, cron, CI): no progress line at all
    for args in (("backfill", "--config", cfg, *urls), ("export", "--config", cfg, "--output", str(tmp_path / "o2.jsonl")),
                 ("reextract", "--config", cfg)):
        r = ingest_cli(*args)
        assert r.returncode == 0, r.stderr
        assert "ETA" not in r.stderr and "\x1b[" not in r.stderr
