"""Storage faults end a command with one line and the documented exit code (README "Exit codes").

Real `ingest` processes on real files: a read-only database file and a read-only folder (as an
unprivileged user: root writes anywhere), a database with a corrupt page (refused by the quick
check at start, before anything is written; `ingest check` names the damage), a full disk (a
600 KB tmpfs: skipped where this does not run as root or may not mount; a file-size limit,
RLIMIT_FSIZE, is no stand-in: it also stops the language model's unpacking in the forkserver),
and a backfill that stored nothing it was asked.
"""
from __future__ import annotations

import contextlib
import functools
import os
import shutil
import site
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from faultserver import FaultServer

pytestmark = pytest.mark.timeout(120)
ROOT = os.geteuid() == 0
UNPRIVILEGED = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if ROOT else []


@pytest.fixture(scope="module")
def server():
    with FaultServer.threaded() as srv:
        yield srv


@pytest.fixture
def world(tmp_path):
    """A folder every user may enter (pytest's tmp_path is root's alone when run as root)."""
    d = Path(tempfile.mkdtemp(prefix="ingest-storage-"))
    os.chmod(d, 0o777)
    yield d
    with contextlib.suppress(OSError):
        subprocess.run(["umount", str(d / "disk")], capture_output=True)
    os.chmod(d, 0o777)
    shutil.rmtree(d, ignore_errors=True)


def config(folder: Path, db: Path, feeds=()) -> Path:
    path = folder.parent / f"{db.stem}.yaml" if folder.name == "disk" else folder / f"{db.stem}.yaml"
    path.write_text(yaml.safe_dump({"database": str(db), "feeds": list(feeds), "workers": 1,
                                    "fetch": {"allow_private_addresses": True, "per_host_delay": 0.0, "retries": 0}}))
    path.chmod(0o644)
    return path


REPO = Path(__file__).resolve().parents[1]


@functools.cache
def python_as(user: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """An interpreter `user` can start, and start again from inside (the forkserver and the resource
    tracker re-execute sys.executable), with the environment it needs. The venv's own interpreter
    may be a link into root's home (pyenv), which the unprivileged user cannot execute: then the
    system's Python of the same version runs with the venv's packages and this checkout on its path."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    probe = "import subprocess, sys; subprocess.run([sys.executable, '-c', ''], check=True)"
    if not user or subprocess.run([*user, sys.executable, "-c", probe], capture_output=True).returncode == 0:
        return sys.executable, env
    system = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *site.getsitepackages()])
    if Path(system).exists() and subprocess.run([*user, system, "-c", probe], capture_output=True,
                                                env=env).returncode == 0:
        return system, env
    pytest.skip(f"no Python interpreter the user {user} can run here")


def ingest(*args: str, user: list[str] | None = None) -> subprocess.CompletedProcess:
    python, env = python_as(tuple(user or ()))
    return subprocess.run([*(user or []), python, "-m", "ingest", *args], capture_output=True, text=True,
                          timeout=90, env=env)


def one_line_error(r: subprocess.CompletedProcess, code: int, *words: str) -> str:
    """The command's last line is its `ingest: ...` error, no traceback anywhere; that line."""
    assert r.returncode == code, (r.returncode, r.stderr[-3000:])
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ingest: ") and all(w in last for w in words), last
    return last


def make_db(folder: Path, server, name: str = "a.db", n: int = 3) -> tuple[Path, Path]:
    db = folder / name
    cfg = config(folder, db)
    r = ingest("backfill", "--config", str(cfg), *[server.url(f"/article/{name}-{i}") for i in range(n)])
    assert r.returncode == 0, r.stderr[-2000:]
    return db, cfg


def give_away(folder: Path) -> None:
    if ROOT:
        for p in [folder, *folder.rglob("*")]:
            os.chown(p, 65534, 65534)


def test_a_read_only_database_file_or_folder_is_one_line_and_exit_3(world, server):
    db, cfg = make_db(world, server)
    give_away(world)
    before = db.read_bytes()
    db.chmod(0o444)
    feed_cfg = config(world, db, [server.url("/feed.xml")])
    for args in (["backfill", "--config", str(cfg), server.url("/article/x")],
                 ["run", "--once", "--config", str(feed_cfg)], ["run", "--config", str(feed_cfg)]):
        r = ingest(*args, user=UNPRIVILEGED)
        assert one_line_error(r, 3, "read-only") == f"ingest: cannot write to {db}: the file is read-only"
        assert len(r.stderr.strip().splitlines()) == 1
    db.chmod(0o644)
    world.chmod(0o555)
    r = ingest("backfill", "--config", str(cfg), server.url("/article/x"), user=UNPRIVILEGED)
    assert one_line_error(r, 3, "its folder is read-only") and len(r.stderr.strip().splitlines()) == 1
    assert db.read_bytes() == before  # nothing written


def test_a_corrupt_database_is_refused_at_start_and_named_by_check(world, server):
    db, cfg = make_db(world, server, n=6)
    with sqlite3.connect(db) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'articles'").fetchone()[0]
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    with open(db, "r+b") as f:  # one page: its b-tree header zeroed
        f.seek((root - 1) * page)
        f.write(b"\0" * 12)
    before = db.read_bytes()
    for args in (["backfill", "--config", str(cfg), server.url("/article/y")],
                 ["run", "--once", "--config", str(config(world, db, [server.url("/feed.xml")]))]):
        r = ingest(*args)
        one_line_error(r, 3, "corrupt", str(db))
        assert db.read_bytes() == before  # refused before anything was written
    r = ingest("check", "--db", str(db))
    one_line_error(r, 3, "damaged")


@contextlib.contextmanager
def small_disk(world: Path):
    """A folder on a 600 KB tmpfs."""
    disk = world / "disk"
    disk.mkdir()
    if not ROOT or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(disk)],
                                  capture_output=True).returncode != 0:
        pytest.skip("needs root and a permitted tmpfs mount for a small disk")
    try:
        yield disk
    finally:
        for _ in range(50):  # the commands' extraction workers may take a moment to go
            if subprocess.run(["umount", str(disk)], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            subprocess.run(["umount", "--lazy", str(disk)], check=True)


def test_a_full_disk_is_one_line_and_exit_3_and_the_database_stays_whole(world, server):
    with small_disk(world) as disk:
        db, cfg = make_db(disk, server, n=1)
        st = os.statvfs(disk)  # leave ~36 KB: a few articles' pages
        (disk / "filler").write_bytes(b"x" * (st.f_bavail * st.f_frsize - 40_000))
        urls = [server.url(f"/article/full-{i}") for i in range(60)]
        r = ingest("backfill", "--config", str(cfg), *urls)
        last = one_line_error(r, 3, str(db))
        assert last.endswith(("the disk is full", "a disk I/O error")), last
        with contextlib.closing(sqlite3.connect(db)) as conn:
            stored_before = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
        r = ingest("run", "--config", str(config(disk, db, [server.url("/feed.xml?n=30&prefix=d")])))
        one_line_error(r, 3, str(db))
        fresh = disk / "new.db"  # no room to create a database at all
        st = os.statvfs(disk)
        (disk / "filler2").write_bytes(b"x" * (st.f_bavail * st.f_frsize))
        r = ingest("backfill", "--config", str(config(disk, fresh)), urls[0])
        one_line_error(r, 3, str(fresh))
        (disk / "filler").unlink()
        (disk / "filler2").unlink()
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] >= stored_before >= 1
        conn.close()


def test_a_backfill_that_stored_nothing_it_was_asked_exits_1(world, server):
    db = world / "n.db"
    r = ingest("backfill", "--config", str(config(world, db)), server.url("/status/404"), server.url("/reset"))
    assert one_line_error(r, 1, "nothing was read or stored") == \
        "ingest: nothing was read or stored (http 1, connection 1)"
