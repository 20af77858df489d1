"""Backfill: feed the pipeline from URL lists, sitemaps or WARC files instead of feeds.

Each source record carries a `record_key`; the writer marks it done in the same
transaction that stores its article, so an interrupted backfill rerun skips exactly
what was already done (per record, not per file). A WARC source also hands on, every
thousand records or second, what it read of each file (`Scanned`: records, prefiltered,
kept), which the store counts once per record of the file for `ingest stats`.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.analyse.topics import TopicMatcher
from ingest.config import Config
from ingest.fetch import Fetcher, FetchPort
from ingest.progress import Progress, progress
from ingest.records import Candidate, FileEnd, Packed, Page, Scanned, Skipped
from ingest.sources.urls import url_candidates
from ingest.store import Store, is_postgres, open_store
from ingest.store.errors import FAILED, StoreError

from .pipeline import Archive, Pipeline

if TYPE_CHECKING:  # sitemaps (lxml), WARC (warcio, FastWARC), the prefilter (re2) and the reader load when used:
    # a backfill of URLs reaches its first page without them (docs/performance.md, start-up)
    from ingest.sources.sitemap import SitemapStats
    from ingest.sources.warc import WarcStats

    from .cluster import Cluster

log = logging.getLogger("ingest.backfill")


@dataclass
class BackfillReport:
    counts: Counter[str] = field(default_factory=Counter)
    planned: list[str] = field(default_factory=list)  # --dry-run: what would be fetched or stored


Done = Page | Packed | Skipped  # what a source may hand over with a candidate: its page, or its extraction
Record = Candidate | tuple[Candidate, Done] | FileEnd | Scanned
Records = Iterable[Record | None] | AsyncIterable[Candidate]
Item = tuple[Candidate, Done | None] | FileEnd | Scanned


@dataclass
class Context:
    """What a source may use while it lists records: a fetcher (sitemaps), the topics (the WARC
    prefilter), the config, the run's counts, and the cluster if there is one (WARC units).
    A WARC source tells the files it will read and its counts (`files`, `warc`), for the progress line."""

    cfg: Config
    fetcher: FetchPort
    matcher: TopicMatcher
    counts: Counter[str]
    cluster: Cluster | None = None
    files: int | None = None
    warc: WarcStats | None = None


STORED = ("new", "version", "unchanged", "flipflop", "suspect")  # outcomes where the writer stored the page
REFRESH = 0.25  # seconds between updates of the progress line


@dataclass(frozen=True)
class Snapshot:
    """Where a backfill is, each figure counted when it happened: a record is stored when the
    writer has committed it, a file is done when every record in it is finished (stored, skipped
    or failed) -- not when it has been read or handed to the workers."""

    elapsed: float  # seconds since the start
    scanned: int  # records read (WARC: every record of the files; other sources: URLs listed)
    kept: int  # records sent on to extraction (WARC: past the prefilter and not done before)
    stored: int
    finished: int  # records with an outcome, whatever it is
    files_done: int = 0
    files: int | None = None  # WARC files to read
    total: int | None = None  # records, when the source knows them up front (URL lists)

    @property
    def rate(self) -> float:
        """Records scanned per second."""
        return self.scanned / self.elapsed if self.elapsed > 0 else 0.0

    def progress(self) -> tuple[int, int | None]:
        """(done, total) of the progress bar: files for WARC sources, else records."""
        return (self.files_done, self.files) if self.files is not None else (self.finished, self.total)

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far, or None before anything is done (or with no total)."""
        done, total = self.progress()
        if total is None or not done:
            return None
        return self.elapsed * (total - done) / done

    def line(self) -> str:
        files = f"files {self.files_done}/{self.files}, " if self.files is not None else ""
        eta = "" if (left := self.eta) is None else f", ETA {int(left // 60)}:{int(left % 60):02d}"
        return (f"{files}scanned {self.scanned:,}, kept {self.kept:,}, stored {self.stored:,}, "
                f"{self.rate:,.0f} records/s{eta}")


Source = Callable[[Context], Records]


async def as_items(records: Records) -> AsyncIterator[Item]:
    """Any source as an async stream of (candidate, page / extraction / None), FileEnd markers and
    the WARC files' Scanned parts.

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
            yield item if isinstance(item, tuple | FileEnd | Scanned) else (item, None)


async def backfill(cfg: Config, source: Source, *, dry_run: bool = False, hosts: dict[str, str] | None = None,
                   archive: Archive | None = None, cluster: Cluster | None = None,
                   watch: Callable[[Snapshot], None] | None = None) -> BackfillReport:
    """Run the pipeline over a source's records, skipping those already done. With a cluster,
    extraction runs there (WARC files are read there too); storing stays here.

    On a terminal a progress line tells where it is (`Snapshot.line`); `watch` is called with
    the same figures as they change (every REFRESH seconds, and once at the end).
    A dry run lists what would be fetched or stored and writes nothing: no database is created,
    no worker started (an existing database is read to leave out what is done).
    """
    if dry_run:
        return await _dry_run(cfg, source, hosts)
    report = BackfillReport()
    async with open_store(cfg) as store, Pipeline(cfg, store, hosts=hosts, refetch_known=True,
                                                  archive=archive, engine=cluster) as pipe:
        assert pipe.fetcher is not None
        ctx = Context(cfg, pipe.fetcher, pipe.matcher, pipe.tally.counts, cluster)
        records = source(ctx)
        total = len(records) if isinstance(records, list) else None  # URL lists: rate and ETA
        meter, counts = _Meter(ctx, pipe, report, total), _FileCounts(store)
        with progress("backfill", total=total, unit="records") as bar:
            shown = asyncio.create_task(meter.show(bar, watch))
            try:
                async for item in as_items(records):
                    if isinstance(item, FileEnd):
                        meter.file_read()
                        continue
                    if isinstance(item, Scanned):
                        counts.add(item)
                        continue
                    cand, page = item
                    meter.listed += 1
                    if cand.record_key and await store.backfill.is_done(cand.source, cand.record_key):
                        report.counts["already_done"] += 1
                    else:
                        meter.submitted += 1
                        await pipe.submit(cand, page)
                await pipe.drain()
                await meter.files_settled()
                await counts.settled()
            finally:
                shown.cancel()
                await asyncio.gather(shown, return_exceptions=True)
                await counts.abandon()
            meter.update(bar, watch)
        report.counts.update(pipe.tally.counts)
    return report


class _FileCounts:
    """Hands the WARC files' Scanned parts to the store in the order they came (a file's count
    moves on part by part), without holding up the reading: each is written after the one
    before, while the next records are read. A failing write fails `settled`; parts still
    waiting when a run stops are dropped (`abandon`), and the next run counts their records."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._last: asyncio.Task[None] | None = None

    def add(self, part: Scanned) -> None:
        async def write(before: asyncio.Task[None] | None) -> None:
            if before is not None:
                await before
            await self.store.backfill.scanned(part)

        self._last = asyncio.create_task(write(self._last))

    async def settled(self) -> None:
        if self._last is not None:
            await self._last

    async def abandon(self) -> None:
        """Drop the parts not written yet (a stopped run: the next run counts their records)."""
        if self._last is not None:
            self._last.cancel()  # and, through it, the writes it waits for
            await asyncio.gather(self._last, return_exceptions=True)


class _Meter:
    """The figures of a running backfill, taken from where they happen: the WARC reader's counts,
    the pipeline's tally (outcomes counted when the writer has finished with a record), and the
    files whose every record is finished."""

    def __init__(self, ctx: Context, pipe: Pipeline, report: BackfillReport, total: int | None) -> None:
        self.ctx, self.pipe, self.report, self.total = ctx, pipe, report, total
        self.started = time.monotonic()
        self.listed = 0  # records the source handed over
        self.submitted = 0  # of those, sent on (not done before)
        self.files_done = 0
        self._settling: list[asyncio.Task[None]] = []

    def file_read(self) -> None:
        """The source has read a file to its end: it is done once the records it sent are finished."""
        async def settle(before: asyncio.Task[None] | None) -> None:
            await self.pipe.settled()
            if before is not None:  # files are done in order
                await before
            self.files_done += 1

        self._settling.append(asyncio.create_task(settle(self._settling[-1] if self._settling else None)))

    async def files_settled(self) -> None:
        await asyncio.gather(*self._settling)

    def snapshot(self) -> Snapshot:
        counts, warc = self.pipe.tally.counts, self.ctx.warc
        stored = sum(counts[k] for k in STORED)
        finished = sum(counts.values()) + self.report.counts["already_done"]
        scanned, kept = (warc.records, self.submitted) if warc is not None else (self.listed, self.submitted)
        return Snapshot(time.monotonic() - self.started, scanned, kept, stored, finished, self.files_done,
                        self.ctx.files, self.total)

    def update(self, bar: Progress, watch: Callable[[Snapshot], None] | None) -> None:
        snap = self.snapshot()
        done, total = snap.progress()
        bar.show(done, total, snap.line(), unit="files" if snap.files is not None else "records")
        if watch is not None:
            watch(snap)

    async def show(self, bar: Progress, watch: Callable[[Snapshot], None] | None) -> None:
        if not bar.enabled and watch is None:
            return
        while True:
            self.update(bar, watch)
            await asyncio.sleep(REFRESH)


async def _dry_run(cfg: Config, source: Source, hosts: dict[str, str] | None) -> BackfillReport:
    report = BackfillReport()
    from ingest.read.api import Reader

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
            async for item in as_items(records):
                if isinstance(item, FileEnd | Scanned):
                    continue
                cand = item[0]
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
        from ingest.sources.sitemap import sitemap_candidates

        for url in urls:
            async for cand in sitemap_candidates(ctx.fetcher.fetch, url, since=since, until=until, stats=stats):
                yield cand

    return records


def from_warcs(paths: list[str], stats: WarcStats | None = None, max_bytes: int = 10_000_000,
               prefilter: bool = True) -> Source:
    """WARC files or URLs, read on a thread. With topics configured, the topic prefilter drops
    pages that cannot be on topic before they reach the extraction workers (counted in `stats`
    and as "prefiltered" in the run's counts, and per file in the database through the
    `Scanned` parts, see `Ledger`). A file that cannot be opened (404, missing) is one warning
    line and the next file is read."""

    def records(ctx: Context) -> Iterator[tuple[Candidate, Done] | FileEnd | Scanned | None]:
        from ingest.sources.warc import WarcStats

        st = stats if stats is not None else WarcStats()
        ctx.files, ctx.warc = len(paths), st  # now, for the progress line (the reading starts on a thread)
        return read(ctx, st)

    def read(ctx: Context, st: WarcStats) -> Iterator[tuple[Candidate, Done] | FileEnd | Scanned | None]:
        before = st.prefiltered
        agent, timeout = ctx.cfg.fetch.user_agent, ctx.cfg.fetch.timeout
        try:
            if ctx.cluster is not None:  # read and extracted on the cluster, unit by unit
                yield from ctx.cluster.warc_records(paths, st, max_bytes=max_bytes, prefilter=prefilter,
                                                    user_agent=agent, timeout=timeout)
                return
            from ingest.extract.prefilter import Prefilter
            from ingest.sources.warc import Ledger, warc_items

            pf = Prefilter.from_matcher(ctx.matcher) if prefilter else None
            for path in paths:
                ledger = Ledger(path)
                try:
                    for item in warc_items(path, max_bytes=max_bytes, stats=st, prefilter=pf, user_agent=agent,
                                           timeout=timeout, ledger=ledger):
                        yield item
                        if ledger.due():
                            yield ledger.take()
                except OSError as e:  # cannot be opened (RemoteError: 404, refused; a local file gone)
                    st.failed += 1
                    log.warning("warc skipped: %s", e)
                if (part := ledger.take()) is not None:
                    yield part
                yield FileEnd(path)
        finally:  # on this thread, once: the loop's own counts are other keys
            if st.prefiltered > before:
                ctx.counts["prefiltered"] += st.prefiltered - before

    return records
