"""Many writer processes on one PostgreSQL corpus keep the single writer's invariants, and
their verdicts equal a single writer's that stores the same pages in their commit order.

The pages come from WARC files (no fetching: every run sees the same bytes at the same capture
times): stories each with an exact copy and a near copy published at the same moment (ties
broken by content, not row id), a wire rewrite an hour later, and unrelated stories. Each
writer gets a shard that holds some copies of every story, so copies meet in different
processes at the same moment.
"""
from __future__ import annotations

import io
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from conftest import write_config
from faultserver import live_processes
from pgserver import client_ports
from test_postgres import pg_rows
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ingest.demo.site import render_page
from ingest.demo.stories import summit_story, syndicated

pytestmark = pytest.mark.timeout(600)
T0 = datetime(2018, 6, 12, 1, 0, tzinfo=UTC)
CAPTURED = datetime(2018, 6, 13, 10, 0, tzinfo=UTC)


def corpus_pages(stories: int = 10, unique: int = 8) -> list[tuple[str, str]]:
    """(url, html) of every page: per story an original, an exact copy, a near copy, a wire copy."""
    pages = []
    for i in range(stories):
        s = summit_story(300 + i, T0 + timedelta(hours=i))
        paras = s.text.split("\n\n")
        near = replace(s, slug=f"near-{i}", text="\n\n".join(paras[:-1] + [paras[-1] + " Officials declined to comment."]))
        for host, story in ((f"paper{i % 3}.example", s), ("mirror.example", replace(s, slug=f"copy-{i}")),
                            ("echo.example", near),
                            ("wire.example", syndicated(s, f"wire-{i}", s.published + timedelta(hours=1)))):
            url = f"https://{host}/{story.slug}"
            pages.append((url, render_page(host, story, url)))
    for j in range(unique):
        s = summit_story(500 + j, T0 + timedelta(hours=j))
        url = f"https://solo{j % 2}.example/{s.slug}"
        pages.append((url, render_page("solo", s, url)))
    return pages


def write_warc(path, pages: list[tuple[str, str]]) -> None:
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for k, (url, html) in enumerate(pages):
            head = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            when = (CAPTURED + timedelta(seconds=k)).strftime("%Y-%m-%dT%H:%M:%SZ")
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(html.encode()), http_headers=head,
                                               warc_headers_dict={"WARC-Date": when}))


def shards(pages, n: int, seed: int = 7) -> list[list[tuple[str, str]]]:
    order = pages[:]
    random.Random(seed).shuffle(order)
    return [order[k::n] for k in range(n)]


def writer(cfg, db, warc) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ingest", "backfill", "--warc", str(warc), "--config", str(cfg),
                             "--db", db, "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def finish(p: subprocess.Popen) -> None:
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err


def check_invariants(url: str, pages: list[tuple[str, str]]) -> None:
    """One article per page, versions 1..n without gaps, every WARC record marked done, each
    copy's `of` the cluster original, one original per story."""
    urls = [u for (u,) in pg_rows(url, "SELECT url FROM articles")]
    assert sorted(urls) == sorted(u for u, _ in pages)
    assert pg_rows(url, "SELECT article_id FROM versions GROUP BY article_id "
                        "HAVING min(n) != 1 OR max(n) != count(*) OR count(DISTINCT n) != count(*)") == []
    assert pg_rows(url, "SELECT count(*) FROM backfill_done WHERE source = 'warc'")[0][0] == len(pages)
    assert pg_rows(url, "SELECT count(*) FROM url_keys k LEFT JOIN articles a ON a.id = k.article_id "
                        "WHERE a.id IS NULL")[0][0] == 0
    # a copy names its cluster's original, which is no copy itself
    assert pg_rows(url, "SELECT l.url FROM latest l JOIN dup_edges e ON e.article_id = l.id "
                        "WHERE l.duplicate_of_id != e.of_id OR e.of_id IN (SELECT article_id FROM dup_edges)") == []
    originals = pg_rows(url, "SELECT l.url FROM latest l WHERE l.duplicate_kind IS NULL AND l.url NOT LIKE '%%solo%%'")
    assert len(originals) == len([u for u, _ in pages if "paper" in u]), originals  # no blind pairs


def commit_order(url: str) -> list[str]:
    """The URLs in the order their first versions committed (track_commit_timestamp is on)."""
    return [u for (u,) in pg_rows(url, "SELECT a.url FROM articles a JOIN versions v ON v.article_id = a.id "
                                        "AND v.change = 'first' ORDER BY pg_xact_commit_timestamp(v.xmin), v.id")]


VERDICTS = "SELECT url, duplicate_kind, duplicate_of, garbled_score IS NOT NULL FROM latest ORDER BY url"


def single_writer_verdicts(tmp_path, pages, order: list[str]) -> list[tuple]:
    """Verdicts of one SQLite writer storing the pages in `order` (one extraction worker: in order)."""
    html = dict(pages)
    warc = tmp_path / "replay.warc.gz"
    write_warc(warc, [(u, html[u]) for u in order])
    db = tmp_path / "replay.db"
    cfg = write_config(tmp_path / "replay.yaml", db, [], topics=[])
    cfg.write_text(cfg.read_text().replace("workers: 2", "workers: 1"))
    finish(writer(cfg, str(db), warc))
    conn = sqlite3.connect(db)
    try:
        assert [u for (u,) in conn.execute("SELECT url FROM articles ORDER BY id")] == order  # stored in that order
        return [tuple(r) for r in conn.execute(VERDICTS)]
    finally:
        conn.close()


def _setup(tmp_path, n):
    pages = corpus_pages()
    warcs = []
    for k, shard in enumerate(shards(pages, n)):
        warcs.append(tmp_path / f"shard{k}.warc.gz")
        write_warc(warcs[-1], shard)
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "unused.db", [], topics=[])
    cfg.write_text(cfg.read_text().replace("workers: 2", "workers: 1"))
    return pages, warcs, cfg


def stored_count(url: str) -> int:
    """Articles stored so far (0 before the schema exists)."""
    if pg_rows(url, "SELECT to_regclass('articles')")[0][0] is None:
        return 0
    return int(pg_rows(url, "SELECT count(*) FROM articles")[0][0])


def test_parallel_writers_keep_invariants_and_single_writer_verdicts(tmp_path, pg_url):
    pages, warcs, cfg = _setup(tmp_path, 4)
    procs = [writer(cfg, pg_url, w) for w in warcs]
    for p in procs:
        finish(p)
    check_invariants(pg_url, pages)
    order = commit_order(pg_url)
    assert [tuple(r) for r in pg_rows(pg_url, VERDICTS)] == single_writer_verdicts(tmp_path, pages, order)


KILLS = 6  # kills per run; every other one waits for the victim to be inside a transaction
KILL_PHASE = 40.0  # seconds the kills may take; the whole test stays well under 90 s


_OPEN = ("SELECT pid, backend_xid::text::bigint FROM pg_stat_activity WHERE client_port = ANY(%s) "
         "AND xact_start IS NOT NULL AND (state = 'idle in transaction' OR (state = 'active' AND query NOT ILIKE "
         "'COMMIT%%'))")


def _in_transaction(conn, port: int, group: int, written: bool = False) -> list[tuple[int, int | None]]:
    """(backend pid, transaction id or None) of the group's backends inside a transaction (with
    `written`: one that has written, so has a transaction id)."""
    ports = client_ports(live_processes(group=group), port)
    if not ports:
        return []
    return conn.execute(_OPEN + (" AND backend_xid IS NOT NULL" if written else ""), (list(ports),)).fetchall()


def _kill_group(conn, group: int, proc: subprocess.Popen, backends: list[tuple[int, int | None]]) -> bool:
    """SIGKILL the stopped group; True when a transaction it had written in was rolled back."""
    os.killpg(group, signal.SIGKILL)
    proc.communicate(timeout=30)  # reaped, its pipes closed
    pids = [b for b, _ in backends]
    deadline = time.monotonic() + 30
    while pids and conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)).fetchall():
        assert time.monotonic() < deadline, "a killed writer's backend lingers"
        time.sleep(0.02)  # the backend sees the closed socket and rolls back
    xids = [x for _, x in backends if x is not None]  # a fresh cluster: epoch 0, so xid8 == xid
    statuses = [s for (s,) in conn.execute("SELECT pg_xact_status(x::text::xid8) FROM unnest(%s::bigint[]) AS x",
                                           (xids,)).fetchall()]
    assert all(s == "aborted" for s in statuses), statuses
    return bool(xids)


def _kill_at_random(conn, port: int, victim: subprocess.Popen, rng: random.Random, inside: bool,
                    deadline: float) -> tuple[bool, bool] | None:
    """kill -9 the victim's group after a random pause; with `inside`, only once it is seen in
    a transaction that has written (then it is stopped, SIGSTOP, and checked again: stopped, its
    client cannot send COMMIT, so the transaction is still open at the kill). (caught inside a
    transaction, a written one rolled back); None when the victim finished first."""
    time.sleep(rng.uniform(0.0, 0.25))
    while victim.poll() is None and time.monotonic() < deadline:
        if inside and not _in_transaction(conn, port, victim.pid, written=True):
            time.sleep(0.001)
            continue
        os.killpg(victim.pid, signal.SIGSTOP)
        backends = _in_transaction(conn, port, victim.pid)
        if backends or not inside:
            return bool(backends), _kill_group(conn, victim.pid, victim, backends)
        os.killpg(victim.pid, signal.SIGCONT)  # committed meanwhile: wait for the next one
    return None


@pytest.mark.timeout(90)
def test_writers_killed_again_and_again_even_inside_a_transaction_store_each_record_once(tmp_path, pg_server):
    """kill -9 of one writer of three at random moments, every other one inside a transaction
    that has written (proven rolled back afterwards), each killed writer started again (backfill
    resumes per record) until every shard is done: every record stored once, versions without
    gaps or copies, verdicts as a single writer's storing the pages in the run's commit order."""
    import psycopg

    url = pg_server.database()
    seed = int(os.environ.get("KILL_SEED") or random.randrange(2**32))  # KILL_SEED=N repeats the choices
    rng = random.Random(seed)
    why = f"KILL_SEED={seed}"
    pages, warcs, cfg = _setup(tmp_path, 3)
    procs = [writer(cfg, url, w) for w in warcs]
    kills = inside = written_inside = 0
    deadline = time.monotonic() + KILL_PHASE
    with psycopg.connect(url, autocommit=True) as conn:
        while kills < KILLS and time.monotonic() < deadline:
            live = [k for k, p in enumerate(procs) if p.poll() is None]
            if not live:
                break
            k = rng.choice(live)
            caught = _kill_at_random(conn, pg_server.port, procs[k], rng, kills % 2 == 0, deadline)
            if caught is not None:
                kills, inside, written_inside = kills + 1, inside + caught[0], written_inside + caught[1]
                procs[k] = writer(cfg, url, warcs[k])  # started again: it resumes its shard
    for p in procs:
        out, err = p.communicate(timeout=45)
        assert p.returncode == 0, (why, err)
    print(f"\n{why}: {kills} kills, {inside} inside a transaction, {written_inside} rolled back after writing")
    assert kills >= 2 and inside >= 1 and written_inside >= 1, (why, kills, inside, written_inside)
    check_invariants(url, pages)
    assert pg_rows(url, "SELECT count(*) FROM versions")[0][0] == len(pages), why  # no version stored twice
    order = commit_order(url)
    assert [tuple(r) for r in pg_rows(url, VERDICTS)] == single_writer_verdicts(tmp_path, pages, order), why


def test_writers_ride_out_a_postgresql_restart(tmp_path, pg_server):
    url = pg_server.database()
    pages, warcs, cfg = _setup(tmp_path, 2)
    procs = [writer(cfg, url, w) for w in warcs]
    deadline = time.monotonic() + 120
    while stored_count(url) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert all(p.poll() is None for p in procs) and stored_count(url) < len(pages)  # mid-run
    pg_server.restart()  # fast shutdown: every session is cut, transactions in flight roll back
    for p in procs:
        finish(p)  # the writers connected again and finished their shards
    check_invariants(url, pages)
