"""Backfill: feed the pipeline from URL lists, sitemaps or WARC files instead of feeds.

Each source record carries a `record_key`; the writer marks it done in the same
transaction that stores its article, so an interrupted backfill rerun skips exactly
what was already done (per record, not per file).
"""
from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Callable

from .config import Config
from .extract.prefilter import Prefilter
from .pipeline import Pipeline
from .progress import progress
from .records import Candidate, Page
from .sources.sitemap import SitemapStats, sitemap_candidates
from .sources.urls import url_candidates
from .sources.warc import WarcStats, warc_items

log = logging.getLogger("ingest.backfill")


@dataclass
class BackfillReport:
    counts: Counter = field(default_factory=Counter)
    planned: list[str] = field(default_factory=list)  # --dry-run: what would be fetched or stored


async def as_items(records):
    """Any source as an async stream of (candidate, page or None).

    Sync iterators (URL lists, WARC files) are advanced on a thread: reading a WARC
    record is file I/O and gzip work that must not stall the event loop. A None from one
    is a heartbeat (a WARC source dropping off-topic records): nothing to do, but the
    loop gets control back, so a cancellation is seen within a fraction of a second.
    """
    if hasattr(records, "__aiter__"):
        async for c in records:
            yield (c, None)
        return
    it = iter(records)
    done = object()
    while (item := await asyncio.to_thread(next, it, done)) is not done:
        if item is not None:
            yield item if isinstance(item, tuple) else (item, None)


Source = Callable[[Pipeline], object]  # given the running pipeline (for its fetcher), the records


async def backfill(cfg: Config, source: Source, *, dry_run: bool = False, hosts=None, archive=None) -> BackfillReport:
    """Run the pipeline over a source's records, skipping those already done."""
    report = BackfillReport()
    async with Pipeline(cfg, hosts=hosts, refetch_known=True, archive=archive) as pipe:
        records = source(pipe)
        total = len(records) if hasattr(records, "__len__") else None  # URL lists: rate and ETA
        with progress("backfill", total=total, unit="records") as tick:
            async for cand, page in as_items(records):
                if cand.record_key and await pipe.db(pipe.writer.is_done, cand.source, cand.record_key):
                    report.counts["already_done"] += 1
                elif dry_run:
                    report.planned.append(cand.url)
                else:
                    await pipe.submit(cand, page)
                tick()
            await pipe.drain()
        report.counts.update(pipe.tally.counts)
    return report


def from_urls(urls: list[str]) -> Source:
    return lambda pipe: url_candidates(urls)


def from_sitemaps(urls: list[str], since=None, until=None, stats: SitemapStats | None = None) -> Source:
    async def records(pipe: Pipeline):
        for url in urls:
            async for cand in sitemap_candidates(pipe.fetcher.fetch, url, since=since, until=until, stats=stats):
                yield cand

    return records


def from_warcs(paths: list[str], stats: WarcStats | None = None, max_bytes: int = 10_000_000,
               prefilter: bool = True) -> Source:
    """WARC files or URLs, read on a thread. With topics configured, the topic prefilter drops
    pages that cannot be on topic before they reach the extraction workers (counted in `stats`
    and as "prefiltered" in the run's counts). A file that cannot be opened (404, missing) is
    one warning line and the next file is read."""

    def records(pipe: Pipeline) -> Iterator[tuple[Candidate, Page] | None]:
        st = stats if stats is not None else WarcStats()
        pf = Prefilter.from_matcher(pipe.matcher) if prefilter else None
        before = st.prefiltered
        try:
            for path in paths:
                try:
                    yield from warc_items(path, max_bytes=max_bytes, stats=st, prefilter=pf,
                                          user_agent=pipe.cfg.fetch.user_agent, timeout=pipe.cfg.fetch.timeout)
                except OSError as e:  # cannot be opened (RemoteError: 404, refused; a local file gone)
                    st.failed += 1
                    log.warning("warc skipped: %s", e)
        finally:  # on this thread, once: the loop's own counts are other keys
            if st.prefiltered > before:
                pipe.tally.counts["prefiltered"] += st.prefiltered - before

    return records
