"""WARC from anywhere: http:// WARCs streamed from a local server, CC-NEWS listings, globs, resuming."""
from __future__ import annotations

import gzip
import io
import os
import re
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from conftest import ingest_cli, write_config
from faultserver import count_rows
from test_sources_warc import offsets
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter
from warcserver import WarcServer, interrupt_backfill

from ingest.analyse.synth import article
from ingest.demo.site import render_page
from ingest.demo.stories import Story, summit_story
from ingest.sources.remote import RemoteError, expand
from ingest.sources.warc import WarcStats, warc_pages

pytestmark = pytest.mark.timeout(120)

TOPIC = re.compile(r"summit|kim jong|korea|pyongyang|singapore|denucleari", re.IGNORECASE)
T0 = datetime(2018, 6, 12, 8, tzinfo=UTC)


def off_topic(seed: int) -> Story:
    """A generated story with none of the topic's words (our own text)."""
    while True:
        title, text = article(9_000 + seed, paragraphs=6)
        if not TOPIC.search(title + text):
            return Story(f"local-{seed}", title, text, T0, "Desk")
        seed += 1000


def pages(prefix: str, n_on: int, n_off: int) -> list[tuple[str, str]]:
    """(url, html) of n_on summit pages and n_off off-topic pages, interleaved."""
    out = []
    for i in range(max(n_on, n_off)):
        if i < n_on:
            url = f"https://{prefix}.example/summit/{i}"
            out.append((url, render_page(prefix, summit_story(100 + i, T0 + timedelta(minutes=i)), url)))
        if i < n_off:
            url = f"https://{prefix}.example/local/{i}"
            out.append((url, render_page(prefix, off_topic(i), url)))
    return out


def write_warc(path: Path, items: list[tuple[str, str]], *, when: datetime = T0, padding: int = 0) -> Path:
    """A per-record gzip'd WARC (warcinfo, then a response per page); `padding` adds an HTML comment
    of that many bytes per page (to make a file of a given size)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        w.write_record(w.create_warcinfo_record(path.name, {"software": "ingest tests"}))
        for i, (url, html) in enumerate(items):
            body = (html + (f"<!-- {os.urandom(padding // 2).hex()} -->" if padding else "")).encode()
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            date = (when + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                                http_headers=http, warc_headers_dict={"WARC-Date": date}))
    return path


def db_urls(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [u for (u,) in conn.execute("select url from articles")]
    finally:
        conn.close()


def test_http_warc_reads_like_the_local_file(tmp_path):
    path = write_warc(tmp_path / "www" / "crawl.warc.gz", pages("paper", 6, 6))
    local_stats, remote_stats = WarcStats(), WarcStats()
    local = [(c.record_key, c.url, p.html) for c, p in warc_pages(path, stats=local_stats)]
    with WarcServer.threaded(tmp_path / "www") as srv:
        remote = [(c.record_key, c.url, p.html) for c, p in warc_pages(srv.url("crawl.warc.gz"), stats=remote_stats)]
    assert remote == local and len(local) == 12  # same keys: the identity is the content, not the path
    assert remote_stats.fast == local_stats.fast == 12
    assert str(remote_stats) == str(local_stats)


def test_remote_reads_are_retried_after_a_dropped_connection(tmp_path, caplog):
    path = write_warc(tmp_path / "www" / "crawl.warc.gz", pages("paper", 5, 5))
    want = [c.record_key for c, _ in warc_pages(path)]
    with WarcServer.threaded(tmp_path / "www") as srv:
        got = [c.record_key for c, _ in warc_pages(srv.url("crawl.warc.gz", drop=2))]
        assert srv.dropped["crawl.warc.gz"] == 2
    assert got == want
    assert any("retrying" in r.getMessage() for r in caplog.records)


def test_a_server_without_ranges_ends_the_file_with_one_line(tmp_path, caplog, monkeypatch):
    from ingest.sources import remote

    monkeypatch.setattr(remote, "BLOCK", 16384)  # so that the file takes several range requests
    path = write_warc(tmp_path / "www" / "crawl.warc.gz", pages("paper", 10, 10), padding=4000)
    assert path.stat().st_size > 4 * 16384
    stats = WarcStats()
    got: list = []
    with WarcServer.threaded(tmp_path / "www") as srv:
        try:  # (the next block is fetched in the background: the failure may come with the first bytes)
            got += warc_pages(srv.url("crawl.warc.gz", norange=1), stats=stats)
            lines = [r.getMessage() for r in caplog.records if "range requests" in r.getMessage()]
            assert stats.failed == 1
        except RemoteError as e:
            lines = [str(e)]
    assert len(got) < 20 and len(lines) == 1 and "\n" not in lines[0]


def test_a_missing_url_raises_one_line(tmp_path):
    (tmp_path / "www").mkdir()
    with WarcServer.threaded(tmp_path / "www") as srv, pytest.raises(RemoteError, match="not found") as e:
        list(warc_pages(srv.url("nope.warc.gz")))
    assert "\n" not in str(e.value)


def test_expand_globs_and_errors(tmp_path):
    for name in ("b.warc.gz", "a.warc.gz", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert expand([str(tmp_path / "*.warc.gz"), "https://x.test/c.warc.gz"]) == [
        str(tmp_path / "a.warc.gz"), str(tmp_path / "b.warc.gz"), "https://x.test/c.warc.gz"]
    with pytest.raises(FileNotFoundError, match="no WARC file matches"):
        expand([str(tmp_path / "*.arc")])
    with pytest.raises(RemoteError, match="unsupported URL scheme"):
        expand(["ftp://x.test/a.warc.gz"])


def test_s3_without_s3fs_is_a_one_line_error(tmp_path):
    pytest.importorskip("fsspec")
    try:
        import s3fs  # noqa: F401
        pytest.skip("s3fs is installed")
    except ImportError:
        pass
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "n.db", [], topics=[])
    r = ingest_cli("backfill", "--config", str(cfg), "--warc", "s3://commoncrawl/crawl-data/x.warc.gz")
    assert r.returncode == 2 and "ingest[s3]" in r.stderr and r.stderr.strip().count("\n") == 0


# --- the real CLI over HTTP ------------------------------------------------------------------
class DirWatch(threading.Thread):
    """The largest file seen under some directories while a command runs (sampled every 20 ms)."""

    def __init__(self, *dirs: Path):
        super().__init__(daemon=True)
        self.dirs, self.largest, self._halt = dirs, 0, threading.Event()

    def run(self):
        while not self._halt.is_set():
            for d in self.dirs:
                for root, _, files in os.walk(d):
                    for f in files:
                        try:
                            self.largest = max(self.largest, os.path.getsize(os.path.join(root, f)))
                        except OSError:
                            pass
            self._halt.wait(0.02)

    def stop(self):
        self._halt.set()
        self.join(5)


def test_http_backfill_streams_without_a_temporary_copy_and_prefilters(tmp_path):
    www = tmp_path / "www"
    items = pages("paper", 4, 40)
    path = write_warc(www / "crawl.warc.gz", items, padding=120_000)  # ~5 MB, mostly off topic
    size = path.stat().st_size
    db = tmp_path / "run" / "news.db"
    db.parent.mkdir()
    temp = tmp_path / "tmpdir"
    temp.mkdir()
    cfg = write_config(tmp_path / "run" / "c.yaml", db, [])  # the summit topic
    watch = DirWatch(temp, db.parent)
    watch.start()
    with WarcServer.threaded(www) as srv:
        env = dict(os.environ, TMPDIR=str(temp), PYTHONUNBUFFERED="1")
        r = subprocess.run([sys.executable, "-m", "ingest", "backfill", "--config", str(cfg), "--warc",
                            srv.url("crawl.warc.gz")], capture_output=True, text=True, timeout=120, env=env,
                           cwd=tmp_path / "run", check=False)
    watch.stop()
    assert r.returncode == 0, r.stderr
    assert sorted(db_urls(db)) == sorted(u for u, _ in items if "/summit/" in u)
    assert "40 off topic (prefilter)" in r.stderr and "(40 off topic by the prefilter)" in r.stderr
    # nothing like the WARC was ever written: not in TMPDIR, not beside the database
    assert watch.largest < size / 4, (watch.largest, size)
    assert not any(temp.iterdir())


def test_http_backfill_interrupted_then_resumed_stores_each_record_once(tmp_path):
    www = tmp_path / "www"
    items = pages("wire", 30, 0)
    path = write_warc(www / "crawl.warc.gz", items, padding=20_000)
    db = tmp_path / "news.db"
    cfg = write_config(tmp_path / "c.yaml", db, [], topics=[])
    with WarcServer.threaded(www) as srv:
        slow = srv.url("crawl.warc.gz", rate=max(20_000, path.stat().st_size // 8))  # ~8 s for the file
        interrupt_backfill(cfg, slow, lambda: count_rows(db) >= 5)
        first = count_rows(db)
        assert 5 <= first < len(items)
        r = ingest_cli("backfill", "--config", str(cfg), "--warc", srv.url("crawl.warc.gz"))  # same file, other URL
    assert r.returncode == 0, r.stderr
    done = re.search(r"(\d+) already done", r.stderr)
    assert done and int(done.group(1)) == first
    urls = db_urls(db)
    assert sorted(urls) == sorted(u for u, _ in items) and len(urls) == len(set(urls))
    conn = sqlite3.connect(db)
    assert conn.execute("select max(versions) from articles").fetchone()[0] == 1  # each stored exactly once
    conn.close()


# --- CC-NEWS -----------------------------------------------------------------------------------
def cc_news_site(www: Path) -> dict[str, list[str]]:
    """A CC-NEWS month on disk: a listing of four files (11th, 12th twice, 13th) and one it lists
    that is missing. Returns the page URLs of each file name."""
    month = www / "crawl-data" / "CC-NEWS" / "2018" / "06"
    names = {"CC-NEWS-20180611230000-00001.warc.gz": pages("eleven", 2, 1),
             "CC-NEWS-20180612010000-00002.warc.gz": pages("twelve-a", 3, 2),
             "CC-NEWS-20180612180000-00003.warc.gz": pages("twelve-b", 2, 1),
             "CC-NEWS-20180613020000-00004.warc.gz": pages("thirteen", 2, 1)}
    for name, items in names.items():
        write_warc(month / name, items)
    listing = [f"crawl-data/CC-NEWS/2018/06/{n}" for n in names] + [
        "crawl-data/CC-NEWS/2018/06/CC-NEWS-20180612200000-00005.warc.gz"]  # listed, not there: 404
    (month / "warc.paths.gz").write_bytes(gzip.compress("\n".join(listing).encode() + b"\n"))
    return {n: [u for u, _ in items] for n, items in names.items()}


def cc_config(tmp_path: Path, base: str, topics=None) -> Path:
    db = tmp_path / "news.db"
    cfg = write_config(tmp_path / "c.yaml", db, [], **({} if topics is None else {"topics": topics}))
    data = yaml.safe_load(cfg.read_text())
    data["cc_news"] = {"base_url": base}
    cfg.write_text(yaml.safe_dump(data))
    return cfg


def test_cc_news_month_day_and_range_pick_files_by_name(tmp_path):
    files = cc_news_site(tmp_path / "www")
    with WarcServer.threaded(tmp_path / "www") as srv:
        cfg = cc_config(tmp_path, srv.base, topics=[])

        def planned(*args: str) -> set[str]:
            r = ingest_cli("backfill", "--config", str(cfg), "--dry-run", *args)
            assert r.returncode == 0, r.stderr
            return set(r.stdout.split())

        day = planned("--cc-news", "2018-06-12")
        assert day == set(files["CC-NEWS-20180612010000-00002.warc.gz"] + files["CC-NEWS-20180612180000-00003.warc.gz"])
        assert planned("--cc-news", "2018-06") == {u for us in files.values() for u in us}
        span = planned("--cc-news", "--since", "2018-06-12T12:00", "--until", "2018-06-13")
        assert span == set(files["CC-NEWS-20180612180000-00003.warc.gz"] + files["CC-NEWS-20180613020000-00004.warc.gz"])
        r = ingest_cli("backfill", "--config", str(cfg), "--cc-news", "2018-07")
        assert r.returncode == 1 and "2018/07/warc.paths.gz" in r.stderr and r.stderr.strip().count("\n") == 0
        r = ingest_cli("backfill", "--config", str(cfg), "--cc-news", "June")
        assert r.returncode == 1 and "expected a month" in r.stderr
        r = ingest_cli("backfill", "--config", str(cfg), "--cc-news")
        assert r.returncode == 1 and "needs a month" in r.stderr


def test_cc_news_reports_a_404_a_malformed_record_and_a_truncated_member_and_goes_on(tmp_path):
    files = cc_news_site(tmp_path / "www")
    month = tmp_path / "www" / "crawl-data" / "CC-NEWS" / "2018" / "06"
    # the 12th's first file: its 2nd record's head is malformed, its 4th record's gzip member is cut short
    broken = month / "CC-NEWS-20180612010000-00002.warc.gz"
    recs = [off for off, _, _ in offsets(broken)]
    data = broken.read_bytes()
    head = gzip.decompress(data[recs[2]:recs[3]]).replace(b"WARC-Type: response", b"WARC-Tpye: response")
    data = data[:recs[2]] + gzip.compress(head) + data[recs[3]:recs[4]] + data[recs[4]:recs[4] + 40] + data[recs[5]:]
    broken.write_bytes(data)
    with WarcServer.threaded(tmp_path / "www") as srv:
        cfg = cc_config(tmp_path, srv.base, topics=[])
        r = ingest_cli("backfill", "--config", str(cfg), "--cc-news", "2018-06")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert len([ln for ln in lines if "00005.warc.gz" in ln]) == 1  # the 404: one line
    assert len([ln for ln in lines if "00002.warc.gz" in ln and "offset" in ln]) == 2  # malformed + truncated
    stored = set(db_urls(tmp_path / "news.db"))
    bad_file = files["CC-NEWS-20180612010000-00002.warc.gz"]
    assert stored == {u for us in files.values() for u in us} - {bad_file[1], bad_file[3]}
    assert "1 file failed" in r.stderr
