"""A fault-injection HTTP server on 127.0.0.1 for fetcher and daemon tests.

One aiohttp app serves healthy feeds and articles next to every misbehaviour a
news site has shown us: 5xx/429 with Retry-After, hangs, slow drips, resets,
truncated and oversized bodies, a gzip bomb, redirect chains and loops,
redirects to loopback, malformed XML, lying charsets, binary content,
robots.txt rules, and conditional GET done right (and wrong).

It also *measures politeness*: per host name (the Host header without port)
it counts requests, the most requests ever in flight at once, and the smallest
gap between two request arrivals, so a test can assert the client's limits
were never exceeded. Point several host names at it (e.g. a.test, b.test ->
127.0.0.1 through the Fetcher's `hosts` pins) to get independent hosts.

    async with FaultServer() as srv:          # in the test's event loop
        url = srv.url("/feed.xml", host="a.test")
    with FaultServer.threaded() as srv:        # own loop in a thread (daemon tests)
        ...

Every wait on the server side is bounded (`max_hang`), so no test can hang on it.
Routes (all GET):
  /feed.xml                 RSS 2.0 listing /article/1..n on the same host (?n=; &prefix= names them
                            /article/<prefix>1..; &delay= is passed on to each article)
  /article/{n}              a small healthy HTML article (?delay= seconds before answering)
  /list.xml                 RSS listing the given ?item= paths or URLs, in order (repeatable);
                            ?ttl= minutes (RSS <ttl>), ?max_age= seconds (Cache-Control)
  /private.xml              /list.xml behind HTTP Basic auth (PRIVATE_LOGIN), 401 without it
  /grow/{key}               RSS listing /article/<key>-1..v, v = version of key (bump(key) adds one)
  /edit/{key}               an article whose text names the version of key (bump(key) edits it);
                            503 while key is in `broken`
  /status/{code}            that status; ?retry_after=<raw header value>
                            or ?retry_after_in=<seconds> (sent as an HTTP-date)
  /flaky/{key}              ?fail=N&code=503[&retry_after=..]: first N hits fail, then 200
  /hang                     ?seconds= (<= max_hang) before answering
  /drip                     ?chunks=&interval= : 200 HTML sent slowly
  /reset                    TCP reset, no response
  /truncated                Content-Length 10000, 100 bytes, then the connection drops
  /big                      ?size=&announce=0|1 (announce = send Content-Length)
  /gzip-bomb                ?size= zeros, gzip-encoded (tiny on the wire)
  /redirect/{n}             n hops of 302, then /article/1
  /loop/{a|b}               a -> b -> a ...
  /redirect-to              ?url= : one 302 to any URL (e.g. http://127.0.0.1:port/...)
  /malformed.xml            broken RSS
  /slow-extract             a 2.5 MB article of 60,000 short paragraphs: minutes of trafilatura's CPU
  /charset/{case}           utf8-as-latin1, latin1-as-utf8, meta, bom, bad-name, none
  /binary/{png|pdf}         binary type; body dripped slowly, `completed` records if sent in full
  /cond/etag/{key}          ETag "key-<version>", 304 on If-None-Match (bump with bump(key))
  /cond/lastmod/{key}       Last-Modified, 304 on If-Modified-Since
  /cond/liar/{key}          ignores validators: always 200, same body, a new ETag each time
  /robots.txt               per host from `robots` ({host: text | status}); 404 if unset
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import io
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape as xml_escape

from aiohttp import web

ARTICLE = """<!doctype html><html><head><meta charset="utf-8"><title>Article {n}</title></head>
<body><article><h1>Summit news {n}</h1>
<p>Leaders met in Singapore on Tuesday for talks described as historic. Story {n}.</p>
<p>Officials said the meeting would continue on Wednesday, with further statements expected.</p>
</article></body></html>"""
PRIVATE_LOGIN = "alice:s3cret-pw"  # /private.xml's user:password
# trafilatura is quadratic on long runs of short paragraphs: this page takes a worker minutes
SLOW_EXTRACT = ("<html><head><title>Slow</title></head><body><article>"
                + "<p>Summit talks in Singapore went on.</p>" * 60_000 + "</article></body></html>")
FRENCH = "Le président a annoncé que l’économie française se porte « très bien », malgré la crise. " * 4
def fast_config(**overrides):
    """A FetchConfig with small waits, so fault tests stay fast; override what a test is about."""
    from ingest.config import FetchConfig

    base = dict(per_host_delay=0.0, retries=0, backoff_base=0.02, timeout=2.0, connect_timeout=1.0,
                obey_robots=False, max_bytes=1_000_000, max_retry_after=2.0)
    base.update(overrides)
    return FetchConfig(**base)


def run(coro, timeout: float = 30.0):
    """Run an async test body with a hard time limit."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


# Arrival times are taken in the server's handler, on a loaded 2-core machine and often on the
# client's own event loop: allow this much noise when asserting a minimum gap.
JITTER = 0.02

# Names a test can pin to 127.0.0.1 (Fetcher(cfg, hosts=HOSTS)) to act as separate public hosts.
HOSTS = {name: "127.0.0.1" for name in ("public.test", "a.test", "b.test", "c.test")}


@dataclass
class HostStats:
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    last_start: float | None = None
    min_gap: float = float("inf")  # smallest time between two request arrivals
    starts: list[float] = field(default_factory=list)


@dataclass
class Seen:
    """One request as the server saw it."""

    host: str
    path: str
    query: dict
    headers: dict
    at: float


class FaultServer:
    def __init__(self, *, robots: dict[str, str | int] | None = None, max_hang: float = 10.0):
        self.robots: dict[str, str | int] = dict(robots or {})
        self.max_hang = max_hang
        self.stats: dict[str, HostStats] = {}
        self.seen: list[Seen] = []
        self.hits: dict[str, int] = {}  # path -> count
        self.completed: dict[str, bool] = {}  # path -> slow body fully sent
        self.versions: dict[str, int] = {}  # /cond, /grow, /edit key -> version
        self.broken: set[str] = set()  # /edit keys answering 503
        self._lock = threading.Lock()  # stats may be read from another thread
        self._bombs: dict[int, bytes] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- lifecycle -------------------------------------------------------
    async def start(self) -> FaultServer:
        app = web.Application(middlewares=[self._measure])
        app.router.add_routes([
            web.get("/robots.txt", self._robots),
            web.get("/feed.xml", self._feed),
            web.get("/article/{n}", self._article),
            web.get("/list.xml", self._list),
            web.get("/private.xml", self._private),
            web.get("/grow/{key}", self._grow),
            web.get("/edit/{key}", self._edit),
            web.get("/status/{code}", self._status),
            web.get("/flaky/{key}", self._flaky),
            web.get("/hang", self._hang),
            web.get("/drip", self._drip),
            web.get("/reset", self._reset),
            web.get("/truncated", self._truncated),
            web.get("/big", self._big),
            web.get("/gzip-bomb", self._gzip_bomb),
            web.get("/redirect/{n}", self._redirect),
            web.get("/loop/{name}", self._loop),
            web.get("/redirect-to", self._redirect_to),
            web.get("/malformed.xml", self._malformed),
            web.get("/slow-extract", self._slow_extract),
            web.get("/charset/{case}", self._charset),
            web.get("/binary/{kind}", self._binary),
            web.get("/cond/{mode}/{key}", self._conditional),
        ])
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FaultServer:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    @classmethod
    @contextlib.contextmanager
    def threaded(cls, **kwargs):
        """Run the server on its own event loop in a daemon thread (for sync callers)."""
        srv = cls(**kwargs)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="faultserver", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(srv.start(), loop).result(10)
            yield srv
        finally:
            asyncio.run_coroutine_threadsafe(srv.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    # ---- helpers for tests ------------------------------------------------
    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def host(self, name: str) -> HostStats:
        with self._lock:
            return self.stats.get(name, HostStats())

    def requests_to(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]

    def bump(self, key: str) -> None:
        """Change the content behind /cond/*/{key} (new body, new validators)."""
        with self._lock:
            self.versions[key] = self.versions.get(key, 1) + 1

    # ---- measurement -----------------------------------------------------
    @web.middleware
    async def _measure(self, request: web.Request, handler):
        name = (request.host or "").rsplit(":", 1)[0].lower()
        now = time.monotonic()
        with self._lock:
            st = self.stats.setdefault(name, HostStats())
            st.requests += 1
            st.in_flight += 1
            st.max_in_flight = max(st.max_in_flight, st.in_flight)
            if st.last_start is not None:
                st.min_gap = min(st.min_gap, now - st.last_start)
            st.last_start = now
            st.starts.append(now)
            self.hits[request.path] = self.hits.get(request.path, 0) + 1
            self.seen.append(Seen(name, request.path, dict(request.query), dict(request.headers), now))
        try:
            return await handler(request)
        finally:
            with self._lock:
                st.in_flight -= 1

    # ---- healthy ---------------------------------------------------------
    async def _robots(self, request):
        rule = self.robots.get((request.host or "").rsplit(":", 1)[0].lower())
        if rule is None:
            return web.Response(status=404, text="no robots here")
        if isinstance(rule, int):
            return web.Response(status=rule, text="robots status")
        return web.Response(text=rule, content_type="text/plain")

    @staticmethod
    def _rss(base: str, links: list[str], title: str = "Fault feed", ttl: str | None = None,
             headers: dict | None = None) -> web.Response:
        items = "".join(
            f"<item><title>Summit news {i}</title><link>{xml_escape(link)}</link>"
            f"<guid>{xml_escape(link)}</guid><pubDate>Tue, 12 Jun 2018 0{i % 10}:00:00 GMT</pubDate></item>"
            for i, link in enumerate(links, start=1)
        )
        extra = f"<ttl>{ttl}</ttl>" if ttl else ""
        xml = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
               f"<title>{title}</title><link>{base}/</link>{extra}{items}</channel></rss>")
        return web.Response(text=xml, content_type="application/rss+xml", headers=headers)

    async def _feed(self, request):
        n = int(request.query.get("n", "3"))
        prefix = request.query.get("prefix", "")
        delay = request.query.get("delay")
        base = f"http://{request.host}"
        tail = f"?delay={delay}" if delay else ""
        return self._rss(base, [f"{base}/article/{prefix}{i}{tail}" for i in range(1, n + 1)])

    async def _list(self, request):
        base = f"http://{request.host}"
        links = [item if "://" in item else base + item for item in request.query.getall("item", [])]
        headers = {"Cache-Control": f"max-age={request.query['max_age']}"} if "max_age" in request.query else None
        return self._rss(base, links, ttl=request.query.get("ttl"), headers=headers)

    async def _private(self, request):
        expected = "Basic " + base64.b64encode(PRIVATE_LOGIN.encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401, text="login needed", headers={"WWW-Authenticate": 'Basic realm="news"'})
        return await self._list(request)

    async def _grow(self, request):
        key = request.match_info["key"]
        with self._lock:
            version = self.versions.setdefault(key, 1)
        base = f"http://{request.host}"
        return self._rss(base, [f"{base}/article/{key}-{i}" for i in range(1, version + 1)], title=f"Growing {key}")

    async def _edit(self, request):
        key = request.match_info["key"]
        with self._lock:
            version = self.versions.setdefault(key, 1)
            if key in self.broken:
                return web.Response(status=503, text="temporarily broken")
        text = ARTICLE.format(n=key).replace("</article>", f"<p>This is revision {version} of the story, "
                                             f"updated with new statements from officials.</p></article>")
        return web.Response(text=text, content_type="text/html")

    async def _article(self, request):
        if "delay" in request.query:
            await asyncio.sleep(min(float(request.query["delay"]), self.max_hang))
        return web.Response(text=ARTICLE.format(n=request.match_info["n"]), content_type="text/html",
                            headers={"Cache-Control": "max-age=60"})

    # ---- errors and retries ----------------------------------------------
    def _error(self, request, code: int) -> web.Response:
        headers = {}
        if "retry_after" in request.query:
            headers["Retry-After"] = request.query["retry_after"]
        elif "retry_after_in" in request.query:
            when = datetime.now(UTC) + timedelta(seconds=float(request.query["retry_after_in"]))
            headers["Retry-After"] = format_datetime(when, usegmt=True)
        return web.Response(status=code, text=f"error {code}", headers=headers)

    async def _status(self, request):
        return self._error(request, int(request.match_info["code"]))

    async def _flaky(self, request):
        key = "flaky:" + request.match_info["key"]
        with self._lock:
            self.hits[key] = self.hits.get(key, 0) + 1
            count = self.hits[key]
        if count <= int(request.query.get("fail", "1")):
            return self._error(request, int(request.query.get("code", "503")))
        return web.Response(text=ARTICLE.format(n=key), content_type="text/html")

    async def _hang(self, request):
        await asyncio.sleep(min(float(request.query.get("seconds", self.max_hang)), self.max_hang))
        return web.Response(text="finally", content_type="text/html")

    async def _drip(self, request):
        chunks = int(request.query.get("chunks", "20"))
        interval = min(float(request.query.get("interval", "0.1")), self.max_hang / max(chunks, 1))
        resp = web.StreamResponse(headers={"Content-Type": "text/html"})
        await resp.prepare(request)
        for i in range(chunks):
            await resp.write(f"<p>drip {i}</p>\n".encode())
            await asyncio.sleep(interval)
        await resp.write_eof()
        return resp

    @staticmethod
    def _abort(request) -> None:
        """Close the socket with RST (SO_LINGER 0) instead of a polite FIN."""
        transport = request.transport
        sock = transport.get_extra_info("socket") if transport else None
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        if transport is not None:
            transport.abort()

    async def _reset(self, request):
        self._abort(request)
        return web.Response(text="never sent")

    async def _truncated(self, request):
        resp = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Length": "10000"})
        await resp.prepare(request)
        await resp.write(b"<html><body>" + b"x" * 88)
        await asyncio.sleep(0.05)
        self._abort(request)
        return resp

    async def _big(self, request):
        size = int(request.query.get("size", str(20_000_000)))
        headers = {"Content-Type": "text/html"}
        if request.query.get("announce") == "1":
            headers["Content-Length"] = str(size)
        resp = web.StreamResponse(headers=headers)
        await resp.prepare(request)
        chunk = b"<p>" + b"a" * 65529 + b"</p>"
        sent = 0
        try:
            while sent < size:
                part = chunk[: size - sent]
                await resp.write(part)
                sent += len(part)
            await resp.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client hung up at its cap, as it should
        return resp

    def _bomb(self, size: int) -> bytes:
        if size not in self._bombs:
            buf = io.BytesIO()
            with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as gz:
                block = b"\0" * 1_048_576
                for _ in range(size // len(block)):
                    gz.write(block)
                gz.write(b"\0" * (size % len(block)))
            self._bombs[size] = buf.getvalue()
        return self._bombs[size]

    async def _gzip_bomb(self, request):
        # built on a thread (zlib releases the GIL): compressing 100 MB on the server's loop would
        # delay the arrival times of other requests and fake a politeness violation
        body = await asyncio.to_thread(self._bomb, int(request.query.get("size", str(100_000_000))))
        return web.Response(body=body, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})

    # ---- redirects ---------------------------------------------------------
    async def _redirect(self, request):
        n = int(request.match_info["n"])
        raise web.HTTPFound(f"/redirect/{n - 1}" if n > 0 else "/article/1")

    async def _loop(self, request):
        raise web.HTTPFound("/loop/b" if request.match_info["name"] == "a" else "/loop/a")

    async def _redirect_to(self, request):
        raise web.HTTPFound(request.query["url"])

    # ---- bad content -------------------------------------------------------
    async def _malformed(self, request):
        xml = '<?xml version="1.0"?><rss><channel><title>Broken & <item><link>http://x/1</li'
        return web.Response(text=xml, content_type="application/rss+xml")

    async def _slow_extract(self, request):
        return web.Response(text=SLOW_EXTRACT, content_type="text/html")

    async def _charset(self, request):
        case = request.match_info["case"]
        html = f"<html><body><p>{FRENCH}</p></body></html>"
        cases = {
            "utf8-as-latin1": (html.encode("utf-8"), "text/html; charset=iso-8859-1"),
            "latin1-as-utf8": (html.encode("cp1252"), "text/html; charset=utf-8"),
            "meta": (f'<html><head><meta charset="windows-1252"></head>{html}'.encode("cp1252"), "text/html"),
            "bom": (b"\xef\xbb\xbf" + html.encode("utf-8"), "text/html; charset=iso-8859-1"),
            "bad-name": (html.encode("utf-8"), "text/html; charset=x-no-such-charset"),
            "none": (html.encode("cp1252"), "text/html"),
        }
        body, ctype = cases[case]
        return web.Response(body=body, headers={"Content-Type": ctype})

    async def _binary(self, request):
        kind = request.match_info["kind"]
        ctype = {"png": "image/png", "pdf": "application/pdf"}[kind]
        magic = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-1.7\n"}[kind]
        resp = web.StreamResponse(headers={"Content-Type": ctype})
        await resp.prepare(request)
        with self._lock:
            self.completed[request.path] = False
        try:
            await resp.write(magic)
            for _ in range(20):  # 2 s to send it all: a client that reads it is slow
                await asyncio.sleep(0.1)
                await resp.write(b"\0" * 1024)
            await resp.write_eof()
            with self._lock:
                self.completed[request.path] = True
        except (ConnectionError, asyncio.CancelledError):
            pass
        return resp

    # ---- conditional GET ---------------------------------------------------
    async def _conditional(self, request):
        mode, key = request.match_info["mode"], request.match_info["key"]
        with self._lock:
            version = self.versions.setdefault(key, 1)
            serial = self.hits[request.path]
        body = f"<rss><channel><title>{key} v{version}</title></channel></rss>"
        headers = {"Content-Type": "application/rss+xml"}
        if mode == "etag":
            headers["ETag"] = f'"{key}-{version}"'
            if request.headers.get("If-None-Match") == headers["ETag"]:
                return web.Response(status=304, headers=headers)
        elif mode == "lastmod":
            lm = datetime(2018, 6, 11, 8, tzinfo=UTC) + timedelta(hours=version)
            headers["Last-Modified"] = format_datetime(lm, usegmt=True)
            since = request.headers.get("If-Modified-Since")
            if since == headers["Last-Modified"]:
                return web.Response(status=304, headers=headers)
        elif mode == "liar":
            headers["ETag"] = f'"{key}-{serial}"'  # changes every time; content does not
            headers["Last-Modified"] = format_datetime(datetime.now(UTC), usegmt=True)
        else:
            raise web.HTTPNotFound()
        return web.Response(text=body, headers=headers)


# ---- daemon process helpers (tests/test_daemon*.py) --------------------------------------------
# Real `ingest run` processes against a FaultServer. Each daemon is started in its own session
# (process group) so a test can SIGKILL exactly that daemon, and afterwards reap the extraction
# workers it left behind, by that group id and nothing else.

def daemon_config(path, db, feeds, *, topics=(), fetch=None, schedule=None, workers=1):
    """Write a YAML config for a daemon test: fast, permissive fetch; short schedule bounds."""
    import yaml

    data = {
        "database": str(db),
        "feeds": [{"url": u} for u in feeds],
        "topics": list(topics),
        "workers": workers,
        "fetch": {"allow_private_addresses": True, "per_host_delay": 0.0, "per_host_concurrency": 2, "retries": 0,
                  "timeout": 3.0, "connect_timeout": 1.0, "backoff_base": 0.05, "max_retry_after": 5.0,
                  "obey_robots": False, "robots_error_ttl": 5.0, **(fetch or {})},
        "schedule": {"min_interval": 1.0, "default_interval": 2.0, "max_interval": 30.0, **(schedule or {})},
    }
    path.write_text(yaml.safe_dump(data))
    return path


def ingest_env(hosts=None) -> dict:
    """Environment for an `ingest` subprocess; `hosts` names are pinned to 127.0.0.1 (test-only)."""
    import os

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("INGEST_TEST_HOSTS", None)
    if hosts:
        env["INGEST_TEST_HOSTS"] = ",".join(f"{name}={addr}" for name, addr in dict(hosts).items())
    return env


def start_ingest(config, *args, log_path, hosts=None):
    """Start `ingest ARGS... --config CONFIG` in its own process group, output to log_path."""
    import subprocess
    import sys

    log = open(log_path, "ab")
    try:
        return subprocess.Popen([sys.executable, "-m", "ingest", *args, "--config", str(config)],
                                stdout=log, stderr=log, env=ingest_env(hosts), start_new_session=True)
    finally:
        log.close()


def start_daemon(config, *args, log_path, hosts=None):
    """Start `ingest run ARGS... --config CONFIG` (the daemon, or `--once`)."""
    return start_ingest(config, "run", *args, log_path=log_path, hosts=hosts)


def reap(proc) -> None:
    """Kill what is left of a daemon's process group (the daemon, orphaned workers)."""
    import os
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(5)
    except Exception:
        pass


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll `predicate` until it returns something truthy; fail the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def query(db, sql: str, *params):
    """Rows from the database, read-only, tolerant of a daemon writing beside us."""
    import os
    import sqlite3

    if not os.path.exists(db):
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return []
        raise
    finally:
        conn.close()


def count_rows(db, table: str = "articles") -> int:
    """Rows in `table`, read-only while a writer works beside us; 0 before the file or table exists
    (or while it cannot be read yet)."""
    import sqlite3

    try:
        rows = query(db, f"SELECT count(*) FROM {table}")
    except sqlite3.Error:
        return 0
    return rows[0][0] if rows else 0


def live_processes(*, group: int | None = None, session: int | None = None) -> list[int]:
    """Processes still running (zombies waiting for a reaper do not count) in a process group or a
    session, read from /proc."""
    import os

    field, wanted = (2, group) if group is not None else (3, session)
    live = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[field]) == wanted and fields[0] != "Z":
                live.append(int(entry))
    return live


def consistency_problems(db) -> list[str]:
    """Everything that would mean a half-written article, an inconsistent file or a lost schedule."""
    import os
    import sqlite3

    if not os.path.exists(db):
        return []  # killed before it was created
    conn = sqlite3.connect(str(db), timeout=10)
    try:
        problems = []
        check = conn.execute("PRAGMA integrity_check").fetchall()
        if check != [("ok",)]:
            problems.append(f"integrity_check: {check[:3]}")
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'articles'").fetchone():
            return problems  # killed before the first migration committed: an empty, valid file
        for (n,) in [conn.execute("SELECT count(*) FROM articles a WHERE a.versions != "
                                  "(SELECT count(*) FROM versions v WHERE v.article_id = a.id)").fetchone()]:
            if n:
                problems.append(f"{n} articles whose versions count differs from their version rows")
        n = conn.execute("SELECT count(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM versions v "
                         "WHERE v.article_id = a.id AND v.n = a.current_version)").fetchone()[0]
        if n:
            problems.append(f"{n} articles whose current_version has no version row")
        n = conn.execute("SELECT count(*) FROM versions v WHERE v.blob_hash IS NOT NULL AND NOT EXISTS "
                         "(SELECT 1 FROM blobs b WHERE b.hash = v.blob_hash)").fetchone()[0]
        if n:
            problems.append(f"{n} versions whose raw blob is missing")
        fk = conn.execute("PRAGMA foreign_key_check").fetchall()
        if fk:
            problems.append(f"foreign_key_check: {fk[:3]}")
        return problems
    finally:
        conn.close()
