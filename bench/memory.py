"""`python -m bench.memory`: peak RSS of ingesting 10k articles and of exporting 100k.

1. ingest: the real `ingest run --once` CLI over 8 local hosts on 127.0.0.1 whose feeds list
   10,000 synthetic articles (ingest/analyse/synth.py, generated on request by a server
   process). The CLI process and every descendant (forkserver, extraction workers) are
   sampled from /proc every 0.1 s; the peaks of the main process, of the largest worker and
   of the whole tree are reported, with the RSS at 10%, 50% and 100% of the run (flat = bounded).
2. export: a database with 100,000 articles of synthetic text (bulk-filled), exported with
   the real `ingest export` CLI to JSONL, CSV and Parquet; peak RSS of each.

Target: each peak (main process; whole tree reported too) under 500 MB.
"""
from __future__ import annotations

import argparse
import html
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.throughput import PORTS, ROOT, ServerProcess, Site, serve_forever

LIMIT_MB = 500


# --- synthetic site ---------------------------------------------------------------------------------------
def synthetic_page(i: int) -> bytes:
    from ingest.analyse.synth import article  # noqa: PLC0415

    title, text = article(1_000_000 + i, paragraphs=6 + i % 9)
    paras = "\n".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n"))
    nav = "".join(f"<li><a href='/section/{k}'>Section {k}</a></li>" for k in range(30))
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<meta property='og:title' content='{html.escape(title)}'>"
            f"<meta property='article:published_time' content='2018-06-12T08:00:00+00:00'></head><body>"
            f"<header><ul>{nav}</ul></header><main><article><h1>{html.escape(title)}</h1>{paras}</article></main>"
            f"<aside>{'<p>Related: more stories from the region.</p>' * 5}</aside><footer>(c) 2018</footer>"
            f"</body></html>").encode()


def _serve_main(argv: list[str]) -> None:
    n = int(argv[argv.index("--n") + 1])
    serve_forever(lambda: Site(n, [], synthetic_page), PORTS)


# --- RSS sampling -------------------------------------------------------------------------------------------
def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int:
    """Proportional set size: shared pages (the forkserver's, copied on write) counted once overall."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def _tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


class Sampler(threading.Thread):
    """Peak RSS of a process and its descendants, sampled every `every` seconds."""

    def __init__(self, pid: int, every: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.main_peak = self.child_peak = self.tree_peak = self.pss_peak = 0
        self.timeline: list[tuple[float, int, int]] = []  # (t, main kB, tree kB)
        self._halt = threading.Event()

    def run(self):
        t0 = time.perf_counter()
        while not self._halt.is_set():
            pids = _tree(self.pid)
            rss = {p: _rss_kb(p) for p in pids}
            main = rss.get(self.pid, 0)
            kids = [v for p, v in rss.items() if p != self.pid]
            tree = sum(rss.values())
            self.pss_peak = max(self.pss_peak, sum(_pss_kb(p) for p in pids))
            self.main_peak = max(self.main_peak, main)
            self.child_peak = max([self.child_peak] + kids)
            self.tree_peak = max(self.tree_peak, tree)
            self.timeline.append((time.perf_counter() - t0, main, tree))
            self._halt.wait(self.every)

    def stop(self):
        self._halt.set()
        self.join()

    def at(self, frac: float) -> tuple[int, int]:
        if not self.timeline:
            return 0, 0
        _, m, t = self.timeline[min(len(self.timeline) - 1, int(frac * (len(self.timeline) - 1)))]
        return m, t


def run_sampled(cmd: list[str], **kw) -> tuple[subprocess.CompletedProcess, Sampler, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, **kw)
    s = Sampler(proc.pid)
    s.start()
    proc.wait()
    s.stop()
    return proc, s, time.perf_counter() - started


def mb(kb: int) -> str:
    return f"{kb / 1024:.0f}"


# --- 1. ingest ---------------------------------------------------------------------------------------------
def bench_ingest(n: int, work: Path) -> tuple[Sampler, float, int]:
    import yaml  # noqa: PLC0415

    with ServerProcess("bench.memory", ["--n", str(n)]) as srv:
        db = work / "ingest.db"
        cfg = {"database": str(db), "feeds": [{"url": f"http://127.0.0.1:{p}/feed.xml"} for p in srv.ports],
               "topics": [], "workers": 2,
               "fetch": {"allow_private_addresses": True, "per_host_delay": 0.0, "per_host_concurrency": 8,
                         "retries": 1, "timeout": 120}}
        (work / "ingest.yaml").write_text(yaml.safe_dump(cfg))
        with open(work / "ingest.log", "w") as log:
            proc, s, wall = run_sampled([sys.executable, "-m", "ingest", "run", "--once", "--config",
                                         str(work / "ingest.yaml"), "--log-format", "json"], stdout=log, stderr=log)
    if proc.returncode != 0:
        raise SystemExit(f"ingest failed ({proc.returncode}); log: {work / 'ingest.log'}")
    conn = sqlite3.connect(db)
    stored = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    conn.close()
    return s, wall, stored


# --- 2. export ---------------------------------------------------------------------------------------------
def fill_export_db(path: Path, n: int) -> float:
    """n articles, one version each, synthetic text (~400-900 words), through the real schema (FTS included)."""
    from ingest.analyse.synth import article  # noqa: PLC0415
    from ingest.store.sqlite.connection import open_writer as open_db  # noqa: PLC0415

    t0 = time.perf_counter()
    db = open_db(path)
    c = db.conn
    rng = random.Random(3)
    t = "2018-06-12T08:00:00+00:00"
    for start in range(0, n, 2000):
        c.execute("BEGIN")
        for i in range(start + 1, min(n, start + 2000) + 1):
            title, text = article(5_000_000 + i, paragraphs=rng.randint(6, 14))
            site = f"site{i % 300}.example"
            url = f"https://{site}/news/{i}"
            c.execute("INSERT INTO articles (id, url, url_key, site, first_seen, last_seen, published, topics, "
                      "current_version, versions) VALUES (?, ?, ?, ?, ?, ?, ?, '[\"trump-kim-summit\"]', 1, 1)",
                      (i, url, f"{site}/news/{i}", site, t, t, t))
            c.execute("INSERT INTO versions (article_id, n, fetched_at, title, text, text_hash, title_hash, change, "
                      "language, extractor) VALUES (?, 1, ?, ?, ?, ?, '', 'first', 'en', 'bench')",
                      (i, t, title, text, f"h{i}"))
        c.execute("COMMIT")
    c.close()
    return time.perf_counter() - t0


def bench_export(db: Path, work: Path) -> list[tuple[str, Sampler, float, int]]:
    out = []
    for fmt in ("jsonl", "csv", "parquet"):
        target = work / f"export.{fmt}"
        proc, s, wall = run_sampled([sys.executable, "-m", "ingest", "export", "--db", str(db), "--format", fmt,
                                     "--output", str(target)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        if proc.returncode != 0:
            out.append((f"{fmt} (failed: {err.splitlines()[-1:] if err else proc.returncode})", s, wall, 0))
            continue
        out.append((fmt, s, wall, target.stat().st_size))
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--serve" in argv:
        _serve_main(argv)
        return 0
    ap = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.split("\n")[0])
    ap.add_argument("--ingest", type=int, default=10_000, help="articles ingested (0: skip)")
    ap.add_argument("--export", type=int, default=100_000, help="articles in the exported database (0: skip)")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="ingest-mem-"))
    print(f"bench.memory: load {' '.join(f'{x:.2f}' for x in os.getloadavg())}; RSS in MB (limit {LIMIT_MB})")
    ok = True
    try:
        if a.ingest:
            s, wall, stored = bench_ingest(a.ingest, work)
            print(f"ingest run --once, {a.ingest:,} articles listed, {stored:,} stored in {wall:.0f} s "
                  f"({stored / wall:.0f}/s):")
            print(f"  peak RSS: main process {mb(s.main_peak)}, largest worker {mb(s.child_peak)}, "
                  f"whole tree {mb(s.tree_peak)} RSS / {mb(s.pss_peak)} PSS (main + forkserver + 2 workers; "
                  f"RSS counts pages shared with the forkserver once per process, PSS once overall)")
            print("  main / tree RSS at 10% / 50% / 100% of the run: "
                  + ", ".join(f"{mb(m)}/{mb(t)}" for m, t in (s.at(0.1), s.at(0.5), s.at(1.0))))
            ok &= s.main_peak / 1024 < LIMIT_MB and s.child_peak / 1024 < LIMIT_MB
        if a.export:
            db = work / "export.db"
            fill_s = fill_export_db(db, a.export)
            print(f"export of {a.export:,} articles ({db.stat().st_size / 1e6:.0f} MB database, filled in {fill_s:.0f} s):")
            for fmt, s, wall, size in bench_export(db, work):
                print(f"  {fmt:8} {wall:6.1f} s  {size / 1e6:7.0f} MB written  peak RSS {mb(s.main_peak)} "
                      f"(tree {mb(s.tree_peak)})")
                ok &= s.main_peak / 1024 < LIMIT_MB
        print("all peaks under the limit" if ok else "a peak is over the limit")
    finally:
        if a.keep:
            print(f"work directory kept: {work}")
        else:
            import shutil  # noqa: PLC0415

            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
