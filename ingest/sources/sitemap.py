"""Sitemaps as a backfill source: sitemap URL (or site URL) in, Candidates out.

    async for cand in sitemap_candidates(fetcher.fetch, "https://example.com/", since=...):
        ...

Handles what news sites actually publish: <urlset> and <sitemapindex> (followed
recursively, each sitemap fetched at most once, at most `max_sitemaps` fetches,
so an index that lists itself cannot loop), .xml.gz files (inflated here with a
size cap, whether or not the server also said Content-Encoding), Google News
sitemaps (news:publication_date, news:title), <lastmod>, and discovery through
robots.txt `Sitemap:` lines when given a site URL.

Parsing is lxml's iterparse with a locked-down parser (no network, no entity
expansion, no huge_tree), clearing each <url> after reading it, so a 50 000-entry
sitemap costs entries, not a DOM. A sitemap that fails to fetch, inflate or
parse logs one warning line and is skipped as a whole (a half-read file is not
trusted); the others continue. Elements are matched by local name, because many
sites get the namespace URI slightly wrong.

`since`/`until` filter on news:publication_date, else <lastmod>; entries with no
date are kept (the caller cannot know they are out of range). A child sitemap
whose index <lastmod> is before `since` is not fetched: nothing in it changed
after `since`, which prunes the monthly archive sitemaps news sites keep.

A sitemap index may list 1,000 sitemaps of 50,000 URLs each, and every URL becomes a
fetch (and an entry in the set of URLs seen, ~150 bytes): at most `max_urls` URLs
(MAX_URLS, 1,000,000) come out of one call. Reaching it stops the walk with one
warning line, counted in SitemapStats.capped; a narrower --since/--until reaches further.
"""
from __future__ import annotations

import gzip
import io
import logging
import re
import zlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from lxml import etree
from protego import Protego

from ingest.records import Candidate, FetchFailure, NotModified, Page

log = logging.getLogger(__name__)

Fetch = Callable[..., Awaitable[Page | NotModified | FetchFailure]]

MAX_INFLATED = 50_000_000  # sitemaps.org: at most 50 MB uncompressed per file
MAX_URLS = 1_000_000  # URLs one sitemap walk may yield (each is a fetch and ~150 bytes of memory)
SITEMAP_SUFFIXES = (".xml", ".xml.gz", ".gz")
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class SitemapStats:
    """Counts for the caller's summary line ("3 sitemaps, 1 failed, 120 URLs ...")."""

    sitemaps: int = 0  # fetched and parsed
    failed: int = 0  # fetch, inflate or parse failed (one warning each)
    urls: int = 0  # candidates yielded
    out_of_range: int = 0  # dropped by since/until
    duplicates: int = 0  # same URL listed twice
    invalid: int = 0  # <loc> missing or not http(s)
    pruned: int = 0  # child sitemaps not fetched because their lastmod < since
    capped: int = 0  # walks stopped at max_urls (the rest of their sitemaps not read)
    failures: list[str] = field(default_factory=list)  # "url: why", capped

    def __str__(self) -> str:
        return (f"{self.sitemaps} sitemaps ({self.failed} failed), {self.urls} URLs, "
                f"{self.out_of_range} out of range, {self.duplicates} duplicates, {self.invalid} invalid"
                + (f", stopped at the URL cap {self.capped}x" if self.capped else ""))


@dataclass(frozen=True)
class _Entry:
    loc: str
    lastmod: datetime | None = None
    published: datetime | None = None
    title: str | None = None


class SitemapError(Exception):
    """One sitemap could not be used; the message is one line."""


def parse_w3c_datetime(text: str | None) -> datetime | None:
    """A W3C/ISO date as an aware UTC datetime; naive means UTC; None if unparseable."""
    if not text:
        return None
    text = text.strip()
    if re.fullmatch(r"\d{4}", text):
        text += "-01-01"
    elif re.fullmatch(r"\d{4}-\d{2}", text):
        text += "-01"
    try:
        dt = datetime.fromisoformat(text)  # Python 3.11: "Z", offsets, fractions, date-only
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def inflate(body: bytes, cap: int = MAX_INFLATED) -> bytes:
    """Gunzip `body` if it is gzip (by magic bytes, not by name or header); at most `cap` bytes out."""
    if not body.startswith(_GZIP_MAGIC):
        return body
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as f:
            data = f.read(cap + 1)  # bounded: a gzip bomb stops here
    except (OSError, EOFError, zlib.error) as e:
        raise SitemapError(f"bad gzip: {e}") from None
    if len(data) > cap:
        raise SitemapError(f"over {cap} bytes when inflated")
    return data


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child_text(el: etree._Element, name: str) -> str | None:
    for child in el:
        if _local(child.tag) == name:
            return (child.text or "").strip() or None
    return None


def parse_sitemap(data: bytes) -> tuple[str, list[_Entry]]:
    """("urlset" | "sitemapindex", entries). Raises SitemapError for bad XML or another root."""
    events = etree.iterparse(
        io.BytesIO(data), events=("start", "end"), resolve_entities=False, no_network=True,
        load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True,
    )
    kind, entries, depth = None, [], 0
    try:
        for event, el in events:
            if event == "start":
                depth += 1
                if depth == 1:
                    kind = _local(el.tag)
                    if kind not in ("urlset", "sitemapindex"):
                        raise SitemapError(f"not a sitemap (root <{kind}>)")
                continue
            depth -= 1
            if depth != 1 or _local(el.tag) not in ("url", "sitemap"):
                continue
            entries.append(_entry(el))
            el.clear()  # keep memory flat: drop the element and its finished siblings
            while el.getprevious() is not None:
                del el.getparent()[0]
    except etree.XMLSyntaxError as e:
        raise SitemapError(f"bad XML: {' '.join(str(e).split())[:200]}") from None
    if kind is None:
        raise SitemapError("empty document")
    return kind, entries


def _entry(el: etree._Element) -> _Entry:
    published = title = None
    for child in el:
        if _local(child.tag) == "news":  # Google News: <news:news><news:publication_date>...
            published = parse_w3c_datetime(_child_text(child, "publication_date"))
            title = _child_text(child, "title")
    return _Entry(
        loc=_child_text(el, "loc") or "",
        lastmod=parse_w3c_datetime(_child_text(el, "lastmod")),
        published=published,
        title=title,
    )


def _http_url(url: str) -> str | None:
    """The URL without fragment if it is absolute http(s), else None."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return urlunsplit(parts._replace(fragment=""))


def looks_like_sitemap_url(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(SITEMAP_SUFFIXES)


def _in_range(when: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    if when is None:
        return True
    if since is not None and when < since:
        return False
    return until is None or when <= until


async def _load(fetch: Fetch, url: str, cap: int) -> tuple[str, list[_Entry]]:
    result = await fetch(url, kind="sitemap")
    if isinstance(result, FetchFailure):
        raise SitemapError(f"{result.kind}: {result.message}")
    if isinstance(result, NotModified):
        raise SitemapError("not modified (no body)")
    return parse_sitemap(inflate(result.body, cap))


async def discover(fetch: Fetch, site_url: str) -> list[str]:
    """Sitemap URLs for a site: robots.txt `Sitemap:` lines, else <origin>/sitemap.xml."""
    parts = urlsplit(site_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    result = await fetch(f"{origin}/robots.txt", kind="robots")
    found: list[str] = []
    if isinstance(result, Page):
        found = [u for u in (_http_url(s) for s in Protego.parse(result.html).sitemaps) if u]
    if found:
        log.info("sitemap discovery: %d sitemaps in %s/robots.txt", len(found), origin)
        return list(dict.fromkeys(found))
    log.info("sitemap discovery: no Sitemap lines in %s/robots.txt, trying /sitemap.xml", origin)
    return [f"{origin}/sitemap.xml"]


async def sitemap_candidates(
    fetch: Fetch,
    url: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    max_sitemaps: int = 1000,
    max_inflated: int = MAX_INFLATED,
    max_urls: int = MAX_URLS,
    stats: SitemapStats | None = None,
) -> AsyncIterator[Candidate]:
    """Every page URL the sitemap(s) at `url` list, as Candidate(source="sitemap"), at most `max_urls`.

    `fetch` is `Fetcher.fetch` (or anything with its signature and results). `url` is
    a sitemap, a sitemap index, or a site URL (then robots.txt discovery). Never raises
    for a remote problem; `stats`, if given, is filled in as it goes.
    """
    stats = stats if stats is not None else SitemapStats()
    if (since is not None and since.tzinfo is None) or (until is not None and until.tzinfo is None):
        raise ValueError("since/until must be timezone-aware datetimes")
    start = _http_url(url)
    if start is None:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")

    queue: deque[str] = deque()
    seen_maps: set[str] = set()
    seen_urls: set[str] = set()
    fetched = 0

    def enqueue(urls: Iterable[str]) -> None:
        for u in urls:
            if u not in seen_maps:  # each sitemap fetched once: index loops end here
                seen_maps.add(u)
                queue.append(u)

    def fail(where: str, why: str) -> None:
        stats.failed += 1
        if len(stats.failures) < 100:
            stats.failures.append(f"{where}: {why}")
        log.warning("sitemap skipped: %s: %s", where, why)

    # The first URL: a sitemap by name, or a site URL that may still serve one.
    seen_maps.add(start)
    first: tuple[str, list[_Entry]] | None = None
    is_site = not looks_like_sitemap_url(start)
    if is_site and urlsplit(start).path in ("", "/"):
        enqueue(await discover(fetch, start))
    else:
        fetched += 1
        try:
            first = await _load(fetch, start, max_inflated)
        except SitemapError as e:
            if is_site:
                log.info("%s is not a sitemap (%s); looking in robots.txt", start, e)
                enqueue(await discover(fetch, start))
            else:
                fail(start, str(e))

    while first is not None or queue:
        if first is not None:
            where, (kind, entries), first = start, first, None
        else:
            where = queue.popleft()
            if fetched >= max_sitemaps:
                log.warning("sitemap limit reached (%d fetched); %d more not fetched", fetched, len(queue) + 1)
                return
            fetched += 1
            try:
                kind, entries = await _load(fetch, where, max_inflated)
            except SitemapError as e:
                fail(where, str(e))
                continue
        stats.sitemaps += 1
        log.debug("sitemap %s: %s with %d entries", where, kind, len(entries))
        for entry in entries:
            loc = _http_url(entry.loc)
            if loc is None:
                stats.invalid += 1
                continue
            if kind == "sitemapindex":
                if since is not None and entry.lastmod is not None and entry.lastmod < since:
                    stats.pruned += 1
                else:
                    enqueue([loc])
                continue
            if not _in_range(entry.published or entry.lastmod, since, until):
                stats.out_of_range += 1
                continue
            if loc in seen_urls:
                stats.duplicates += 1
                continue
            if len(seen_urls) >= max_urls:
                stats.capped += 1
                log.warning("sitemap URL cap reached: %d URLs from %s; the rest of its sitemaps are not read",
                            max_urls, start)
                return
            seen_urls.add(loc)
            stats.urls += 1
            yield Candidate(url=loc, source="sitemap", title=entry.title, published=entry.published, record_key=loc)
