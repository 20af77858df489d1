"""SQLiteStore: the store service over one SQLite file (the default backend).

    async with SQLiteStore(cfg) as store:
        known = await store.known(candidate)
        stored = await store.store(candidate, extracted, fetch_log)

Like Datasette's Database, the store owns its writer thread: every call is handed to one
dedicated thread that owns the connection (Writer, writer.py) and runs it in one
transaction, so SQLite never blocks the event loop and there is exactly one writer per
process. `store()` calls are batched: one task collects them and writes up to `batch` in
one transaction, lingering a moment for more only while articles arrive faster than
`linger` apart and more are on their way (`expect`: a busy run, ~8-20 per commit instead of
1; a lone article, or the last of a run: stored at once).
A batch that fails is retried article by article, so one bad article costs only itself.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from ingest.config import Config, FeedConfig
from ingest.records import (
    Candidate,
    Extracted,
    FeedState,
    FetchLog,
    Known,
    OffTopic,
    Poll,
    Recheck,
    ReextractJob,
    Scanned,
    Source,
    Stored,
)

from .reextract import count_pages, read_pages
from .retention import PRUNE_BATCH, prune_old_batch
from .tables import is_done
from .writer import Writer

T = TypeVar("T")

STORE_BATCH = 64  # extracted articles per transaction, at most
# Seconds the store task waits for more articles after the first of a batch, when the previous
# article arrived less than this ago and more are on their way (`expect`). Pages leave
# extraction one every 25-70 ms in a busy run (quiet or loaded machine): 0.5 s gives batches
# of ~8-20 instead of ~1, and each article costs the writer less CPU (one COMMIT and FTS flush
# per batch: ~0.5 ms less per article from batches of 4 to 16; docs/performance.md). A batch
# stops lingering as soon as nothing more is on its way, so the last one of a run waits for nothing.
STORE_LINGER = 0.5
_RECHECK = 0.05  # seconds between looks at `expect` while lingering

_Item = tuple[Candidate, Extracted, FetchLog | None, "asyncio.Future[Stored]"]


class SQLiteStore:
    """The `Store` (ingest/store/protocol.py) over the SQLite file `cfg.database`."""

    writer_class: type[Writer] = Writer

    def __init__(self, cfg: Config, *, batch: int = STORE_BATCH, linger: float = STORE_LINGER):
        self.cfg = cfg
        self.path = cfg.database
        self.batch = max(1, batch)
        self.linger = linger
        self._more: Callable[[], bool] = lambda: True  # articles on their way to store() (expect)
        self.batches: Counter[int] = Counter()  # batch size -> how many (tests, benchmarks)
        self.feeds = _Feeds(self)
        self.recheck = _Rechecks(self)
        self.backfill = _Backfill(self)
        self.reextract = _Reextract(self)
        self.leases: _Leases = _SoleWriter()
        self._thread: ThreadPoolExecutor | None = None
        self._writer: Writer | None = None
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._last_arrival = float("-inf")

    # --- lifecycle -------------------------------------------------------------------------
    async def open(self) -> SQLiteStore:
        """Start the writer thread and open (create, migrate) the database on it."""
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="ingest-writer")
        self._writer = await self._on_thread(self.writer_class.open, self.path, self.cfg)
        return self

    async def close(self) -> None:
        """Stop batching (a batch being written is finished by the thread) and close."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._writer is not None:
            await self._on_thread(self._writer.close)
            self._writer = None
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None

    async def __aenter__(self) -> SQLiteStore:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _on_thread(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, lambda: fn(*args))

    async def execute_fn(self, fn: Callable[[Writer], T], write: bool = True) -> T:
        """Run `fn(writer)` on the writer thread, in one transaction when `write` (Datasette's
        execute_write_fn). The door's own methods are built on this; tests, benchmarks and
        tools use it for what the protocol does not name (tracing SQL, counting rows)."""
        w = self._writer
        if w is None:
            raise RuntimeError("the store is not open")

        def run() -> T:
            for attempt in range(2):
                try:
                    if not write:
                        return fn(w)
                    with w.txn():
                        return fn(w)
                except Exception as e:
                    if attempt == 0 and w.recover(e):  # PostgreSQL restarted: the transaction rolled back
                        continue
                    raise w.fatal(e) or e from None  # the database itself failing (disk full...) stops the run
            raise AssertionError("unreachable")

        return await self._on_thread(run)

    def backlog(self) -> int:
        """Extracted articles waiting for the writer (metrics, the status file)."""
        return self._queue.qsize()

    async def ping(self) -> float:
        started = time.monotonic()
        await self.execute_fn(lambda w: None, write=False)
        return time.monotonic() - started

    async def prune(self) -> int:
        """Drop fetch-log rows older than `retention.fetch_log_days`, a short transaction per
        batch (other writes go between); how many."""
        total = 0
        while True:
            n = await self.execute_fn(lambda w: prune_old_batch(w.conn, self.cfg.retention.fetch_log_days))
            total += n
            if n < PRUNE_BATCH:
                return total

    # --- articles --------------------------------------------------------------------------
    async def known(self, candidate: Candidate) -> Known | OffTopic | None:
        return await self.execute_fn(lambda w: w.articles.known(candidate), write=False)

    async def seen(self, known: Known, candidate: Candidate) -> None:
        await self.execute_fn(lambda w: w.articles.seen(known, candidate))

    async def skipped(self, candidate: Candidate, reason: str, fetch: FetchLog | None = None) -> None:
        await self.execute_fn(lambda w: w.articles.skipped(candidate, reason, fetch))

    async def store(self, candidate: Candidate, extracted: Extracted, fetch: FetchLog | None = None) -> Stored:
        fut: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((candidate, extracted, fetch, fut))
        if self._task is None:
            self._task = asyncio.create_task(self._store_loop(), name="ingest-store")
        return await fut

    def expect(self, more: Callable[[], bool]) -> None:
        self._more = more

    async def _store_loop(self) -> None:
        q, loop = self._queue, asyncio.get_running_loop()
        while True:
            batch = [await q.get()]
            busy = loop.time() - self._last_arrival < self.linger
            self._last_arrival = loop.time()
            deadline = loop.time() + (self.linger if busy else 0.0)
            while len(batch) < self.batch:
                if not q.empty():
                    batch.append(q.get_nowait())
                    self._last_arrival = loop.time()
                    continue
                left = deadline - loop.time()
                if left <= 0 or not self._more():
                    break
                try:
                    batch.append(await asyncio.wait_for(q.get(), min(left, _RECHECK)))
                    self._last_arrival = loop.time()
                except TimeoutError:
                    continue
            items = [(c, ex, log) for c, ex, log, _ in batch]
            try:
                results = await self.execute_fn(functools.partial(_store_batch, items=items), write=False)
            except asyncio.CancelledError:  # closing: the thread finishes the batch, nobody waits
                for *_, fut in batch:
                    fut.cancel()
                raise
            except Exception as e:  # the database failed (StoreError): every article of the batch hears it
                results = [e] * len(batch)
            self.batches[len(batch)] += 1
            for (*_, fut), result in zip(batch, results):
                if fut.done():
                    continue
                if isinstance(result, BaseException):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)


def _read_pages(w: Writer, since: str | None, after: int, limit: int) -> list[ReextractJob]:
    return read_pages(w.conn, since, after, limit)


def _store_batch(w: Writer, items: list[tuple[Candidate, Extracted, FetchLog | None]]) -> list[Stored | Exception]:
    """On the writer thread: one transaction for the batch; if it fails, each article alone
    (unless the database itself failed: then every article would, and the run stops)."""
    try:
        return list(w.store_many(items))
    except Exception as e:
        if w.fatal(e):
            raise
        if len(items) == 1:
            return [e]
    out: list[Stored | Exception] = []
    for item in items:
        try:
            out.append(w.store_many([item])[0])
        except Exception as e:
            out.append(e)
    return out


class _Feeds:
    def __init__(self, store: SQLiteStore):
        self._store = store

    async def register(self, feeds: Sequence[FeedConfig]) -> list[FeedState]:
        return await self._store.execute_fn(lambda w: w.feeds.register(feeds))

    async def new_entries(self, candidates: Sequence[Candidate]) -> int:
        return await self._store.execute_fn(lambda w: w.articles.count_unknown(candidates), write=False)

    async def polled(self, feed: FeedState, poll: Poll) -> FeedState:
        return await self._store.execute_fn(lambda w: w.feeds.polled(feed, poll))


class _Rechecks:
    def __init__(self, store: SQLiteStore):
        self._store = store

    async def due(self, limit: int) -> list[Recheck]:
        return await self._store.execute_fn(lambda w: w.rechecks.due(limit), write=False)

    async def defer(self, handed_out: Sequence[Recheck]) -> int:
        return await self._store.execute_fn(lambda w: w.rechecks.defer(handed_out))


class _Backfill:
    def __init__(self, store: SQLiteStore):
        self._store = store

    async def is_done(self, source: Source, key: str) -> bool:
        return await self._store.execute_fn(lambda w: is_done(w.conn, source, key), write=False)

    async def scanned(self, part: Scanned) -> None:
        await self._store.execute_fn(lambda w: w.scanned(part))


class _Reextract:
    def __init__(self, store: SQLiteStore):
        self._store = store

    async def pages(self, since: str | None, batch: int) -> AsyncIterator[list[ReextractJob]]:
        after = 0
        while jobs := await self._store.execute_fn(
                functools.partial(_read_pages, since=since, after=after, limit=batch), write=False):
            yield jobs
            after = jobs[-1].article_id

    async def count(self, since: str | None) -> int:
        return await self._store.execute_fn(lambda w: count_pages(w.conn, since), write=False)

    async def store(self, job: ReextractJob, extracted: Extracted) -> Stored:
        return await self._store.execute_fn(lambda w: w.articles.reextracted(job.article_id, extracted))


class _Leases:
    """Host leases (protocol.py LeaseStore)."""

    async def claim(self, host: str, owner: str, ttl: float) -> bool:
        raise NotImplementedError

    async def renew(self, hosts: Sequence[str], owner: str, ttl: float) -> set[str]:
        raise NotImplementedError

    async def release(self, host: str, owner: str, after: float) -> None:
        raise NotImplementedError


class _SoleWriter(_Leases):
    """On SQLite one daemon owns the file (its lock): every host is always its own."""

    async def claim(self, host: str, owner: str, ttl: float) -> bool:
        return True

    async def renew(self, hosts: Sequence[str], owner: str, ttl: float) -> set[str]:
        return set(hosts)

    async def release(self, host: str, owner: str, after: float) -> None:
        return None
