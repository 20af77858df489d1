"""`ingest demo`: a story a newcomer can follow, offline, whose closing commands run as printed."""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from conftest import ingest_cli, parse_cli

from ingest.demo.newsroom import FAIR, OUTLETS, WIRE

pytestmark = pytest.mark.timeout(180)


def commands(stdout: str) -> list[list[str]]:
    """The `ingest ...` lines the demo prints at the end, comments cut off."""
    return [shlex.split(line.split("    #", 1)[0]) for line in stdout.splitlines() if line.startswith("  ingest ")]


@pytest.fixture(scope="module")
def kept(tmp_path_factory) -> tuple[Path, str]:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    r = ingest_cli("demo", "--db", str(db))
    assert r.returncode == 0, r.stderr
    return db, r.stdout


def test_the_story(kept):
    db, printed = kept
    out = " ".join(printed.split())  # the verdicts are wrapped to the terminal: phrases may span lines
    for name in OUTLETS.values():  # outlets by name, not 127.0.0.1:PORT
        assert name in out
    assert "127.0.0.1:" not in out
    assert f'COPY (syndicated) of Pacific Wire\'s "{WIRE.title}"' in out  # the wire copy under its own lede
    assert f'COPY (exact) of Pacific Wire\'s "{WIRE.title}"' in out  # republished word for word
    assert "GARBLED" in out and "mojibake" in out and "the headline 3 times" in out
    assert f'Harbour Times: "{FAIR.title}"' in out and "NOT KEPT: off topic" in out  # the off-topic story, named
    assert "an original: neither a copy nor garbled" in out
    assert "is now version 2 of 2" in out
    assert "5-word runs shared" in out  # each verdict with its evidence in one line


def test_the_closing_commands_run_as_printed(kept):
    db, out = kept
    lines = commands(out)
    assert [line[1] for line in lines] == ["stats", "explain", "explain", "history", "serve"], lines
    outputs = {}
    for line in lines:
        assert line[0] == "ingest" and str(db) in line
        if line[1] == "serve":
            parse_cli(line[1:])  # it would run until stopped; its options must exist
            continue
        r = ingest_cli(*line[1:])
        assert r.returncode == 0, (line, r.stderr)
        outputs.setdefault(line[1], []).append(r.stdout)
    stats = outputs["stats"][0]  # whole in the message: CI once saw this fail with the line cut off
    flags = dict(f.rsplit(" ", 1) for f in next(line for line in stats.splitlines()
                                               if line.startswith("flags: "))[7:].split(", "))
    assert int(flags.get("duplicate:syndicated", 0)) >= 1 and "garbled" in flags, stats
    assert "DUPLICATE  syndicated copy of" in outputs["explain"][0]
    assert "GARBLED" in outputs["explain"][1]
    assert "(updated)" in outputs["history"][0]


def test_a_temporary_demo_says_how_to_keep_it_and_keep_keeps_it(tmp_path):
    r = ingest_cli("demo", "-v", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "INFO" in r.stderr  # -v: the log of the two passes too
    assert commands(r.stdout) == [["ingest", "demo", "--db", "demo.db"]]
    parse_cli(["demo", "--db", "demo.db"])
    r = ingest_cli("demo", "--keep", "-q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    stats = next(line for line in commands(r.stdout) if line[1] == "stats")
    db = Path(stats[stats.index("--db") + 1])
    try:
        assert db.is_file()  # still there after the command ended
        assert ingest_cli(*stats[1:]).returncode == 0
    finally:
        for f in db.parent.iterdir():
            f.unlink()
        db.parent.rmdir()
