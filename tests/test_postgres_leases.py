"""Politeness across processes on PostgreSQL: host leases in the database (ingest/run/leases.py)."""
from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from conftest import write_config
from test_postgres_writers import finish

from ingest.config import Config
from ingest.demo.site import render_page
from ingest.demo.stories import summit_story
from ingest.store import open_store

pytestmark = pytest.mark.timeout(300)
DELAY = 0.3
PAGES = 6


class LoggingSite:
    """One host: a feed of PAGES summit articles; every request is slow and logged (start, end)."""

    def __init__(self):
        self.log: list[tuple[float, float, str]] = []
        self.stories = [summit_story(700 + i, datetime(2018, 6, 12, tzinfo=UTC) + timedelta(hours=i))
                        for i in range(PAGES)]
        self.port = 0
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    async def handle(self, request: web.Request) -> web.Response:
        start = time.monotonic()
        await asyncio.sleep(0.1)
        base = f"http://127.0.0.1:{self.port}"
        if request.path == "/feed.xml":
            items = "".join(f"<item><title>{s.title}</title><link>{base}/{s.slug}</link><guid>{s.slug}</guid></item>"
                            for s in self.stories)
            body, ctype = f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>', \
                "application/rss+xml"
        else:
            story = next((s for s in self.stories if request.path == f"/{s.slug}"), None)
            if story is None:
                self.log.append((start, time.monotonic(), request.path))
                raise web.HTTPNotFound()
            body, ctype = render_page("site", story, f"{base}/{story.slug}"), "text/html"
        self.log.append((start, time.monotonic(), request.path))
        return web.Response(text=body, content_type=ctype)

    def __enter__(self):
        threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True).start()
        assert self._ready.wait(10)
        return self

    async def _serve(self):
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def __exit__(self, *exc):
        self._loop.call_soon_threadsafe(self._stop.set)


def test_two_daemons_never_exceed_a_hosts_concurrency_or_delay(tmp_path, pg_url):
    import subprocess
    import sys

    with LoggingSite() as site:
        cfg = write_config(tmp_path / "c.yaml", tmp_path / "unused.db", [f"http://127.0.0.1:{site.port}/feed.xml"],
                           topics=[], per_host_concurrency=1, per_host_delay=DELAY, obey_robots=False)
        procs = [subprocess.Popen([sys.executable, "-m", "ingest", "run", "--once", "--config", str(cfg), "--db",
                                   pg_url, "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        for p in procs:
            finish(p)
        log = sorted(site.log)
    assert len(log) == 2 * (1 + PAGES)  # each daemon read the feed and every page (run --once re-fetches)
    for (s1, e1, _), (s2, _, _) in zip(log, log[1:]):
        assert s2 >= e1 - 0.01, "two requests to the host at once"  # concurrency 1 across both daemons
        assert s2 - s1 >= DELAY - 0.05, "the host's delay was not kept across daemons"


def test_a_lease_is_renewed_while_held_and_taken_over_after_expiry(pg_url):
    async def main():
        async with open_store(Config(database=pg_url)) as store:
            leases = store.leases
            assert await leases.claim("a.example", "one", 1.0)
            assert not await leases.claim("a.example", "two", 1.0)  # held by a live owner
            await asyncio.sleep(0.6)
            assert await leases.renew(["a.example"], "one", 1.0) == {"a.example"}
            await asyncio.sleep(0.6)
            assert not await leases.claim("a.example", "two", 1.0)  # renewed: still one's
            await asyncio.sleep(0.6)  # one stops renewing (killed): the lease expires
            assert await leases.claim("a.example", "two", 1.0)
            assert await leases.renew(["a.example"], "one", 1.0) == set()  # one has lost it
            await leases.release("a.example", "two", 0.5)
            assert not await leases.claim("a.example", "one", 1.0)  # released: free after the host's delay
            await asyncio.sleep(0.6)
            assert await leases.claim("a.example", "one", 1.0)

    asyncio.run(main())


def test_two_daemons_share_one_corpus_and_health_reads_it(tmp_path, pg_url):
    import signal
    import subprocess
    import sys

    from test_postgres import pg_rows
    from test_postgres_writers import stored_count

    with LoggingSite() as site:
        cfg = write_config(tmp_path / "c.yaml", tmp_path / "unused.db", [f"http://127.0.0.1:{site.port}/feed.xml"],
                           topics=[], obey_robots=False)
        procs = [subprocess.Popen([sys.executable, "-m", "ingest", "run", "--config", str(cfg), "--db", pg_url, "-q"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        try:
            deadline = time.monotonic() + 60
            while stored_count(pg_url) < PAGES and time.monotonic() < deadline:
                time.sleep(0.1)
            assert all(p.poll() is None for p in procs)  # both daemons run on one database (no file lock)
            r = subprocess.run([sys.executable, "-m", "ingest", "health", "--config", str(cfg), "--db", pg_url],
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 0 and "healthy" in r.stderr, r.stderr
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            codes = [p.wait(30) for p in procs]
    assert codes == [0, 0]
    assert pg_rows(pg_url, "SELECT count(*), count(DISTINCT url) FROM articles")[0] == (PAGES, PAGES)


class RedirectingSite(LoggingSite):
    """Three hosts on one server, told apart by the Host header: a.test and c.test each have a
    feed of PAGES articles, every one of which redirects to its copy on b.test. Every request
    is slow and logged with its host."""

    ORIGINS = {"a.test": 700, "c.test": 720}  # host -> first story number

    def __init__(self):
        super().__init__()
        self.feeds = {host: [summit_story(first + i, datetime(2018, 6, 12, tzinfo=UTC) + timedelta(hours=i))
                             for i in range(PAGES)] for host, first in self.ORIGINS.items()}
        self.stories = {s.slug: s for stories in self.feeds.values() for s in stories}

    def at(self, host: str, path: str = "") -> str:
        return f"http://{host}:{self.port}/{path}"

    async def handle(self, request: web.Request) -> web.Response:
        start = time.monotonic()
        await asyncio.sleep(0.1)
        host = request.host.split(":")[0]
        slug = request.path.strip("/")
        try:
            if host in self.feeds and slug == "feed.xml":
                items = "".join(f"<item><title>{s.title}</title><link>{self.at(host, s.slug)}</link>"
                                f"<guid>{s.slug}</guid></item>" for s in self.feeds[host])
                return web.Response(text=f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
                                         f'{items}</channel></rss>', content_type="application/rss+xml")
            if host in self.feeds and slug in self.stories:
                raise web.HTTPFound(self.at("b.test", slug))
            if host == "b.test" and slug in self.stories:
                return web.Response(text=render_page("wire", self.stories[slug], self.at("b.test", slug)),
                                    content_type="text/html")
            raise web.HTTPNotFound()
        finally:
            self.log.append((start, time.monotonic(), host))


@pytest.mark.parametrize("backend, daemons", [("sqlite", 1), ("postgresql", 2)])
def test_a_redirect_target_keeps_its_hosts_delay_and_concurrency(tmp_path, request, backend, daemons):
    """Articles on a.test and c.test redirect to b.test. On PostgreSQL one daemon reads a.test's
    feed, the other c.test's (a daemon per feed set), so b.test keeps its delay only if each
    redirect is fetched under b.test's own lease; on SQLite one daemon reads both feeds and its
    limiter covers the redirect target."""
    import subprocess
    import sys

    from faultserver import ingest_env

    db = request.getfixturevalue("pg_url") if backend == "postgresql" else str(tmp_path / "r.db")
    with RedirectingSite() as site:
        feeds = [site.at(h, "feed.xml") for h in site.ORIGINS]
        shares = [feeds[k::daemons] for k in range(daemons)]
        env = ingest_env({h: "127.0.0.1" for h in ("a.test", "b.test", "c.test")})
        procs = []
        for k, share in enumerate(shares):
            cfg = write_config(tmp_path / f"c{k}.yaml", tmp_path / "unused.db", share, topics=[],
                               per_host_concurrency=1, per_host_delay=DELAY, obey_robots=False)
            procs.append(subprocess.Popen([sys.executable, "-m", "ingest", "run", "--once", "--config", str(cfg),
                                           "--db", db, "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          text=True, env=env))
        for p in procs:
            finish(p)
        log = sorted(site.log)
    assert len([h for _, _, h in log if h == "b.test"]) == 2 * PAGES, log  # every article, via its redirect
    for host in ("a.test", "b.test", "c.test"):
        starts = [(s, e) for s, e, h in log if h == host]
        for (s1, e1), (s2, _) in zip(starts, starts[1:]):
            assert s2 >= e1 - 0.01, f"two requests to {host} at once"
            assert s2 - s1 >= DELAY - 0.05, f"{host}'s delay was not kept"
