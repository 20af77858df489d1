"""`python -m bench.archive`: a WARC backfill at archive scale, against extracting every record.

It builds a CC-NEWS-like WARC (per-record gzip, a warcinfo record, then >= 20,000 `response`
records) from the real pages of ../shared/corpora: the 1,383 HTML test pages and the
helsinki2018-day1 / giveme5w1h-newscluster texts built into pages (eval/prefilter.py), each
used again and again under distinct URLs (and a per-copy comment, so no two records are the
same bytes). About 5% of the records are on the configured topic (config.yaml's), judged as
ingest judges after extraction (extract-then-match, cached by `python -m eval prefilter`),
and the rest are off-topic pages of the same corpora. The file is served over HTTP on
127.0.0.1 by a server process (aiohttp, Range requests). In one run it prints:

  (a) the no-prefilter ceiling: ingest's worker extraction (trafilatura, topic match) over
      every record, 2 processes, records read from the local file (a sample of the file;
      the rate is what matters);
  (b) the real `ingest backfill --warc http://127.0.0.1:PORT/bench.warc.gz` CLI in a
      subprocess on a fresh database (prefilter, 2 extraction workers, analysis, SQLite):
      records/s from process start to exit, CPU per process, peak RSS of the process tree;
      and the reading thread alone over HTTP (FastWARC + prefilter, nothing extracted);
  (c) the same command with `--cluster local:2` (a Dask LocalCluster of 2 worker processes that
      read, prefilter and extract 128 MiB units of the file; the client stores), process start
      to exit, cluster start-up included;
  - warcio against FastWARC read rates on the file (records/s, MB/s, CPU);
  - the prefilter's recall, keep rate and time on the benchmark's own records.

Target: (b) >= 10x (a) records/s, (c) within 10% of (b); memory bounded whatever the file size.
Only 127.0.0.1 is used. Without ../shared it prints a note and exits 0.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import multiprocessing
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import yaml

from bench.memory import Sampler
from bench.throughput import ROOT, CpuSampler
from eval.prefilter import CorpusPage, corpus_pages, extracted, topic_configs
from ingest.analyse.topics import TopicMatcher
from ingest.extract.prefilter import Prefilter

RECORDS = 20_000
ON_TOPIC = 0.05
CEILING_SAMPLE = 800  # records extracted for (a), before and again after (b): the machine's load varies
T0 = datetime(2018, 6, 12, 0, 0, tzinfo=UTC)


# --- the WARC ----------------------------------------------------------------------------------
_PAGES: list[CorpusPage] = []


def _init_builder() -> None:
    global _PAGES
    _PAGES = corpus_pages()


def record_url(i: int, page_index: int, page: CorpusPage) -> str:
    """A distinct URL per record, on the page's own host."""
    host = re.sub(r"[^a-z0-9.-]", "-", page.url.split("/")[2].lower())
    return f"https://{host}/bench/{i}/{page_index}"


def _member(i: int, page_index: int) -> bytes:
    """Record i (a copy of page `page_index`) as one gzip member."""
    page = _PAGES[page_index]
    body = page.body() + f"\n<!-- bench copy {i} -->\n".encode()
    url = record_url(i, page_index, page)
    http = (f"HTTP/1.1 200 OK\r\nContent-Type: {page.content_type}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Date: {(T0 + timedelta(seconds=i)).strftime('%Y-%m-%dT%H:%M:%SZ')}\r\n"
            f"WARC-Record-ID: <urn:uuid:{uuid.UUID(int=i)}>\r\nWARC-Target-URI: {url}\r\n"
            f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(http)}\r\n\r\n").encode()
    return gzip.compress(head + http + b"\r\n\r\n", compresslevel=6, mtime=0)


def _members(job: list[tuple[int, int]]) -> bytes:
    return b"".join(_member(i, p) for i, p in job)


def plan(pages: list[CorpusPage], on_topic: list[bool], n: int, share: float, seed: int = 19) -> list[int]:
    """Page index of each record: round(n * share) on-topic copies, the rest off-topic, shuffled."""
    rng = random.Random(seed)
    on = [i for i, t in enumerate(on_topic) if t]
    off = [i for i, t in enumerate(on_topic) if not t]
    n_on = round(n * share)

    def draw(pool: list[int], k: int) -> list[int]:
        out: list[int] = []
        while len(out) < k:
            batch = pool[:]
            rng.shuffle(batch)
            out += batch
        return out[:k]

    records = draw(on, n_on) + draw(off, n - n_on)
    rng.shuffle(records)
    return records


def build(path: Path, records: list[int], workers: int = 2) -> None:
    warcinfo = (b"WARC/1.0\r\nWARC-Type: warcinfo\r\nWARC-Date: 2018-06-12T00:00:00Z\r\n"
                b"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-00000000ffff>\r\nContent-Type: application/warc-fields\r\n")
    fields = b"software: ingest bench.archive\r\nformat: WARC File Format 1.0\r\n"
    warcinfo += b"Content-Length: %d\r\n\r\n" % len(fields) + fields + b"\r\n\r\n"
    numbered = [(i + 1, p) for i, p in enumerate(records)]  # record 0 is the warcinfo
    jobs = [numbered[k:k + 250] for k in range(0, len(numbered), 250)]
    tmp = path.with_suffix(".part")
    ctx = multiprocessing.get_context("forkserver")
    with open(tmp, "wb") as out, ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_builder) as ex:
        out.write(gzip.compress(warcinfo, mtime=0))
        out.writelines(ex.map(_members, jobs))
    tmp.rename(path)


# --- serving -----------------------------------------------------------------------------------
def _serve(path: str) -> None:
    """In the server subprocess: the file at /bench.warc.gz (HEAD, Range), until stdin closes."""
    import asyncio

    from aiohttp import web

    async def handle(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(path)

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/bench.warc.gz", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(json.dumps({"port": port}), flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_reader(sys.stdin.fileno(), stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())


class Server:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> Self:
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.archive", "--serve", str(self.path)], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("bench server did not start")
        self.url = f"http://127.0.0.1:{json.loads(line)['port']}/bench.warc.gz"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- (a) the no-prefilter ceiling ----------------------------------------------------------------
_MATCHER: TopicMatcher | None = None


def _init_ceiling(matcher: TopicMatcher) -> None:
    global _MATCHER
    _MATCHER = matcher
    import ingest.extract.worker  # noqa: F401 - trafilatura and lxml loaded before the clock matters


def _extract(item: tuple[str, bytes, str | None, str]) -> bool:
    """In a worker: what an extraction worker does with a page (decode, trafilatura, topic match)."""
    from ingest.extract.worker import extract
    from ingest.fetch.charset import decode
    from ingest.records import Candidate, Extracted, Page

    url, body, ctype, when = item
    d = decode(body, ctype)
    assert d is not None and _MATCHER is not None
    page = Page(url=url, final_url=url, status=200, headers={}, body=body, html=d.text, charset=d.charset,
                charset_source=d.source, charset_mismatch=d.mismatch, fetched_at=datetime.fromisoformat(when))
    return isinstance(extract(page, Candidate(url=url, source="warc"), _MATCHER), Extracted)


def ceiling(path: Path, matcher: TopicMatcher, n: int, workers: int = 2) -> tuple[float, int, float]:
    """(records/s, records, worker CPU s): every record of the first `n` extracted, `workers` processes,
    the pool started (imports done) before the clock starts, as a running ingest's pool would be."""
    from ingest.sources.warc import warc_pages

    items = []
    for cand, page in warc_pages(path):
        items.append((cand.url, page.body, page.headers.get("content-type"), page.fetched_at.isoformat()))
        if len(items) >= n:
            break
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_ceiling, initargs=(matcher,)) as ex:
        list(ex.map(abs, range(workers * 4)))  # workers up
        sampler: Any = CpuSampler(os.getpid())
        sampler.start()
        t0 = time.perf_counter()
        kept = sum(ex.map(_extract, items, chunksize=4))
        wall = time.perf_counter() - t0
        sampler.stop()
    print(f"    (a) {len(items)} records extracted in {wall:.1f} s ({kept} on topic); worker CPU {sampler.workers():.1f} s",
          flush=True)
    return len(items) / wall, len(items), sampler.workers()


# --- read rates ----------------------------------------------------------------------------------
def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def read_rates(path: Path) -> dict[str, dict[str, float]]:
    """warcio and FastWARC over the whole file: iterate, read each response's payload."""
    from fastwarc.warc import ArchiveIterator as FastIterator
    from warcio.archiveiterator import ArchiveIterator

    size = path.stat().st_size
    out: dict[str, dict[str, float]] = {}
    for name in ("warcio", "fastwarc"):
        t0, c0, n, payload = time.perf_counter(), _cpu(), 0, 0
        with open(path, "rb") as fh:
            if name == "warcio":
                for rec in ArchiveIterator(fh):
                    n += 1
                    if rec.rec_type == "response":
                        payload += len(rec.content_stream().read())
            else:
                for frec in FastIterator(fh, parse_http=True):
                    n += 1
                    if frec.record_type == 4:  # response
                        payload += len(frec.reader.read())
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
        out[name] = {"records/s": n / wall, "MB/s": size / wall / 1e6, "payload MB/s": payload / wall / 1e6,
                     "cpu s": cpu, "wall s": wall, "records": n}
        print(f"    read {name}: {n / wall:,.0f} records/s, {size / wall / 1e6:.0f} MB/s gzip'd "
              f"({payload / wall / 1e6:.0f} MB/s inflated), CPU {cpu:.1f} s / wall {wall:.1f} s", flush=True)
    return out


def reader_rates(path: Path, url: str, prefilter: Prefilter) -> dict[str, float]:
    """The backfill's reading thread alone: warc_pages with the prefilter (nothing extracted)."""
    from ingest.sources.warc import WarcStats, warc_pages

    out = {}
    for name, source, engine in (("warcio, local", str(path), "warcio"), ("FastWARC, local", str(path), "auto"),
                                 ("FastWARC, HTTP", url, "auto")):
        stats = WarcStats()
        t0, c0 = time.perf_counter(), _cpu()
        for _ in warc_pages(source, stats=stats, prefilter=prefilter, engine=engine):
            pass
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
        out[name] = stats.records / wall
        print(f"    reader + prefilter ({name}): {stats.records / wall:,.0f} records/s, CPU {cpu:.1f} s / wall "
              f"{wall:.1f} s; {stats}", flush=True)
    return out


# --- prefilter on the benchmark's records --------------------------------------------------------
def prefilter_on_records(path: Path, prefilter: Prefilter, on_topic_urls: set[str]) -> dict[str, float]:
    from ingest.sources.warc import warc_pages

    kept = kept_on = on = n = 0
    secs = 0.0
    for cand, page in warc_pages(path):
        t0 = time.perf_counter()
        keep = prefilter.keep(page.body, page.headers.get("content-type"))
        secs += time.perf_counter() - t0
        n += 1
        is_on = cand.url in on_topic_urls
        on += is_on
        kept += keep
        kept_on += keep and is_on
    res = {"records": n, "on topic": on, "kept": kept, "recall": kept_on / on if on else 1.0,
           "keep rate": kept / n, "precision": kept_on / kept if kept else 1.0, "ms/record": secs * 1000 / n}
    print(f"    prefilter on the {n:,} records: recall {res['recall']:.2%} ({kept_on}/{on}), keep rate "
          f"{res['keep rate']:.2%}, precision {res['precision']:.2%}, {res['ms/record']:.3f} ms/record", flush=True)
    return res


# --- (b) the real CLI ------------------------------------------------------------------------------
def run_cli(url: str, work: Path, topics: list[Any], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    db = work / "bench.db"
    for p in work.glob("bench.db*"):
        p.unlink()
    cfg = work / "bench.yaml"
    cfg.write_text(yaml.safe_dump({"database": str(db), "topics": topics, "workers": 2}))
    log = work / "backfill.log"
    t0 = time.perf_counter()
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "ingest", "backfill", "--config", str(cfg), "--warc", url,
                                 *extra], cwd=work, stdout=subprocess.DEVNULL, stderr=err)
        rss: Any = Sampler(proc.pid)  # (bench.memory / bench.throughput are not annotated)
        cpu: Any = CpuSampler(proc.pid)
        rss.start()
        cpu.start()
        code = proc.wait(3600)
        wall = time.perf_counter() - t0
        rss.stop()
        cpu.stop()
    text = log.read_text()
    if code != 0:
        raise RuntimeError(f"ingest backfill exited {code}: {text[-2000:]}")
    summary = next((ln for ln in text.splitlines() if ln.startswith("done:")), "")
    warc = next((ln for ln in text.splitlines() if ln.startswith("warc:")), "")
    import sqlite3

    conn = sqlite3.connect(db)
    stored = conn.execute("select count(*) from articles").fetchone()[0]
    urls = {u for (u,) in conn.execute("select url from articles")}
    conn.close()
    return {"wall": wall, "summary": summary, "warc": warc, "stored": stored, "urls": urls,
            "main cpu": cpu.main(), "workers cpu": cpu.workers(), "rss tree MB": rss.tree_peak / 1024,
            "rss main MB": rss.main_peak / 1024, "rss worker MB": rss.child_peak / 1024,
            "rss at 10/50/100%": [rss.at(f)[1] / 1024 for f in (0.1, 0.5, 1.0)],
            "main at 10/50/100%": [rss.at(f)[0] / 1024 for f in (0.1, 0.5, 1.0)]}


# --- main -------------------------------------------------------------------------------------------
def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"]:
        _serve(argv[1])
        return 0
    ap = argparse.ArgumentParser(prog="python -m bench.archive", description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--records", type=int, default=RECORDS, help="response records in the WARC")
    ap.add_argument("--on-topic", type=float, default=ON_TOPIC, help="share of on-topic records")
    ap.add_argument("--ceiling-sample", type=int, default=CEILING_SAMPLE, help="records extracted for (a)")
    ap.add_argument("--workdir", default=None, help="keep the WARC and database here (reused if the WARC is there)")
    ap.add_argument("--skip", default="", help="comma-separated: ceiling,reads,reader,prefilter,cli,cluster")
    args = ap.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    pages = corpus_pages()
    if not pages:
        print("shared corpora not found (../shared/corpora); nothing to measure")
        return 0
    topics = topic_configs()["config.yaml"]
    matcher = TopicMatcher.from_config(topics)
    prefilter = Prefilter.from_matcher(matcher)
    assert prefilter is not None
    truth = extracted(pages)
    on_topic = [t is not None and bool(matcher.match(*t)) for t in truth]
    records = plan(pages, on_topic, args.records, args.on_topic)
    key = hashlib.sha1(json.dumps([args.records, args.on_topic, [p.name for p in pages]]).encode()).hexdigest()[:12]
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="ingest-bench-archive-"))
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"bench-{key}.warc.gz"
    on_urls = {record_url(i + 1, p, pages[p]) for i, p in enumerate(records) if on_topic[p]}
    started = datetime.now(UTC)
    try:
        if not path.exists():
            t0 = time.perf_counter()
            build(path, records)
            print(f"built {path.name}: {len(records):,} response records ({len(on_urls):,} on topic), "
                  f"{path.stat().st_size / 1e6:,.0f} MB gzip'd, in {time.perf_counter() - t0:.0f} s", flush=True)
        else:
            print(f"reusing {path}", flush=True)
        res: dict[str, Any] = {}
        with Server(path) as srv:
            if "reads" not in skip:
                res["reads"] = read_rates(path)
            if "prefilter" not in skip:
                res["prefilter"] = prefilter_on_records(path, prefilter, on_urls)
            if "reader" not in skip:
                res["reader"] = reader_rates(path, srv.url, prefilter)
            if "ceiling" not in skip:
                res["a_runs"] = [ceiling(path, matcher, args.ceiling_sample)[0]]
            if "cli" not in skip:
                b = run_cli(srv.url, work, [{"name": t.name, "keywords": t.keywords} for t in topics])
                res["b"] = b
                print(f"    (b) ingest backfill --warc {srv.url}: {len(records):,} records in {b['wall']:.1f} s; "
                      f"{b['summary']}", flush=True)
                print(f"        {b['warc']}", flush=True)
                print(f"        CPU: main process {b['main cpu']:.1f} s, forkserver + workers {b['workers cpu']:.1f} s; "
                      f"peak RSS: tree {b['rss tree MB']:.0f} MB, main {b['rss main MB']:.0f} MB, "
                      f"largest worker {b['rss worker MB']:.0f} MB", flush=True)
            if "cluster" not in skip:
                c = run_cli(srv.url, work, [{"name": t.name, "keywords": t.keywords} for t in topics],
                            ("--cluster", "local:2"))
                res["c"] = c
                print(f"    (c) ... --cluster local:2: {len(records):,} records in {c['wall']:.1f} s; {c['summary']}",
                      flush=True)
                print(f"        CPU: main process {c['main cpu']:.1f} s, scheduler-side + workers {c['workers cpu']:.1f} s; "
                      f"peak RSS: tree {c['rss tree MB']:.0f} MB, main {c['rss main MB']:.0f} MB, "
                      f"largest worker {c['rss worker MB']:.0f} MB", flush=True)
            if "ceiling" not in skip:
                res["a_runs"].append(ceiling(path, matcher, args.ceiling_sample)[0])
                res["a"] = (sum(res["a_runs"]) / len(res["a_runs"]),)
        print()
        print(f"python -m bench.archive --records {args.records}  ({started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores)")
        if "a" in res:
            print(f"  (a) no-prefilter ceiling, worker extraction of every record, 2 processes: "
                  f"{res['a'][0]:8.1f} records/s  (before / after (b): "
                  + " / ".join(f"{x:.1f}" for x in res["a_runs"]) + ")")
        if "b" in res:
            b = res["b"]
            rate = len(records) / b["wall"]
            ratio = f" = {rate / res['a'][0]:.1f}x (a)" if "a" in res else ""
            print(f"  (b) ingest backfill --warc http://127.0.0.1 (prefilter, 2 workers):         "
                  f"{rate:8.1f} records/s{ratio}  (target >= 10x)")
            missing = on_urls - b["urls"]
            print(f"      stored {b['stored']:,} articles of {len(on_urls):,} on-topic records "
                  f"({len(missing)} on-topic records not stored)")
            print(f"      peak RSS of the ingest process tree {b['rss tree MB']:.0f} MB (main {b['rss main MB']:.0f} MB); "
                  f"at 10/50/100% of the run: tree " + " / ".join(f"{x:.0f}" for x in b["rss at 10/50/100%"])
                  + " MB, main " + " / ".join(f"{x:.0f}" for x in b["main at 10/50/100%"]) + " MB")
            print(f"      CPU: main process {b['main cpu']:.1f} s (reading thread + loop + writer), forkserver + "
                  f"workers {b['workers cpu']:.1f} s, over {b['wall']:.1f} s wall")
        if "c" in res:
            c = res["c"]
            rate = len(records) / c["wall"]
            vs_b = f" = {rate / (len(records) / res['b']['wall']):.2f}x (b)" if "b" in res else ""
            print(f"  (c) the same with --cluster local:2 (units read and extracted on 2 Dask workers): "
                  f"{rate:8.1f} records/s{vs_b}  (target within 10% of (b))")
            missing = on_urls - c["urls"]
            same = " (the same URLs as (b))" if "b" in res and c["urls"] == res["b"]["urls"] else ""
            print(f"      stored {c['stored']:,} articles of {len(on_urls):,} on-topic records "
                  f"({len(missing)} on-topic records not stored){same}")
            print(f"      peak RSS of the process tree {c['rss tree MB']:.0f} MB (main {c['rss main MB']:.0f} MB, "
                  f"largest worker {c['rss worker MB']:.0f} MB); CPU: main {c['main cpu']:.1f} s, children "
                  f"{c['workers cpu']:.1f} s, over {c['wall']:.1f} s wall")
        if "reads" in res:
            r = res["reads"]
            print(f"  read rates (whole file): warcio {r['warcio']['records/s']:,.0f} records/s "
                  f"({r['warcio']['MB/s']:.0f} MB/s gzip'd, CPU {r['warcio']['cpu s']:.1f} s); FastWARC "
                  f"{r['fastwarc']['records/s']:,.0f} records/s ({r['fastwarc']['MB/s']:.0f} MB/s, CPU "
                  f"{r['fastwarc']['cpu s']:.1f} s): {r['fastwarc']['records/s'] / r['warcio']['records/s']:.1f}x")
        if "reader" in res:
            print("  reading thread alone (warc_pages + prefilter): " + ", ".join(
                f"{k} {v:,.0f} records/s" for k, v in res["reader"].items()))
        if "prefilter" in res:
            p = res["prefilter"]
            print(f"  prefilter on these records: recall {p['recall']:.2%}, keep rate {p['keep rate']:.2%}, "
                  f"precision {p['precision']:.2%}, {p['ms/record']:.3f} ms/record")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
