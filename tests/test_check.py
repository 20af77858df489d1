"""`ingest check`: SQLite's full integrity check, read-only, exit 3 on damage (README exit codes)."""
from __future__ import annotations

import subprocess
import sys

import readdb


def check(db) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingest", "check", "--db", str(db)],
                          capture_output=True, text=True, timeout=60)


def test_check_passes_a_sound_database_and_refuses_a_damaged_one(tmp_path):
    db = tmp_path / "ingest.db"
    readdb.build(db)
    ok = check(db)
    assert ok.returncode == 0 and ok.stdout.strip().endswith(": ok") or "ok" in ok.stderr, ok

    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    # damage the b-tree pages past the schema page (the header and sqlite_schema stay readable)
    for at in range(2 * page + 16, len(data) - page, page):
        data[at:at + 64] = b"\xff" * 64
    db.write_bytes(bytes(data))
    bad = check(db)
    assert bad.returncode == 3, bad
    assert "damaged" in bad.stderr and "Traceback" not in bad.stderr
