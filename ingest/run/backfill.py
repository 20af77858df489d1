"""Backfill: feed the pipeline from URL lists, sitemaps or WARC files instead of feeds.

Each source record carries a `record_key`; the writer marks it done in the same
transaction that stores its article, so an interrupted backfill rerun skips exactly
what was already done (per record, not per file).
"""
from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ingest.analyse.topics import TopicMatcher
from ingest.config import Config
from ingest.extract.prefilter import Prefilter
from ingest.fetch import Fetcher, FetchPort
from ingest.progress import progress
from ingest.read.api import Reader
from ingest.records import Candidate, Page
from ingest.sources.sitemap import SitemapStats, sitemap_candidates
from ingest.sources.urls import url_candidates
from ingest.sources.warc import WarcStats, warc_items
from ingest.store import is_postgres, open_store
from ingest.store.errors import FAILED, StoreError

from .pipeline import Archive, Pipeline

log = logging.getLogger("ingest.backfill")


@dataclass
class BackfillReport:
    counts: Counter[str] = field(default_factory=Counter)
    planned: list[str] = field(default_factory=list)  # --dry-run: what would be fetched or stored


Record = Candidate | tuple[Candidate, Page]
Records = Iterable[Record | None] | AsyncIterable[Candidate]


@dataclass
class Context:
    """What a source may use while it lists records: a fetcher (sitemaps), the topics (the WARC
    prefilter), the config and the run's counts."""

    cfg: Config
    fetcher: FetchPort
    matcher: TopicMatcher
    counts: Counter[str]


Source = Callable[[Context], Records]


async def as_items(records: Records) -> AsyncIterator[tuple[Candidate, Page | None]]:
    """Any source as an async stream of (candidate, page or None).

    Sync iterators (URL lists, WARC files) are advanced on a thread: reading a WARC
    record is file I/O and gzip work that must not stall the event loop. A None from one
    is a heartbeat (a WARC source dropping off-topic records): nothing to do, but the
    loop gets control back, so a cancellation is seen within a fraction of a second.
    """
    if isinstance(records, AsyncIterable):
        async for c in records:
            yield (c, None)
        return
    it: Iterator[Record | None] = iter(records)
    done = object()
    while (item := await asyncio.to_thread(next, it, done)) is not done:
        if item is not None:
            yield item if isinstance(item, tuple) else (item, None)


async def backfill(cfg: Config, source: Source, *, dry_run: bool = False, hosts: dict[str, str] | None = None,
                   archive: Archive | None = None) -> BackfillReport:
    """Run the pipeline over a source's records, skipping those already done.

    A dry run lists what would be fetched or stored and writes nothing: no database is created,
    no worker started (an existing database is read to leave out what is done).
    """
    if dry_run:
        return await _dry_run(cfg, source, hosts)
    report = BackfillReport()
    async with open_store(cfg) as store, Pipeline(cfg, store, hosts=hosts, refetch_known=True,
                                                  archive=archive) as pipe:
        assert pipe.fetcher is not None
        records = source(Context(cfg, pipe.fetcher, pipe.matcher, pipe.tally.counts))
        total = len(records) if isinstance(records, list) else None  # URL lists: rate and ETA
        with progress("backfill", total=total, unit="records") as tick:
            async for cand, page in as_items(records):
                if cand.record_key and await store.backfill.is_done(cand.source, cand.record_key):
                    report.counts["already_done"] += 1
                else:
                    await pipe.submit(cand, page)
                tick()
            await pipe.drain()
        report.counts.update(pipe.tally.counts)
    return report


async def _dry_run(cfg: Config, source: Source, hosts: dict[str, str] | None) -> BackfillReport:
    report = BackfillReport()
    reader = None
    if is_postgres(cfg.database) or Path(cfg.database).is_file():
        try:
            reader = Reader(cfg.database)
        except StoreError as e:  # a PostgreSQL database with no corpus yet: all is planned, as with no file
            if not is_postgres(cfg.database) or e.code != FAILED:
                raise
    try:
        async with Fetcher(cfg.fetch, hosts=hosts) as fetcher:
            records = source(Context(cfg, fetcher, TopicMatcher.from_config(cfg.topics), report.counts))
            async for cand, _ in as_items(records):
                if cand.record_key and reader is not None and reader.backfill_done(cand.source, cand.record_key):
                    report.counts["already_done"] += 1
                else:
                    report.planned.append(cand.url)
    finally:
        if reader is not None:
            reader.close()
    return report


def from_urls(urls: list[str]) -> Source:
    return lambda ctx: url_candidates(urls)


def from_sitemaps(urls: list[str], since: datetime | None = None, until: datetime | None = None,
                  stats: SitemapStats | None = None) -> Source:
    async def records(ctx: Context) -> AsyncIterator[Candidate]:
        for url in urls:
            async for cand in sitemap_candidates(ctx.fetcher.fetch, url, since=since, until=until, stats=stats):
                yield cand

    return records


def from_warcs(paths: list[str], stats: WarcStats | None = None, max_bytes: int = 10_000_000,
               prefilter: bool = True) -> Source:
    """WARC files or URLs, read on a thread. With topics configured, the topic prefilter drops
    pages that cannot be on topic before they reach the extraction workers (counted in `stats`
    and as "prefiltered" in the run's counts). A file that cannot be opened (404, missing) is
    one warning line and the next file is read."""

    def records(ctx: Context) -> Iterator[tuple[Candidate, Page] | None]:
        st = stats if stats is not None else WarcStats()
        pf = Prefilter.from_matcher(ctx.matcher) if prefilter else None
        before = st.prefiltered
        try:
            for path in paths:
                try:
                    yield from warc_items(path, max_bytes=max_bytes, stats=st, prefilter=pf,
                                          user_agent=ctx.cfg.fetch.user_agent, timeout=ctx.cfg.fetch.timeout)
                except OSError as e:  # cannot be opened (RemoteError: 404, refused; a local file gone)
                    st.failed += 1
                    log.warning("warc skipped: %s", e)
        finally:  # on this thread, once: the loop's own counts are other keys
            if st.prefiltered > before:
                ctx.counts["prefiltered"] += st.prefiltered - before

    return records
