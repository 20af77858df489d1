"""`python -m bench.postgres --url postgresql://...`: articles/s stored by 1, 2 and 4 writer
processes on one PostgreSQL database, against the single SQLite writer, on the same pages.

The pages are pre-extracted synthetic articles (ingest/analyse/synth.py, fingerprints computed
beforehand as the worker pool does), 80% new stories and 20% near-copies of earlier ones on
other sites, so the duplicate verification path and the advisory locks are exercised. Each
writer process opens the store as a command does (`open_store`: batching task, writer thread)
and stores its shard (pages dealt round-robin) as fast as the store takes them; the figure is
all pages over the wall time from the common start to the last commit. Fetching and
extraction are not included: they scale with processes anyway, the store is the shared part.
Each configuration gets a new database on the server named by --url (created, then dropped).

`--scale 1000,100000` instead times the store path per article at those corpus sizes, as
bench/scale.py does for SQLite (its bulk-filled corpus, copied into PostgreSQL with
`ingest db copy`'s code, then `PgWriter.store_many` in batches of 32 on the same sample).
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import resource
import tempfile
import time
import uuid
from pathlib import Path

from bench.scale import page_for
from ingest.analyse.synth import article
from ingest.config import Config
from ingest.records import Candidate, Extracted
from ingest.store import open_store

Item = tuple[Candidate, Extracted]


def pages(n: int, seed: int = 11) -> list[Item]:
    rng = random.Random(seed)
    stored: list[tuple[str, str]] = []
    out: list[Item] = []
    for i in range(n):
        if stored and rng.random() < 0.2:  # a near-copy of an earlier story on another site
            title, text = rng.choice(stored)
            text = "\n\n".join(text.split("\n\n")[:-1]) + "\n\nThe council said more details would follow."
            url = f"https://copy{i % 40}.example/story/{i}"
        else:
            title, text = article(40_000_000 + i, paragraphs=rng.randint(6, 14))
            url = f"https://site{i % 300}.example/news/{i}"
            stored.append((title, text))
        out.append((Candidate(url=url, source="urls", feed_url=None, guid=None), page_for(url, title, text)))
    return out


async def _store_all(database: str, items: list[Item]) -> None:
    async with open_store(Config(database=database)) as store:
        await asyncio.gather(*(store.store(c, ex) for c, ex in items))


def _writer(database: str, items: list[Item], start: mp.synchronize.Barrier) -> None:  # type: ignore[name-defined]
    asyncio.run(_open_only(database))  # connect and migrate before the clock starts
    start.wait()
    asyncio.run(_store_all(database, items))


async def _open_only(database: str) -> None:
    async with open_store(Config(database=database)):
        pass


def server_cpu(url: str) -> float | None:
    """CPU seconds used so far by the PostgreSQL server of `url` if it runs on this machine: its
    postmaster's own, its live processes' and its ended backends' (counted by the postmaster when
    it reaps them). None when it cannot be seen (a remote server, psutil missing)."""
    try:
        import psutil
    except ImportError:
        return None
    port = url.rsplit(":", 1)[-1].split("/")[0] if url.count(":") > 1 else "5432"
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            parent = proc.parent()
            if proc.info["name"] != "postgres" or (parent is not None and parent.name() == "postgres"):
                continue
            cmd = proc.info["cmdline"] or []
            if "-p" in cmd and cmd[cmd.index("-p") + 1] != port:
                continue
            t = proc.cpu_times()
            return t.user + t.system + t.children_user + t.children_system + sum(
                sum(c.cpu_times()[:2]) for c in proc.children(recursive=True))
        except (psutil.Error, IndexError):
            continue
    return None


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run(database: str, items: list[Item], writers: int) -> float:
    """Articles per second for `writers` processes storing `items` into `database`; prints the CPU
    per article of the writer processes and, when it runs here, of the server."""
    ctx = mp.get_context("fork")  # the pages are built once and shared
    start = ctx.Barrier(writers + 1)
    procs = [ctx.Process(target=_writer, args=(database, items[k::writers], start)) for k in range(writers)]
    for p in procs:
        p.start()
    start.wait()
    began, writers_cpu, server = time.monotonic(), _children_cpu(), server_cpu(database)
    for p in procs:
        p.join()
        assert p.exitcode == 0, f"a writer failed ({p.exitcode})"
    rate = len(items) / (time.monotonic() - began)
    cpu = f"writers {(_children_cpu() - writers_cpu) / len(items) * 1e3:.2f} ms"
    if server is not None:
        cpu += f", server {((server_cpu(database) or server) - server) / len(items) * 1e3:.2f} ms"
    print(f"    CPU per article: {cpu} (each writer's start-up included)", flush=True)
    return rate


def _database(url: str) -> tuple[str, str]:
    """A new database on the server of `url`: (its URL, its name)."""
    import psycopg

    name = "bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name, name


def _drop(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")


def scale(url: str, sizes: list[int], sample: int) -> None:
    """Store-path ms per article at each corpus size, SQLite and PostgreSQL, on the same sample."""
    import random as rnd
    import statistics

    from bench.analysis import pct
    from bench.scale import Scale
    from ingest.store.copy import copy_corpus
    from ingest.store.postgres.writer import PgWriter
    from ingest.store.sqlite.writer import Writer

    print("stored | SQLite store path ms/article: p50  mean | PostgreSQL: p50  mean")
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "scale.db")
        s = Scale(path)
        for size in sizes:
            s.fill(size)
            pg_url, name = _database(url)
            try:
                copy_corpus(path, pg_url)
                figures = []
                for w in (PgWriter.open(pg_url, Config(database=pg_url)), Writer.open(path, Config(database=path))):
                    s.rng, s.seq, s.stored = rnd.Random(size), 10_000_000 + size, []  # the same sample for both
                    s.sample(w, 64)  # warm caches and prepared statements
                    per = s.sample(w, sample)
                    w.close()
                    figures.append((pct(per, 50), statistics.mean(per)))
            finally:
                _drop(url, name)
            s.bench.n = s.bench.conn.execute("SELECT max(id) FROM articles").fetchone()[0]  # the sample's too
            (pg50, pgmean), (l50, lmean) = figures
            print(f"{size:7d} | {l50:33.2f} {lmean:5.2f} | {pg50:16.2f} {pgmean:5.2f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="a PostgreSQL server (its database is used to create others)")
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--writers", default="1,2,4")
    ap.add_argument("--scale", default="", metavar="SIZES", help="store path per article at these corpus sizes")
    ap.add_argument("--sample", type=int, default=320, help="--scale: articles timed at each size")
    args = ap.parse_args(argv)
    if args.scale:
        scale(args.url, [int(n) for n in args.scale.split(",")], args.sample)
        return 0
    items = pages(args.pages)
    print(f"{len(items)} pre-extracted pages (20% near-copies), {mp.cpu_count()} cpus")
    with tempfile.TemporaryDirectory() as tmp:
        lite = run(str(Path(tmp) / "bench.db"), items, 1)
    print(f"SQLite, 1 writer:      {lite:7.1f} articles/s")
    one = None
    for n in (int(w) for w in args.writers.split(",")):
        url, name = _database(args.url)
        try:
            rate = run(url, items, n)
        finally:
            _drop(args.url, name)
        one = one or rate
        print(f"PostgreSQL, {n} writer{'s' if n > 1 else ' '}: {rate:7.1f} articles/s  "
              f"({rate / lite:.2f}x SQLite, {rate / one:.2f}x one PostgreSQL writer)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
