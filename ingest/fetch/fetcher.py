"""Fetcher: one polite, bounded, never-raising HTTP GET for feeds and articles.

    async with Fetcher(cfg) as fetcher:
        result = await fetcher.fetch(url, kind="article")  # Page | NotModified | FetchFailure

Every problem a remote server can cause (errors, hangs, resets, lies, bombs)
comes back as a FetchFailure with a `kind` the caller can act on; exceptions are
reserved for our own bugs and cancellation. Redirects are followed by hand so
every hop goes through the address guard, robots.txt, the host's gate (its lease
when several processes share a database), the per-host limiter and the redirect
budget: a redirect to another host is that host's request, under its politeness.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import types
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC, datetime

import aiohttp
from yarl import URL

from ..config import FetchConfig
from ..records import FetchFailure, NotModified, Page
from . import charset
from .guard import AddressRefused, GuardedResolver
from .limiter import Admission, HostLimiter
from .retry import backoff, parse_retry_after, retryable_status
from .robots import RobotsCache

log = logging.getLogger(__name__)

ACCEPT = {
    "article": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
    "feed": "application/rss+xml,application/atom+xml,application/feed+json,"
    "application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.5",
    "robots": "text/plain,*/*;q=0.5",
    "sitemap": "application/xml,text/xml;q=0.9,application/gzip;q=0.8,*/*;q=0.5",
}
ROBOTS_MAX_BYTES = 512_000  # RFC 9309 asks crawlers to read at least 500 KiB
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Types that can never be an article or a feed: refused from the headers, body unread.
BINARY_MAJOR = frozenset({"image", "audio", "video", "font", "model"})
BINARY_TYPES = frozenset({
    "application/pdf", "application/zip", "application/gzip", "application/x-gzip",
    "application/x-tar", "application/x-bzip2", "application/x-7z-compressed",
    "application/vnd.rar", "application/x-rar-compressed", "application/java-archive",
    "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
    "application/x-msdownload", "application/wasm", "application/x-shockwave-flash",
    "application/octet-stream",
})
SITEMAP_BINARY_OK = frozenset({"application/gzip", "application/x-gzip", "application/octet-stream"})
HEADERS_DROPPED = frozenset({"set-cookie"})  # noise for storage, and per-visitor state


def binary_type(content_type: str | None, kind: str) -> str | None:
    """The media type if it cannot be a page of `kind`, else None (missing header = maybe fine)."""
    mime = (content_type or "").split(";")[0].strip().lower()
    if not mime:
        return None
    if kind == "feed" and mime == "application/octet-stream":
        return None  # static .rss/.xml files are often served like this
    if kind == "sitemap" and mime in SITEMAP_BINARY_OK:
        return None  # sitemap.xml.gz is served as a gzip file; ingest/sources/sitemap.py inflates it
    if mime.split("/")[0] in BINARY_MAJOR or mime in BINARY_TYPES or mime.startswith(
        "application/vnd.openxmlformats"
    ):
        return mime
    return None


# Entered around every request to a host, with the host's name: run/leases.py's HostLeases.hold,
# so that across processes one host is fetched by one process at a time. Never held while
# waiting for another host's gate (a redirect leaves one host's before entering the next's).
Gate = Callable[[str], AbstractAsyncContextManager[object]]


def _open_gate(host: str) -> AbstractAsyncContextManager[object]:
    return nullcontext()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no detail"
    return f"{type(exc).__name__}: {text}"[:300]


def _origin(url: URL) -> tuple[str, str, int | None]:
    return url.scheme, (url.host or "").lower(), url.port


def _sent_trace() -> aiohttp.TraceConfig:
    """Tell the limiter the moment a request's headers are on the wire."""

    async def on_sent(session: aiohttp.ClientSession, ctx: types.SimpleNamespace, params: object) -> None:
        if ctx.trace_request_ctx is not None:
            ctx.trace_request_ctx.sent()

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(on_sent)
    return trace


class Fetcher:
    """Owns one aiohttp ClientSession, one per-host limiter and one robots cache.

    `hosts` is a test hook: {"public.test": "127.0.0.1"} resolves that name to that
    address and trusts it (see guard.py). Everything else is resolved normally and
    guarded unless `cfg.allow_private_addresses`. `gate` (see Gate) is entered around
    each request to a host and each pause before trying a host again.
    """

    def __init__(self, cfg: FetchConfig, *, hosts: Mapping[str, str] | None = None,
                 credentials: Mapping[str, str] | None = None, gate: Gate = _open_gate):
        self.cfg = cfg
        self._gate = gate
        self._pins = dict(hosts or {})
        # origin -> BasicAuth, for feeds configured with credentials: sent to that origin only (a
        # redirect elsewhere goes without), and never part of a URL that is logged or stored
        self._auth = {_origin(URL(url)): aiohttp.BasicAuth(*login.split(":", 1))
                      for url, login in (credentials or {}).items()}
        self.limiter = HostLimiter(cfg.per_host_concurrency, cfg.per_host_delay)
        self.robots = RobotsCache(
            lambda u: self.fetch(u, kind="robots"),
            cfg.user_agent,
            self.limiter,
            ttl=cfg.robots_ttl,
            error_ttl=cfg.robots_error_ttl,
            max_crawl_delay=cfg.max_crawl_delay,
        )
        self._session: aiohttp.ClientSession | None = None
        self._resolver: GuardedResolver | None = None

    async def __aenter__(self) -> Fetcher:
        cfg = self.cfg
        self._resolver = GuardedResolver(cfg.allow_private_addresses, self._pins)
        connector = aiohttp.TCPConnector(
            resolver=self._resolver,
            limit=0,  # the HostLimiter is the concurrency policy; no second, global queue
            ttl_dns_cache=300,
            enable_cleanup_closed=True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=cfg.timeout, connect=cfg.connect_timeout),
            headers={"User-Agent": cfg.user_agent},
            # No cookies between fetches: a re-check must see what a first-time reader sees,
            # and paywall meters count articles through cookies. Cookies set during one
            # redirect chain are carried along that chain only (see _attempt).
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,  # no proxy from the environment: it would bypass the guard
            auto_decompress=True,  # aiohttp >= 3.12 inflates in bounded steps; we cap the total
            trace_configs=[_sent_trace()],
        )
        # aiohttp silently re-sends an idempotent request once when the connection drops,
        # outside our limiter and retry count (a resetting server would get 2 requests per
        # attempt, with no gap). Our retry loop is the one policy; there is no public switch,
        # so use the attribute aiohttp's own test_utils sets.
        if hasattr(self._session, "_retry_connection"):
            self._session._retry_connection = False
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()  # does not close a resolver it was handed
            self._session = None
        if self._resolver is not None:
            await self._resolver.close()
            self._resolver = None

    def _live(self) -> tuple[aiohttp.ClientSession, GuardedResolver]:
        """The session and resolver of an entered fetcher."""
        if self._session is None or self._resolver is None:
            raise RuntimeError("use 'async with Fetcher(cfg) as fetcher'")
        return self._session, self._resolver

    async def fetch(
        self,
        url: str,
        kind: str = "article",
        etag: str | None = None,
        last_modified: str | None = None,
        body_hash: str | None = None,
        admit: Admission | None = None,
    ) -> Page | NotModified | FetchFailure:
        """GET `url` politely. Never raises for network or HTTP problems.

        `admit` (the pipeline's slot) is entered once the host grants a start, before the
        request is sent, and left on a redirect and before a retry's pause; the caller leaves
        it when done with the result."""
        self._live()
        try:
            return await self._fetch(url, kind, etag, last_modified, body_hash, admit)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug of ours must not kill the daemon's fetch loop
            log.exception("unexpected error fetching %s", url)
            return FetchFailure(url, "connection", f"unexpected {_one_line(e)}")

    async def _fetch(self, url: str, kind: str, etag: str | None, last_modified: str | None,
                     body_hash: str | None, admit: Admission | None) -> Page | NotModified | FetchFailure:
        try:
            target = URL(url)
        except (ValueError, TypeError) as e:
            return FetchFailure(url, "invalid", f"bad URL: {_one_line(e)}")
        if target.scheme not in ("http", "https") or not target.host:
            return FetchFailure(url, "invalid", "not an absolute http(s) URL")
        headers = {"Accept": ACCEPT.get(kind, "*/*")}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        cfg = self.cfg
        for attempt in range(cfg.retries + 1):
            result, again = await self._attempt(url, target, kind, headers, body_hash, etag, last_modified, admit)
            if again is None or attempt == cfg.retries or not isinstance(result, FetchFailure):
                return result
            if admit is not None:
                admit.leave()
            wait = max(backoff(attempt, cfg.backoff_base), result.retry_after or 0.0)
            log.debug("retrying %s in %.2fs after %s", url, wait, result.message)
            async with self._gate(again):  # the failing host pauses for the other processes too
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(self, url: str, target: URL, kind: str, headers: dict[str, str], body_hash: str | None,
                       etag: str | None, last_modified: str | None, admit: Admission | None
                       ) -> tuple[Page | NotModified | FetchFailure, str | None]:
        """One try, following redirects. Returns (result, the host to pause on before trying
        again, None if not worth retrying)."""
        cfg = self.cfg
        session, resolver = self._live()
        target = target.with_fragment(None)  # never sent; would hide a loop back to this URL
        seen = {str(target)}
        jar: aiohttp.CookieJar | None = None
        current = target
        for _hop in range(cfg.max_redirects + 1):
            refused = resolver.check_host(current.raw_host or "")  # every spelling of an address
            if refused:
                where = f" (redirected to {current})" if current is not target else ""
                return FetchFailure(url, "refused", refused + where), None
            if kind == "article" and cfg.obey_robots:
                why = await self.robots.check(current)
                if why:
                    return FetchFailure(url, "robots", why), None
            cookies = jar.filter_cookies(current) if jar is not None else None
            host = (current.host or "").lower()
            try:
                async with self._gate(host), self.limiter.slot(host) as start:
                    if admit is not None:
                        await admit.enter()
                    async with session.get(
                        current, headers=headers, allow_redirects=False, cookies=cookies,
                        trace_request_ctx=start, auth=None if current.user else self._auth.get(_origin(current)),
                    ) as resp:
                        location = resp.headers.get("Location")
                        if resp.status not in REDIRECTS or not location:
                            result, retry = await self._response(url, resp, kind, body_hash, etag, last_modified)
                            return result, host if retry else None
                        if resp.cookies:
                            jar = jar or aiohttp.CookieJar(unsafe=True)
                            jar.update_cookies(resp.cookies, resp.url)
            except AddressRefused as e:
                return FetchFailure(url, "refused", str(e)), None
            except Exception as e:
                failure, retry = self._failure(url, e)
                return failure, host if retry else None
            if admit is not None:
                admit.leave()  # the next hop may wait for another host
            try:
                nxt = current.join(URL(location))
            except (ValueError, TypeError) as e:
                return FetchFailure(url, "redirects", f"bad Location {location!r}: {_one_line(e)}"), None
            if nxt.scheme not in ("http", "https") or not nxt.host:
                return FetchFailure(url, "redirects", f"redirect to non-http URL {location!r}"), None
            nxt = nxt.with_fragment(None)
            if str(nxt) in seen:
                return FetchFailure(url, "redirects", f"redirect loop at {nxt}"), None
            seen.add(str(nxt))
            current = nxt
        return FetchFailure(url, "redirects", f"more than {cfg.max_redirects} redirects"), None

    def _failure(self, url: str, e: Exception) -> tuple[FetchFailure, bool]:
        """Classify an exception from connecting or reading."""
        os_error = getattr(e, "os_error", None)
        if isinstance(os_error, AddressRefused) or isinstance(e.__cause__, AddressRefused):
            return FetchFailure(url, "refused", str(os_error or e.__cause__)), False
        if isinstance(e, aiohttp.ConnectionTimeoutError):
            return FetchFailure(url, "timeout", f"no connection within {self.cfg.connect_timeout:g}s"), True
        if isinstance(e, asyncio.TimeoutError):  # aiohttp's total/read timeouts are TimeoutErrors too
            return FetchFailure(url, "timeout", f"no complete response within {self.cfg.timeout:g}s"), True
        if isinstance(e, aiohttp.InvalidURL):
            return FetchFailure(url, "invalid", f"bad URL: {_one_line(e)}"), False
        if isinstance(e, aiohttp.ClientSSLError):  # a certificate problem will not fix itself
            return FetchFailure(url, "connection", _one_line(e)), False
        if isinstance(e, aiohttp.ClientPayloadError):
            return FetchFailure(url, "connection", f"body truncated or corrupt ({_one_line(e)[:120]})"), True
        if isinstance(e, aiohttp.ClientResponseError):  # malformed status line or headers
            return FetchFailure(url, "http", f"bad response: {_one_line(e)}", status=e.status or None), False
        if isinstance(e, (aiohttp.ClientError, OSError)):
            return FetchFailure(url, "connection", _one_line(e)), True
        raise e

    async def _response(self, url: str, resp: aiohttp.ClientResponse, kind: str, body_hash: str | None,
                        etag: str | None, last_modified: str | None) -> tuple[Page | NotModified | FetchFailure, bool]:
        """Turn a final (non-redirect) response into a result. Returns (result, worth retrying)."""
        cfg = self.cfg
        headers: dict[str, str] = {}
        for k, v in resp.headers.items():
            k = k.lower()
            if k not in HEADERS_DROPPED:
                headers[k] = f"{headers[k]}, {v}" if k in headers else v
        new_etag, new_lm = headers.get("etag"), headers.get("last-modified")

        if resp.status == 304:  # some servers omit validators on 304; keep the ones we sent
            return NotModified(url, new_etag or etag, new_lm or last_modified), False
        if not 200 <= resp.status < 300:
            retry_after = parse_retry_after(headers.get("retry-after"), cfg.max_retry_after)
            if retry_after and resp.url.host:
                self.limiter.defer(resp.url.host, retry_after)  # the whole host asked us to wait
            msg = f"HTTP {resp.status} {resp.reason or ''}".strip()
            if retry_after is not None:
                msg += f" (Retry-After {retry_after:g}s)"
            failure = FetchFailure(url, "http", msg, status=resp.status, retry_after=retry_after)
            return failure, retryable_status(resp.status)

        content_type = headers.get("content-type")
        if kind != "robots" and (mime := binary_type(content_type, kind)):
            failure = FetchFailure(url, "content_type", f"{mime} is not a {kind} (body not read)", status=resp.status)
            return failure, False
        cap = ROBOTS_MAX_BYTES if kind == "robots" else cfg.max_bytes
        too_large = FetchFailure(url, "too_large", f"body over {cap} bytes", status=resp.status)
        if resp.content_length is not None and resp.content_length > cap:
            return too_large, False  # said so up front: do not read a byte
        chunks, size = [], 0
        async for chunk in resp.content.iter_chunked(65536):  # decompressed data
            size += len(chunk)
            if size > cap:
                return too_large, False
            chunks.append(chunk)
        body = b"".join(chunks)

        if body_hash and hashlib.sha256(body).hexdigest() == body_hash:
            return NotModified(url, new_etag, new_lm), False  # a server that ignores validators
        decoded = charset.decode(body, content_type, detect=False)
        if decoded is None:  # charset-normalizer needed (~11 ms): on a thread, not on the event loop
            decoded = await asyncio.to_thread(charset.decode, body, content_type)
            assert decoded is not None  # with detection, decode always decides
        page = Page(
            url=url,
            final_url=str(resp.url),
            status=resp.status,
            headers=headers,
            body=body,
            html=decoded.text,
            charset=decoded.charset,
            charset_source=decoded.source,
            charset_mismatch=decoded.mismatch,
            fetched_at=datetime.now(UTC),
        )
        return page, False
