"""`python -m bench.soak [--minutes 10]`: one healthy feed keeps its pace beside a feed of each hostile kind.

A real `ingest run` daemon (default fetch and extraction settings: per-host delay 1 s, 2
connections per host, timeout 30 s, 3 retries, 2 workers, extract_timeout 30 s; polls every
5-30 s so that the soak sees many polls) reads nine feeds from a local server on 127.0.0.1,
each on its own host name (pinned with INGEST_TEST_HOSTS, so the address guard stays on):

  healthy.test  a feed that gains one new article every BUMP seconds (the one measured)
  regex.test    summaries of "<script>" x 30,000, articles with a 40,000-dot paragraph and a
                0.3 MB head of "<script " (the catastrophic-backtracking inputs of issue 16);
                new links at every poll
  tarpit.test   70 new links per poll to pages that accept the connection and never send headers
  drip.test     a feed sent one byte a second, for ever
  bomb.test     a feed that is a gzip bomb (50 MB of zeros in 50 KB)
  charset.test  articles declaring charset=punycode, 600 KB each
  loop.test     a feed that redirects to itself through a second URL
  huge.test     a 7.6 MB feed of 40,000 items, new links (which answer 404) at every poll
  robots.txt    404 on every host (all allowed)

Every BUMP seconds the healthy feed gains an article; the lag of each is the time from its
appearance in the feed to its row in `articles` (the database is read every 0.5 s). Printed:
per minute the articles added and stored and their lag (max and median), then the worst lag
over the run, articles never stored, the fetch outcomes per hostile host, the size of the
fetch log and the time the daemon took to stop on SIGTERM. Exit 1 when a healthy article took
longer than LATE seconds or was never stored.
"""
from __future__ import annotations

import argparse
import asyncio
import gzip
import html
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml
from aiohttp import web

from ingest.analyse.synth import article

BUMP = 20.0  # seconds between new articles on the healthy feed
LATE = 90.0  # seconds: a healthy article stored later than this counts as late (max poll interval 30 s)
HOSTS = ("healthy", "regex", "tarpit", "drip", "bomb", "charset", "loop", "huge")


class Hostile:
    """The server: one aiohttp app answering by Host name; bodies built once."""

    def __init__(self) -> None:
        self.healthy_items = 1
        self.added: dict[int, float] = {1: time.monotonic()}  # healthy article -> when it appeared in the feed
        self.polls: dict[str, int] = {}
        self.port = 0
        self.bomb = gzip.compress(b"\0" * 50_000_000, compresslevel=9)
        self.punycode_page = ("<html><head><title>Punycode</title></head><body><p>"
                              + "summit-talks-" * 46_000 + "</p></body></html>").encode()
        self.script_summary = "&lt;script&gt;" * 30_000
        self.dots_page = (f"<html><head><title>Dots</title></head><body><article><h1>Dots</h1><p>The summit went on"
                          f"{'.' * 40_000} and on.</p><p>{'Leaders met again on Tuesday. ' * 20}</p>"
                          f"</article></body></html>").encode()
        self.script_head = (f"<html><head><title>Scripts</title>{'<script ' * 40_000}</head><body><article>"
                            f"<p>{'Officials said the talks continued. ' * 20}</p></article></body></html>").encode()

    def bump(self) -> None:
        self.healthy_items += 1
        self.added[self.healthy_items] = time.monotonic()

    def _gen(self, host: str) -> int:
        self.polls[host] = self.polls.get(host, 0) + 1
        return self.polls[host]

    @staticmethod
    def rss(base: str, items: list[tuple[str, str]]) -> web.Response:
        body = "".join(f"<item><title>Item {i}</title><link>{html.escape(base + link)}</link>"
                       f"<description>{summary}</description></item>" for i, (link, summary) in enumerate(items))
        return web.Response(text=f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                                 f"<title>Soak</title><link>{base}/</link>{body}</channel></rss>",
                            content_type="application/rss+xml")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        host = (request.host or "").split(":")[0].removesuffix(".test")
        path = request.path
        base = f"http://{request.host}"
        if path == "/robots.txt":
            return web.Response(status=404, text="none")
        if host == "healthy":
            if path == "/feed.xml":
                return self.rss(base, [(f"/a/{i}", "Healthy news.") for i in range(1, self.healthy_items + 1)])
            title, text = article(int(path.rsplit("/", 1)[1]) + 7_000, paragraphs=8)
            paras = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n"))
            return web.Response(text=f"<html><head><title>{html.escape(title)}</title></head><body><article>"
                                     f"<h1>{html.escape(title)}</h1>{paras}</article></body></html>",
                                content_type="text/html")
        if host == "regex":
            if path == "/feed.xml":
                g = self._gen(host)
                return self.rss(base, [(f"/script/{g}", self.script_summary), (f"/dots/{g}", "Dots."),
                                       (f"/head/{g}", "Head.")])
            body = self.dots_page if path.startswith("/dots/") else self.script_head
            return web.Response(body=body, content_type="text/html")
        if host == "tarpit":
            if path == "/feed.xml":
                g = self._gen(host)
                return self.rss(base, [(f"/hang/{g}-{i}", "Wait.") for i in range(70)])
            await asyncio.sleep(3600)  # never a header
            return web.Response(text="too late")
        if host == "drip":
            resp = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
            await resp.prepare(request)
            for _ in range(3600):
                await resp.write(b" ")
                await asyncio.sleep(1.0)
            return resp
        if host == "bomb":
            return web.Response(body=self.bomb, headers={"Content-Type": "application/rss+xml",
                                                         "Content-Encoding": "gzip"})
        if host == "charset":
            if path == "/feed.xml":
                g = self._gen(host)
                return self.rss(base, [(f"/p/{g}-{i}", "Punycode.") for i in range(3)])
            return web.Response(body=self.punycode_page, headers={"Content-Type": "text/html; charset=punycode"})
        if host == "loop":
            raise web.HTTPFound("/feed2.xml" if path == "/feed.xml" else "/feed.xml")
        if host == "huge":
            if path == "/feed.xml":
                g = self._gen(host)
                return self.rss(base, [(f"/n/{g}-{i}", "Filler.") for i in range(40_000)])
            return web.Response(status=404, text="gone")
        return web.Response(status=404, text="unknown host")

    def serve(self) -> None:
        """Serve on a thread with its own event loop until the process ends."""
        ready = threading.Event()

        async def main() -> None:
            app = web.Application()
            app.router.add_route("GET", "/{tail:.*}", self.handle)
            runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            await asyncio.Event().wait()

        threading.Thread(target=asyncio.run, args=(main(),), daemon=True, name="soak-server").start()
        ready.wait(30)


def stored_healthy(db: Path, port: int) -> set[int]:
    prefix = f"http://healthy.test:{port}/a/"
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return set()
    try:
        rows = conn.execute("SELECT url FROM articles WHERE url LIKE ?", (prefix + "%",)).fetchall()
    except sqlite3.Error:
        return set()
    finally:
        conn.close()
    return {int(u[len(prefix):]) for (u,) in rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="how long the daemon runs (default 10)")
    ap.add_argument("--keep", metavar="DIR", help="keep the database and the daemon's log in DIR")
    ap.add_argument("-v", "--verbose", action="store_true", help="the daemon logs at debug level")
    args = ap.parse_args()

    site = Hostile()
    site.serve()
    work = Path(args.keep or tempfile.mkdtemp(prefix="ingest-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    db, log = work / "soak.db", work / "daemon.log"
    feeds = [f"http://{h}.test:{site.port}/feed.xml" for h in HOSTS]
    (work / "soak.yaml").write_text(yaml.safe_dump({
        "database": str(db), "feeds": feeds, "workers": 2,
        "schedule": {"min_interval": 5.0, "default_interval": 10.0, "max_interval": 30.0}}))
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               INGEST_TEST_HOSTS=",".join(f"{h}.test=127.0.0.1" for h in HOSTS))
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ingest", "run", "--config", str(work / "soak.yaml"),
                                 *(["-v"] if args.verbose else [])],
                                stdout=out, stderr=out, env=env, start_new_session=True)
    print(f"soak: {args.minutes:g} min, daemon pid {proc.pid}, work in {work}; a new healthy article every "
          f"{BUMP:g} s, late after {LATE:g} s")
    print("minute  added  stored  lag max  lag median  waiting (oldest)")
    started = time.monotonic()
    end = started + args.minutes * 60
    next_bump, next_line, minute = started + BUMP, started + 60, 1
    lags: dict[int, float] = {}
    minute_added: list[int] = []
    try:
        while time.monotonic() < end and proc.poll() is None:
            now = time.monotonic()
            if now >= next_bump:
                site.bump()
                minute_added.append(site.healthy_items)
                next_bump += BUMP
            for n in stored_healthy(db, site.port) - set(lags):
                lags[n] = time.monotonic() - site.added[n]
            if now >= next_line:
                _line(minute, minute_added, lags, site)
                minute_added, minute, next_line = [], minute + 1, next_line + 60
            time.sleep(0.5)
        if minute_added:
            _line(minute, minute_added, lags, site)
    finally:
        sent = time.monotonic()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
        stop = time.monotonic() - sent
    never = sorted(set(site.added) - set(lags))
    worst = max(lags.values(), default=float("nan"))
    print(f"healthy: {len(site.added)} articles added, {len(lags)} stored, worst lag {worst:.1f} s, "
          f"median {statistics.median(lags.values()) if lags else float('nan'):.1f} s, never stored: {never or 'none'}")
    _hostile_summary(db)
    print(f"daemon stopped {stop:.1f} s after SIGTERM, exit {code}; database {db.stat().st_size / 1e6:.1f} MB")
    late = [n for n, lag in lags.items() if lag > LATE]
    # the last article may have appeared moments before the end: only older ones count as never stored
    missed = [n for n in never if time.monotonic() - site.added[n] > LATE + stop]
    sys.exit(1 if late or missed or code != 0 else 0)


def _line(minute: int, added: list[int], lags: dict[int, float], site: Hostile) -> None:
    these = [lags[n] for n in added if n in lags]
    waiting = [time.monotonic() - site.added[n] for n in site.added if n not in lags]
    print(f"{minute:6d}  {len(added):5d}  {len(these):6d}  {max(these, default=0):7.1f}  "
          f"{statistics.median(these) if these else 0:10.1f}  {len(waiting)} ({max(waiting, default=0):.0f} s)",
          flush=True)


def _hostile_summary(db: Path) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute("SELECT url, kind, outcome FROM fetches").fetchall()
        total = conn.execute("SELECT count(*) FROM fetches").fetchone()[0]
    finally:
        conn.close()
    per: dict[str, dict[str, int]] = {}
    for url, kind, outcome in rows:
        host = url.split("//", 1)[1].split(":", 1)[0].removesuffix(".test")
        key = f"{kind} {outcome}"
        per.setdefault(host, {}).setdefault(key, 0)
        per[host][key] += 1
    for host in HOSTS:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(per.get(host, {}).items(), key=lambda kv: -kv[1]))
        print(f"  {host:8s} {counts or 'no fetch logged'}")
    print(f"fetch log: {total} rows")


if __name__ == "__main__":
    main()
