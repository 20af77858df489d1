"""The backfill's progress tells the truth: a record counts as stored when the writer has stored it,
a file as done when every record in it is finished, not when it has been read."""
from __future__ import annotations

import asyncio

import pytest
from conftest import write_config
from test_progress_tty import on_a_terminal
from test_warc_remote import pages, write_warc

from ingest.config import load_config
from ingest.run.backfill import Snapshot, backfill, from_warcs

pytestmark = pytest.mark.timeout(120)


def test_snapshots_count_what_is_stored_and_files_only_when_their_records_are(tmp_path):
    files = [str(write_warc(tmp_path / "a.warc.gz", pages("wire", 24, 30), padding=2000)),
             str(write_warc(tmp_path / "b.warc.gz", pages("post", 16, 20), padding=2000))]
    cfg = load_config(write_config(tmp_path / "c.yaml", tmp_path / "news.db", []))
    seen: list[Snapshot] = []
    report = asyncio.run(backfill(cfg, from_warcs(files), watch=seen.append))
    last = seen[-1]
    assert report.counts["new"] == 40
    assert (last.files_done, last.files, last.scanned, last.kept, last.stored) == (2, 2, 92, 40, 40)
    assert last.finished == 90 and last.eta == 0  # 40 stored + 50 dropped by the prefilter
    for before, after in zip(seen, seen[1:]):
        assert all(getattr(after, k) >= getattr(before, k) for k in ("scanned", "kept", "stored", "files_done"))
    for snap in seen:
        assert snap.stored <= snap.kept <= snap.scanned
        if snap.files_done == 2:
            assert snap.stored == 40  # both files done: everything in them is stored
    # the files were read well before their pages were stored: the figures said so meanwhile
    assert any(s.scanned == 92 and s.stored < 40 and s.files_done < 2 for s in seen), seen
    assert len(seen) >= 3
    assert "files 2/2, scanned 92, kept 40, stored 40," in last.line() and "ETA 0:00" in last.line()


def test_warc_backfill_on_a_terminal_shows_files_and_stored(tmp_path):
    path = write_warc(tmp_path / "a.warc.gz", pages("wire", 6, 6), padding=2000)
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "news.db", [])
    code, tty = on_a_terminal("backfill", "--config", str(cfg), "--warc", str(path))
    assert code == 0, tty
    assert "files" in tty and "scanned" in tty and "stored" in tty and "records/s" in tty
    assert "stored 6," in tty and "1/1" in tty
