"""The Dask cluster engine: the same articles and verdicts as a local run; a killed worker costs nothing.

One LocalCluster (2 worker processes) serves the in-process tests; the CLI test starts its own.
"""
from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import TOPICS, ingest_cli, write_config
from faultserver import count_rows
from test_warc_remote import T0, pages, write_warc

from ingest.analyse.topics import TopicMatcher
from ingest.config import TopicConfig, load_config
from ingest.demo.site import render_page
from ingest.demo.stories import summit_story
from ingest.run.backfill import backfill, from_urls, from_warcs
from ingest.run.daemon import run_once

distributed = pytest.importorskip("distributed")
from ingest.run.cluster import Cluster  # noqa: E402

pytestmark = pytest.mark.timeout(180)


def verdicts(db: Path, fetched: bool = False) -> dict[str, object]:
    """Everything a run decides, by URL: articles and versions, flags with what they point at,
    pages found off topic, records done. `fetched`: pages fetched now (their fetch times differ)."""
    conn = sqlite3.connect(db)
    try:
        q = lambda sql: sorted(conn.execute(sql).fetchall())  # noqa: E731
        return {
            "articles": q("select url, versions from articles"),
            "versions": q(f"select a.url, v.n, v.text_hash, v.blob_hash, v.published, {'0' if fetched else 'v.fetched_at'}, "
                          "v.charset from versions v join articles a on a.id = v.article_id"),
            "flags": q("select a.url, f.version_n, f.kind, f.subkind, o.url, round(f.score, 6) from flags f "
                       "join articles a on a.id = f.article_id left join articles o on o.id = f.other_article_id"),
            "off_topic": q("select url_key from off_topic"),
            "done": q("select source, key, outcome from backfill_done"),
            "files": q("select file, last_offset, records, prefiltered, kept, ended from backfill_files"),
        }
    finally:
        conn.close()


def republished(prefix: str, n_on: int, n_off: int, later: timedelta) -> list[tuple[str, str]]:
    """`pages`, with the summit stories published `later` (a copy is later than its original: a
    tie would be broken by the order of storing, which is not the same from one run to the next
    even locally)."""
    out = []
    for url, html in pages(prefix, 0, n_off):
        out.append((url, html))
    for i in range(n_on):
        url = f"https://{prefix}.example/summit/{i}"
        out.insert(2 * i, (url, render_page(prefix, summit_story(100 + i, T0 + later + timedelta(minutes=i)), url)))
    return out


def warcs(root: Path) -> list[str]:
    """Two files with copies across them (a wire story republished an hour later), most pages off topic."""
    return [str(write_warc(root / "a.warc.gz", republished("wire", 10, 25, timedelta(0)), padding=3000)),
            str(write_warc(root / "b.warc.gz", republished("post", 6, 20, timedelta(hours=1)), padding=3000))]


@pytest.fixture(scope="module")
def cluster():
    matcher = TopicMatcher.from_config([TopicConfig(**t) for t in TOPICS])
    c = Cluster.start("local:2", matcher, unit_bytes=24_000, min_unit=8_000)  # small units: each file is many
    try:
        yield c
    finally:
        c.close()


def test_cli_cluster_backfill_stores_what_the_local_run_stores(tmp_path):
    files = warcs(tmp_path / "www")
    out = {}
    for name, extra in (("local", []), ("cluster", ["--cluster", "local:2"])):
        db = tmp_path / f"{name}.db"
        cfg = write_config(tmp_path / f"{name}.yaml", db, [])
        r = ingest_cli("backfill", "--config", str(cfg), "--warc", files[0], "--warc", files[1], *extra)
        assert r.returncode == 0, r.stderr
        assert "done: 16 new articles" in r.stderr and "45 off topic (prefilter)" in r.stderr
        out[name] = verdicts(db)
    for key, local in out["local"].items():
        assert out["cluster"][key] == local, key
    assert len(out["local"]["articles"]) == 16 and len(out["local"]["flags"]) >= 6  # the copies are flagged


def test_bad_cluster_option_is_one_line(tmp_path):
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "x.db", [])
    r = ingest_cli("backfill", "--config", str(cfg), "--warc", str(cfg), "--cluster", "pbs:4")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "ingest: --cluster: expected local:N or tcp://HOST:PORT, got 'pbs:4'"]


def test_units_of_byte_ranges_store_what_the_local_run_stores(cluster, tmp_path):
    files = warcs(tmp_path / "www")
    out = {}
    for name, engine in (("local", None), ("cluster", cluster)):
        cfg = load_config(write_config(tmp_path / f"{name}.yaml", tmp_path / f"{name}.db", []))
        report = asyncio.run(backfill(cfg, from_warcs(files), cluster=engine))
        assert report.counts["new"] == 16 and report.counts["prefiltered"] == 45 and not report.counts["error"]
        out[name] = verdicts(tmp_path / f"{name}.db")
    for key, local in out["local"].items():
        assert out["cluster"][key] == local, key
    # the files' counts came back from the workers: every record, each once
    assert sorted(f[2:] for f in out["cluster"]["files"]) == [(27, 20, 6, 1), (36, 25, 10, 1)]
    # the cluster reading again what the local run read (other spans than its own) counts nothing twice
    report = asyncio.run(backfill(load_config(tmp_path / "local.yaml"), from_warcs(files), cluster=cluster))
    assert report.counts["already_done"] == 16 and report.counts["prefiltered"] == 45
    assert verdicts(tmp_path / "local.db")["files"] == out["local"]["files"]


def test_fetched_pages_are_extracted_on_the_cluster(cluster, world, tmp_path):
    """`run --once` and URL backfills fetch here and extract there: same articles and verdicts."""
    before = sum(cluster.client.run(lambda: __import__("ingest.extract.worker").extract.worker._done).values())
    out = {}
    for name, engine in (("local", None), ("cluster", cluster)):
        cfg = load_config(write_config(tmp_path / f"{name}.yaml", tmp_path / f"{name}.db", world.feed_urls))
        pipe = asyncio.run(run_once(cfg, engine=engine))
        assert pipe.tally.counts["new"] >= 5 and not pipe.tally.failures()
        urls = [url for url, _ in verdicts(tmp_path / f"{name}.db")["articles"]]
        report = asyncio.run(backfill(cfg, from_urls(urls + [world.url("harbour-times", "no-such-page")]),
                                      cluster=engine))
        assert report.counts["new"] == 0 and report.counts["unchanged"] == len(urls)
        out[name] = verdicts(tmp_path / f"{name}.db", fetched=True)
    assert out["cluster"] == out["local"]
    after = sum(cluster.client.run(lambda: __import__("ingest.extract.worker").extract.worker._done).values())
    assert after - before >= 2 * len(out["local"]["articles"])  # the cluster's workers did the extracting


def test_a_worker_killed_mid_run_costs_nothing(cluster, tmp_path):
    """SIGKILL one worker while it reads a unit: Dask runs the unit again, every on-topic record is
    stored once, none twice."""
    items = pages("wire", 40, 60)
    path = write_warc(tmp_path / "big.warc.gz", items, padding=6000)
    db = tmp_path / "k.db"
    cfg = load_config(write_config(tmp_path / "k.yaml", db, []))
    pids = cluster.worker_pids()
    killed: dict[str, object] = {}

    def killer() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            busy = {addr: keys for addr, keys in cluster.client.processing().items()
                    if any("read_unit" in str(k) for k in keys)}
            if busy and db.exists() and count_rows(db) >= 1:
                addr = next(iter(busy))
                killed.update(pid=pids[addr], stored=count_rows(db))
                os.kill(pids[addr], signal.SIGKILL)
            time.sleep(0.02)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    report = asyncio.run(backfill(cfg, from_warcs([str(path)]), cluster=cluster))
    thread.join(5)
    assert killed, "no worker was busy with a unit after the first stores"
    on_topic = sorted(u for u, _ in items if "/summit/" in u)
    assert killed["stored"] < len(on_topic)  # killed mid-run
    got = verdicts(db)
    assert [u for u, _ in got["articles"]] == on_topic
    assert all(v == 1 for _, v in got["articles"]) and len(got["done"]) == len(on_topic)
    assert report.counts["new"] == len(on_topic) and not report.counts["error"]
    assert killed["pid"] not in cluster.worker_pids().values()  # replaced by a new process




def test_local_workers_run_without_dask_bookkeeping(cluster):
    """The profiler and the frequent monitors are off in local workers (their CPU is the extraction's)."""
    import dask

    from ingest.run.cluster import QUIET_DASK

    cluster.client.wait_for_workers(2, timeout=60)  # a worker killed by an earlier test is replaced
    seen = cluster.client.run(lambda: {k: dask.config.get(k) for k in QUIET_DASK})
    assert len(seen) == 2 and all(v == QUIET_DASK for v in seen.values())
