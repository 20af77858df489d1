"""Backfill: feed the pipeline from URL lists, sitemaps or WARC files instead of feeds.

Each source record carries a `record_key`; the writer marks it done in the same
transaction that stores its article, so an interrupted backfill rerun skips exactly
what was already done (per record, not per file).
"""
from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from .config import Config
from .pipeline import Pipeline
from .progress import progress
from .sources.sitemap import SitemapStats, sitemap_candidates
from .sources.urls import url_candidates
from .sources.warc import WarcStats, warc_pages

log = logging.getLogger("ingest.backfill")


@dataclass
class BackfillReport:
    counts: Counter = field(default_factory=Counter)
    planned: list[str] = field(default_factory=list)  # --dry-run: what would be fetched or stored


async def as_items(records):
    """Any source as an async stream of (candidate, page or None).

    Sync iterators (URL lists, WARC files) are advanced on a thread: reading a WARC
    record is file I/O and gzip work that must not stall the event loop.
    """
    if hasattr(records, "__aiter__"):
        async for c in records:
            yield (c, None)
        return
    it = iter(records)
    done = object()
    while (item := await asyncio.to_thread(next, it, done)) is not done:
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


def from_warcs(paths: list[str], stats: WarcStats | None = None, max_bytes: int = 10_000_000) -> Source:
    def records(pipe: Pipeline):
        for path in paths:
            yield from warc_pages(path, max_bytes=max_bytes, stats=stats)

    return records
