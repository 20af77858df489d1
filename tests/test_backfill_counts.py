"""What WARC backfills read of each file is kept in the database (`backfill_files`): `ingest stats`
shows the records scanned and the pages prefiltered (never stored) and kept, each record counted
once however often, and by however many processes, the file is read."""
from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from array import array
from dataclasses import replace
from pathlib import Path

import pytest
import readdb
from conftest import ingest_cli, write_config
from faultserver import count_rows, query
from test_postgres import pg_rows
from test_warc_remote import pages, write_warc
from warcserver import WarcServer, interrupt_backfill

from ingest.config import load_config
from ingest.records import SCAN_KEPT, SCAN_PREFILTERED, SCAN_SKIPPED, Scanned
from ingest.sources.warc import Ledger, WarcStats, warc_items
from ingest.store import open_store

pytestmark = pytest.mark.timeout(180)


def stats_json(cfg: Path, *db: str) -> dict:
    r = ingest_cli("stats", "--json", "--config", str(cfg), *(("--db", *db) if db else ()))
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def summary(stderr: str) -> tuple[int, int]:
    """(records, prefiltered) of a backfill's `warc:` line."""
    m = re.search(r"warc: (\d+) records, \d+ HTML pages(?: \((\d+) off topic by the prefilter\))?", stderr)
    assert m, stderr
    return int(m.group(1)), int(m.group(2) or 0)


def test_stats_shows_what_the_backfill_prefiltered_and_a_rerun_does_not_double_it(tmp_path):
    path = write_warc(tmp_path / "crawl.warc.gz", pages("wire", 6, 30))  # warcinfo + 36 pages
    db = tmp_path / "news.db"
    cfg = write_config(tmp_path / "c.yaml", db, [])
    r = ingest_cli("backfill", "--config", str(cfg), "--warc", str(path))
    assert r.returncode == 0, r.stderr
    assert "30 off topic (prefilter)" in r.stderr and summary(r.stderr) == (37, 30)
    text = ingest_cli("stats", "--config", str(cfg)).stdout
    assert "warc backfills: 1 file (1 read to the end), records scanned 37, prefiltered 30, kept 6" in text, text
    s = stats_json(cfg)
    assert s["warc"] == {"files": 1, "ended": 1, "records": 37, "prefiltered": 30, "kept": 6}
    (f,) = s["warc_files"]
    assert f["location"] == str(path) and f["ended"] and f["records"] == 37 and f["file"].endswith(
        f"-{path.stat().st_size}")

    # the same file again, under another name: read again, counted once
    moved = path.rename(tmp_path / "again.warc.gz")
    r = ingest_cli("backfill", "--config", str(cfg), "--warc", str(moved))
    assert r.returncode == 0 and "6 already done" in r.stderr and summary(r.stderr) == (37, 30), r.stderr
    s = stats_json(cfg)
    assert s["warc"] == {"files": 1, "ended": 1, "records": 37, "prefiltered": 30, "kept": 6}
    assert s["warc_files"][0]["location"] == str(moved)


def test_an_interrupted_http_backfill_resumed_counts_each_record_once(tmp_path):
    www = tmp_path / "www"
    items = pages("wire", 30, 30)
    path = write_warc(www / "crawl.warc.gz", items, padding=20_000)
    db = tmp_path / "news.db"
    cfg = write_config(tmp_path / "c.yaml", db, [])
    with WarcServer.threaded(www) as srv:
        slow = srv.url("crawl.warc.gz", rate=max(20_000, path.stat().st_size // 8))  # ~8 s for the file
        interrupt_backfill(cfg, slow, lambda: count_rows(db) >= 5 and count_rows(db, "backfill_files") >= 1)
        ((records, prefiltered, ended),) = query(db, "SELECT records, prefiltered, ended FROM backfill_files")
        assert 0 < records < 61 and not ended  # counted part of the way
        r = ingest_cli("backfill", "--config", str(cfg), "--warc", srv.url("crawl.warc.gz"))  # same file, other URL
    assert r.returncode == 0, r.stderr
    assert summary(r.stderr) == (61, 30)  # the rerun read every record again...
    assert stats_json(cfg)["warc"] == {"files": 1, "ended": 1, "records": 61, "prefiltered": 30, "kept": 30}  # once


@pytest.mark.parametrize("engine", ["fastwarc", "warcio"])
def test_the_ledger_sees_every_record_the_stats_count(tmp_path, engine):
    """A damaged record too: the ledger's records are WarcStats.records, in increasing offsets."""
    from test_sources_warc import offsets, write_sample

    path = write_sample(tmp_path / "c.warc.gz")
    recs = offsets(path)
    data = bytearray(path.read_bytes())
    mid = (recs[3][0] + recs[4][0]) // 2
    data[mid:mid + 40] = b"\xff" * 40  # smash story/2's deflate stream
    path.write_bytes(bytes(data))
    stats, ledger = WarcStats(), Ledger(str(path))
    kept = sum(item is not None for item in warc_items(path, stats=stats, ledger=ledger, engine=engine,
                                                       heartbeat=float("inf")))
    part = ledger.take()
    assert part is not None and part.ended and stats.bad >= 1 and kept == 4
    assert len(part.offsets) == stats.records and list(part.offsets) == sorted(set(part.offsets))
    assert part.kinds.count(SCAN_KEPT) == kept and part.kinds.count(SCAN_SKIPPED) == sum(stats.skipped.values())
    assert set(part.offsets) <= {o for o, _, _ in recs}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_parts_read_twice_or_by_two_processes_count_each_record_once(tmp_path, request, backend):
    """The store's side alone: parts of one file, as two runs reading it at once would hand them on."""
    db = str(tmp_path / "x.db") if backend == "sqlite" else request.getfixturevalue("pg_url")
    cfg = load_config(write_config(tmp_path / "c.yaml", tmp_path / "x.db", []))
    cfg = replace(cfg, database=db)

    def part(lo: int, hi: int, ended: bool = False) -> Scanned:
        offs = array("q", range(lo * 100, hi * 100, 100))  # record n at offset 100 n; every third prefiltered
        return Scanned("f-1", "a.warc.gz", offs, bytes(SCAN_PREFILTERED if o % 300 == 0 else SCAN_KEPT for o in offs),
                       ended)

    async def go() -> list[tuple]:
        async with open_store(cfg) as store:
            for p in (part(0, 10), part(0, 15), part(10, 20), part(15, 30, ended=True), part(0, 30)):
                await store.backfill.scanned(p)
        return rows(db, "SELECT last_offset, records, prefiltered, kept, ended FROM backfill_files")

    assert asyncio.run(go()) == [(2900, 30, 10, 20, 1)]


def rows(db: str, sql: str) -> list[tuple]:
    return pg_rows(db, sql) if db.startswith("postgresql://") else query(db, sql)


def test_postgres_two_writers_reading_one_file_at_once_count_it_once_and_db_copy_carries_it(tmp_path, pg_server):
    url = pg_server.database()
    few = pages("wire", 20, 20)
    items = few + [(f"https://wire.example/more/{i}", few[2 * (i % 20) + 1][1]) for i in range(2500)]  # off topic
    path = write_warc(tmp_path / "crawl.warc.gz", items)
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "unused.db", [])
    procs = [subprocess.Popen([sys.executable, "-m", "ingest", "backfill", "--config", str(cfg), "--db", url,
                               "--warc", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=150)
        assert p.returncode == 0, err
        assert summary(err) == (2541, 2520)  # each read the whole file
    want = {"files": 1, "ended": 1, "records": 2541, "prefiltered": 2520, "kept": 20}
    s = stats_json(cfg, url)
    assert s["warc"] == want and s["articles"] == 20
    text = ingest_cli("stats", "--config", str(cfg), "--db", url).stdout
    assert "records scanned 2541, prefiltered 2520, kept 20" in text, text

    # db copy carries the counts both ways
    back, again = tmp_path / "back.db", pg_server.database()
    for src, dst in ((url, str(back)), (str(back), again)):
        r = ingest_cli("db", "copy", src, dst, "--config", str(cfg))
        assert r.returncode == 0, r.stderr
        assert stats_json(cfg, dst)["warc_files"] == s["warc_files"]
    # and a backfill into the copy of the same file counts nothing twice
    r = ingest_cli("backfill", "--config", str(cfg), "--db", again, "--warc", str(path))
    assert r.returncode == 0 and "20 already done" in r.stderr, r.stderr
    assert stats_json(cfg, again)["warc"] == want


def test_stats_and_db_copy_read_a_database_from_before_the_table(tmp_path):
    """Schema 6 (the read views' own): no WARC line, nothing to copy, no error."""
    from ingest.read.stats import collect, render
    from ingest.store.copy import copy_corpus
    from ingest.store.sqlite.schema import MIGRATIONS

    old = tmp_path / "old.db"
    readdb.at_schema(old, 6).close()
    s = collect(str(old))
    assert s.warc.files == 0 and s.warc_files == [] and "warc" not in render(s)
    assert copy_corpus(str(old), str(tmp_path / "new.db")).rows["backfill_files"] == 0
    assert query(tmp_path / "new.db", "PRAGMA user_version") == [(len(MIGRATIONS),)]
