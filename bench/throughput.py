"""`python -m bench.throughput`: end-to-end pages/s against the CPU ceiling and today's tools.

A local site on 127.0.0.1 (several ports = several hosts, one RSS feed each) serves N real
news pages from ../shared/corpora (trafilatura, goose3, newspaper4k and Readability test
pages, read at run time, never copied). In one run, on the same pages, it measures:

  ceiling      trafilatura.bare_extraction (ingest's options) on the files from disk,
               2 processes, no I/O at all: the CPU bound of the extraction step
  ingest       the real `ingest run --once` CLI (fetch, decode, extract, fingerprint,
               analyse, store in SQLite), per_host_delay 0, topics off
  ingest+50ms  the same with 50 ms of server latency on every response
  backfill     the real `ingest backfill --urls FILE` over the same article URLs (0 and 50 ms)
  trafilatura  trafilatura's own CLI fetching the URL list (`-i urls.txt --parallel P`,
               SLEEP_TIME 0, SSRF protection off for 127.0.0.1)
  newspaper4k  newspaper4k's fetch_news() over the same URLs (threads; images not fetched).
               It is not a dependency: it is looked for in $BENCH_NEWSPAPER_PATH (a
               `pip install --target` directory) or the current environment.

Each figure is pages/s (pages listed / wall seconds, process start to exit included for
the CLIs) and its ratio to the ceiling. Quality: the text ingest stored for each page is
compared with trafilatura's direct output for the same bytes (identical / near / differ).

Without ../shared the benchmark prints a note and exits 0. Only 127.0.0.1 is used.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from eval.corpora import page_files, read_page
from ingest.records import Candidate

ROOT = Path(__file__).resolve().parent.parent
PORTS = 8  # hosts; each has its own feed
DEFAULT_NEWSPAPER_PATH = "/work/bench-deps/newspaper4k"


# --- a small, cheap HTTP/1.1 server (keep-alive, optional latency) --------------------------------
class Site:
    """Page i is /p/i.html on port number i % len(ports); each port has /feed.xml and /robots.txt."""

    def __init__(self, n: int, ports: list[int], page, latency: float = 0.0):
        self.n, self.ports, self.page, self.latency = n, ports, page, latency
        self.hits = 0

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i % len(self.ports)]}/p/{i}.html"

    def urls(self) -> list[str]:
        return [self.url(i) for i in range(self.n)]

    def feed(self, k: int) -> bytes:
        now = datetime(2018, 6, 12, tzinfo=UTC)
        items = []
        for i in range(k, self.n, len(self.ports)):
            u = self.url(i)
            when = format_datetime(now - timedelta(minutes=i))
            items.append(f"<item><title>Page {i}</title><link>{u}</link><guid>{u}</guid><pubDate>{when}</pubDate></item>")
        return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>bench</title>'
                f"<link>http://127.0.0.1:{self.ports[k]}/</link><description>bench</description>"
                + "".join(items) + "</channel></rss>").encode()

    def respond(self, port_index: int, path: str) -> tuple[int, str, bytes]:
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nAllow: /\n"
        if path == "/feed.xml":
            return 200, "application/rss+xml", self.feed(port_index)
        m = re.fullmatch(r"/p/(\d+)\.html", path.split("?")[0])
        if m and int(m.group(1)) < self.n:
            self.hits += 1
            return 200, "text/html", self.page(int(m.group(1)))
        return 404, "text/plain", b"not found"


class _Http(asyncio.Protocol):
    def __init__(self, site: Site, port_index: int):
        self.site, self.k, self.buf, self.t = site, port_index, b"", None

    def connection_made(self, transport):
        self.t = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            parts = head.split(b"\r\n", 1)[0].split()
            method, path = (parts[0], parts[1].decode("latin-1")) if len(parts) > 1 else (b"GET", "/")
            close = b"connection: close" in head.lower()
            status, ctype, body = self.site.respond(self.k, path)
            reason = b"OK" if status == 200 else b"Not Found"
            resp = (b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n"
                    % (status, reason, ctype.encode(), len(body), b"Connection: close\r\n" if close else b""))
            if method != b"HEAD":
                resp += body
            if self.site.latency > 0 and path.startswith("/p/"):
                asyncio.get_running_loop().call_later(self.site.latency, self._send, resp, close)
            else:
                self._send(resp, close)

    def _send(self, resp: bytes, close: bool) -> None:
        if self.t is None or self.t.is_closing():
            return
        self.t.write(resp)
        if close:
            self.t.close()

    def connection_lost(self, exc):
        self.t = None


async def serve(site: Site, n_ports: int) -> list:
    loop = asyncio.get_running_loop()
    servers = []
    for k in range(n_ports):
        srv = await loop.create_server(lambda k=k: _Http(site, k), "127.0.0.1", 0, backlog=1024)
        servers.append(srv)
        site.ports.append(srv.sockets[0].getsockname()[1])
    return servers


def serve_forever(make_site, n_ports: int) -> None:
    """In the server subprocess: bind, print the ports as one JSON line, serve until stdin closes."""
    async def main():
        site = make_site()
        servers = await serve(site, n_ports)
        print(json.dumps({"ports": site.ports}), flush=True)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_reader(sys.stdin.fileno(), stop.set)
        await stop.wait()
        for s in servers:
            s.close()

    asyncio.run(main())


class ServerProcess:
    """The site in its own process (as a real site would be), started with `python -m bench.<mod> --serve ...`."""

    def __init__(self, module: str, args: list[str]):
        self.cmd = [sys.executable, "-m", module, "--serve", *args]
        self.proc = None
        self.ports: list[int] = []

    def __enter__(self):
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("bench server did not start")
        self.ports = json.loads(line)["ports"]
        return self

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def site(self, n: int) -> Site:
        return Site(n, list(self.ports), page=None)


# --- the contenders ---------------------------------------------------------------------------------
def _trafilatura_direct(job: tuple[str, str]) -> tuple[str, str]:
    """In a worker: trafilatura's text and metadata extraction on the page bytes straight from disk.

    The options are those ingest used to ask trafilatura for (with_metadata, tables, no
    dedup, htmldate's quick date search): what it costs trafilatura's API to give ingest the
    fields it stores. ingest now computes only those fields (ingest/extract/metadata.py),
    which `_ingest_extraction` measures.
    """
    import trafilatura  # noqa: PLC0415

    path, url = job
    doc = trafilatura.bare_extraction(read_page(path), url=url, with_metadata=True, deduplicate=False,
                                      include_comments=False, include_tables=True,
                                      date_extraction_params={"extensive_search": False, "original_date": True})
    return url, ((doc.text or "").strip() if doc is not None else "")


def _ingest_extraction(job: tuple[str, str]) -> tuple[str, str]:
    """In a worker: ingest's own extraction step on the page bytes from disk (charset decode,
    then worker.extract_document with the feed's date, as the benchmark's pages have one):
    everything the pipeline adds beyond this (fetch, fingerprint, analysis, storage, hand-offs)
    is its overhead."""
    from ingest.extract.worker import extract_document  # noqa: PLC0415
    from ingest.fetch.charset import decode  # noqa: PLC0415

    path, url = job
    doc = extract_document(decode(read_page(path), "text/html").text, url, _FEED_DATED)
    return url, doc.text if doc is not None else ""


# every benchmark page is listed in a feed with a date (Site.feed)
_FEED_DATED = Candidate(url="", source="feed", feed_url=None, guid="", title="Page",
                        published=datetime(2018, 6, 12, tzinfo=UTC))


def ceiling(files: list[Path], urls: list[str], extract=_trafilatura_direct, workers: int = 2,
            name: str = "ceiling") -> tuple[float, dict[str, str]]:
    """Wall seconds for `extract` on every page in `workers` processes (startup included), and the texts."""
    import multiprocessing  # noqa: PLC0415

    sampler = CpuSampler(os.getpid())
    sampler.start()
    started = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver")) as ex:
        texts = dict(ex.map(extract, [(str(f), u) for f, u in zip(files, urls)], chunksize=2))
    wall = time.perf_counter() - started
    sampler.stop()
    print(f"    {name}: {wall:.1f} s wall; CPU: forkserver + workers {sampler.workers():.1f} s", flush=True)
    return wall, texts


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of one live process (all its threads), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14 and 15 of stat)


class CpuSampler(threading.Thread):
    """CPU seconds of a process and each of its descendants, sampled every `every` seconds.

    Where the CPU of an ingest run goes (main process vs forkserver vs workers) and how much of
    the wall time the workers were busy: the workers are grandchildren reaped by the
    forkserver, so getrusage(RUSAGE_CHILDREN) cannot see them. A process's last sample is
    kept after it exits (up to `every` seconds of its CPU are missed).
    """

    def __init__(self, pid: int, every: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.cpu: dict[int, float] = {}
        self.base: dict[int, float] = {}  # CPU of processes that already ran when sampling started
        self.timeline: list[tuple[float, float]] = []  # (seconds since start, worker CPU seconds so far)
        self._halt = threading.Event()

    def run(self):
        from bench.memory import _tree  # noqa: PLC0415

        t0 = time.perf_counter()
        first = True
        while not self._halt.is_set():
            for p in _tree(self.pid):
                c = _cpu_s(p)
                if c is not None:
                    if first:
                        self.base[p] = c
                    self.cpu[p] = c
            first = False
            self.timeline.append((time.perf_counter() - t0, self.workers()))
            self._halt.wait(self.every)

    def stop(self):
        self._halt.set()
        self.join()

    def main(self) -> float:
        return self.cpu.get(self.pid, 0.0) - self.base.get(self.pid, 0.0)

    def workers(self) -> float:
        """CPU of every descendant since sampling started: the forkserver (small: it only forks) and
        the workers (and, when sampling the benchmark itself, its idle site servers)."""
        return sum(c - self.base.get(p, 0.0) for p, c in self.cpu.items() if p != self.pid)

    def busy_span(self, cores: float = 1.5) -> tuple[float, float]:
        """(first, last) second at which the descendants used more than `cores` over a 0.5 s window."""
        tl, spans = self.timeline, []
        for i, (t, c) in enumerate(tl):
            j = next((k for k in range(i, len(tl)) if tl[k][0] >= t + 0.5), None)
            if j is not None and (tl[j][1] - c) / (tl[j][0] - t) > cores:
                spans.append(t)
        return (spans[0], spans[-1] + 0.5) if spans else (0.0, 0.0)


def run_ingest(site: Site, work: Path, name: str, concurrency: int = 8, backfill: bool = False) -> tuple[float, dict]:
    """The real CLI, wall time from process start to exit: `python -m ingest run --once` (the
    feeds polled, then their articles), or `backfill --urls FILE` over the same article URLs."""
    import yaml  # noqa: PLC0415

    db = work / f"{name}.db"
    cfg = {"database": str(db), "feeds": [{"url": f"http://127.0.0.1:{p}/feed.xml"} for p in site.ports],
           "topics": [], "workers": 2,
           "fetch": {"allow_private_addresses": True, "per_host_delay": 0.0, "per_host_concurrency": concurrency,
                     "retries": 1, "timeout": 120}}
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with open(work / f"{name}.log", "w") as logf:
        started = time.perf_counter()
        if backfill:
            (work / "urls.txt").write_text("\n".join(site.urls()) + "\n")
            command = ["backfill", "--urls", str(work / "urls.txt")]
        else:
            command = ["run", "--once"]
        proc = subprocess.Popen([sys.executable, "-m", "ingest", *command, "--config", str(path),
                                 "--log-format", "json"], cwd=ROOT, stdout=logf, stderr=logf)
        sampler = CpuSampler(proc.pid)
        sampler.start()
        try:
            returncode = proc.wait(timeout=900)
        finally:
            sampler.stop()
        wall = time.perf_counter() - started
    first, last = sampler.busy_span()
    print(f"    {name}: {wall:.1f} s wall; CPU: main process {sampler.main():.1f} s, forkserver + workers "
          f"{sampler.workers():.1f} s; workers busy (>1.5 cores) from {first:.1f} s to {last:.1f} s", flush=True)
    if returncode != 0:
        raise RuntimeError(f"ingest exited {returncode}, see {work / (name + '.log')}")
    conn = sqlite3.connect(db)
    texts = dict(conn.execute("SELECT a.url, v.text FROM articles a JOIN versions v ON v.article_id = a.id "
                              "AND v.n = a.current_version"))
    conn.close()
    return wall, texts


def run_trafilatura_cli(site: Site, work: Path, parallel: int) -> tuple[float, int]:
    exe = Path(sys.executable).with_name("trafilatura")
    if not exe.exists():
        return float("nan"), 0
    (work / "urls.txt").write_text("\n".join(site.urls()) + "\n")
    conf = work / "trafilatura.cfg"
    src = Path(__import__("trafilatura").__file__).with_name("settings.cfg").read_text()
    src = re.sub(r"(?m)^SLEEP_TIME = .*$", "SLEEP_TIME = 0", src)
    src = re.sub(r"(?m)^SSRF_PROTECTION = .*$", "SSRF_PROTECTION = off", src)
    conf.write_text(src)
    out = work / "trafilatura-out"
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([str(exe), "-i", str(work / "urls.txt"), "-o", str(out), "--parallel", str(parallel),
                    "--config-file", str(conf)], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=900)
    wall = time.perf_counter() - started
    return wall, sum(1 for f in out.rglob("*") if f.is_file()) if out.exists() else 0


NEWSPAPER_SCRIPT = r"""
import json, sys, warnings
from concurrent.futures import ThreadPoolExecutor
warnings.filterwarnings("ignore")
import newspaper
from newspaper import Article, Config
urls = open(sys.argv[1]).read().split()
cfg = Config()
cfg.fetch_images = False     # text only (image fetching would go to the internet)
cfg.request_timeout = 120

def one(url):                # what newspaper.mthreading.fetch_news does per URL, minus its
    a = Article(url, config=cfg)  # all-or-nothing error handling (one Arabic page needs nltk)
    try:
        a.download()
        a.parse()
        return bool((a.text or "").strip()), ""
    except Exception as e:
        return False, type(e).__name__

with ThreadPoolExecutor(int(sys.argv[2])) as ex:
    results = list(ex.map(one, urls))
print(json.dumps({"ok": sum(ok for ok, _ in results), "errors": sum(1 for _, e in results if e),
                  "version": newspaper.__version__}))
"""


def run_newspaper(site: Site, work: Path, threads: int) -> tuple[float, int, str]:
    path = os.environ.get("BENCH_NEWSPAPER_PATH", DEFAULT_NEWSPAPER_PATH)
    env = dict(os.environ)
    if Path(path).is_dir():
        env["PYTHONPATH"] = path + os.pathsep + env.get("PYTHONPATH", "")
    probe = subprocess.run([sys.executable, "-c", "import newspaper"], env=env, capture_output=True)
    if probe.returncode != 0:
        return float("nan"), 0, "not installed"
    (work / "urls.txt").write_text("\n".join(site.urls()) + "\n")
    script = work / "np4k.py"
    script.write_text(NEWSPAPER_SCRIPT)
    started = time.perf_counter()
    r = subprocess.run([sys.executable, str(script), str(work / "urls.txt"), str(threads)], env=env, cwd=work,
                       capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - started
    try:
        info = json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return wall, 0, f"failed: {r.stderr.strip().splitlines()[-1:]}"
    return wall, info["ok"], f'{info["version"]} ({info["errors"]} pages raised)'


# --- quality ----------------------------------------------------------------------------------------
def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _shingles(text: str) -> set:
    w = _norm(text).lower().split()
    return {" ".join(w[i:i + 3]) for i in range(max(1, len(w) - 2))} if w else set()


def compare(ours: dict[str, str], reference: dict[str, str]) -> dict[str, int]:
    """Per page: identical (same text up to whitespace), near (3-word-shingle Jaccard >= 0.9), differ, or
    extracted by only one side."""
    out = {"identical": 0, "near": 0, "differ": 0, "only_reference": 0, "only_ingest": 0, "neither": 0}
    for url, ref in reference.items():
        mine = ours.get(url, "")
        if not ref.strip() and not mine.strip():
            out["neither"] += 1
        elif not mine.strip():
            out["only_reference"] += 1
        elif not ref.strip():
            out["only_ingest"] += 1
        elif _norm(mine) == _norm(ref):
            out["identical"] += 1
        else:
            a, b = _shingles(mine), _shingles(ref)
            out["near" if a and b and len(a & b) / len(a | b) >= 0.9 else "differ"] += 1
    return out


# --- main ---------------------------------------------------------------------------------------------
def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _serve_main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--ports", type=int, default=PORTS)
    a = ap.parse_args(argv)
    files = page_files(a.limit)
    bodies = [read_page(f) for f in files]
    serve_forever(lambda: Site(len(bodies), [], bodies.__getitem__, a.latency), a.ports)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--serve" in argv:
        _serve_main(argv)
        return 0
    ap = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=2000, help="pages at most (default: all, about 1400)")
    ap.add_argument("--rounds", type=int, default=5,
                    help="the ceiling and the ingest runs are measured this many times, interleaved; the median "
                         "of each is reported with its range")
    ap.add_argument("--skip", default="", help="comma-separated: latency,backfill,trafilatura,newspaper4k")
    ap.add_argument("--latency", type=float, default=0.05, help="server latency of the latency run, seconds")
    ap.add_argument("--parallel", type=int, default=8, help="download threads of trafilatura/newspaper4k")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (databases, logs)")
    a = ap.parse_args(argv)
    skip = set(filter(None, a.skip.split(",")))
    files = page_files(a.limit)
    if not files:
        print("bench.throughput: ../shared/corpora not found (set INGEST_SHARED); nothing measured.")
        return 0
    n = len(files)
    work = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    print(f"bench.throughput: {n} real pages ({sum(f.stat().st_size for f in files) / 1e6:.0f} MB on disk), "
          f"{PORTS} hosts on 127.0.0.1, {os.cpu_count()} CPUs, load {_load()}", flush=True)
    runs: dict[str, list[float]] = {}
    notes: dict[str, str] = {}

    def record(label: str, wall: float, note: str = "") -> None:
        runs.setdefault(label, []).append(wall)
        notes[label] = note
        print(f"  {label}: {wall:.1f} s ({n / wall:.1f} pages/s), load {_load()}", flush=True)

    ceil_label, ingest_label = "ceiling: trafilatura from disk, 2 processes, no I/O", "ingest run --once"
    own_label = "ingest's extraction step from disk, 2 processes"
    lat_label = f"ingest run --once, {a.latency * 1000:.0f} ms server latency"
    fill_label, fill_lat_label = "ingest backfill --urls", f"ingest backfill --urls, {a.latency * 1000:.0f} ms latency"
    try:
        args = ["--limit", str(n)]
        with ServerProcess("bench.throughput", args) as srv, \
                ServerProcess("bench.throughput", [*args, "--latency", str(a.latency)]) as slow:
            site, slow_site = srv.site(n), slow.site(n)
            for r in range(a.rounds):
                wall, direct = ceiling(files, site.urls())
                record(ceil_label, wall, f"{sum(1 for t in direct.values() if t)} texts")
                wall, own = ceiling(files, site.urls(), _ingest_extraction, name="extraction step")
                record(own_label, wall, f"{sum(1 for t in own.values() if t)} texts")
                server_cpu = _cpu_s(srv.proc.pid) or 0.0
                wall, ours = run_ingest(site, work, f"ingest-{r}")
                print(f"    site server: {(_cpu_s(srv.proc.pid) or 0.0) - server_cpu:.1f} s CPU", flush=True)
                record(ingest_label, wall, f"{len(ours)} stored")
                if "latency" not in skip:
                    wall, _ = run_ingest(slow_site, work, f"latency-{r}")
                    record(lat_label, wall)
                if "backfill" not in skip:
                    wall, filled = run_ingest(site, work, f"backfill-{r}", backfill=True)
                    record(fill_label, wall, f"{len(filled)} stored")
                    if "latency" not in skip:
                        wall, _ = run_ingest(slow_site, work, f"backfill-latency-{r}", backfill=True)
                        record(fill_lat_label, wall)
            if "trafilatura" not in skip:
                w, k = run_trafilatura_cli(site, work, a.parallel)
                record(f"trafilatura CLI -i urls.txt --parallel {a.parallel}", w, f"{k} files written")
            if "newspaper4k" not in skip:
                w, k, ver = run_newspaper(site, work, a.parallel)
                record(f"newspaper4k {ver.split(' ')[0]}, {a.parallel} threads", w, f"{k} texts; {ver}")
        mid_ceiling, mid_own = statistics.median(runs[ceil_label]), statistics.median(runs[own_label])
        print(f"\nload after: {_load()}; median of {a.rounds} interleaved rounds (range: the ratio of each round "
              f"to the median ceiling)\n")
        print(f"{'':52} {'seconds':>8} {'pages/s':>8} {'x ceiling':>9} {'range':>11} {'x extraction step':>17}")
        for label, walls in runs.items():
            wall = statistics.median(walls)
            spread = f"{mid_ceiling / max(walls):.2f}-{mid_ceiling / min(walls):.2f}"
            print(f"{label:52} {wall:8.1f} {n / wall:8.1f} {mid_ceiling / wall:9.2f} {spread:>11} "
                  f"{mid_own / wall:17.2f}  {notes[label]}")
        q = compare(ours, direct)
        print(f"\nquality, ingest's stored text vs trafilatura direct on the same bytes ({n} pages): "
              + ", ".join(f"{k} {v}" for k, v in q.items()))
        if lat_label in runs:
            ing, lat = statistics.median(runs[ingest_label]), statistics.median(runs[lat_label])
            print(f"latency: {a.latency * 1000:.0f} ms per response changes throughput by {100 * (ing / lat - 1):+.1f}%")
    finally:
        if a.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
