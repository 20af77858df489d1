"""The cluster engine: `--cluster local:N` or `--cluster tcp://HOST:8786`, extraction on Dask workers.

Two kinds of work go to the cluster, and everything else stays on the client:
  * WARC units (`Cluster.warc_records`): one byte span of one WARC file (`unit_bytes`, 128 MiB;
    `sources/warc.py:spans`). The worker opens the file itself (a path its machine sees, or a
    URL), reads, prefilters, extracts and fingerprints, and sends back a `UnitResult`: for each
    HTML record that passed the prefilter a `Packed` (text, fingerprint, metadata, the raw page
    zstd-compressed) or a `Skipped` (off topic after extraction, empty...), the unit's counts,
    what it read record by record (a `Scanned` part, handed to the store in file order as a
    local run's), and the warnings it logged (re-logged here, so they read as a local run's).
  * single pages (`Cluster.extract`, the `ExtractPort`): what `run` and URL/sitemap backfills
    fetched. The client fetches (politeness, robots, the address guard stay in one place); the
    cluster extracts.
The client keeps the one writer: it judges and stores every result as a local run does, so the
database (SQLite by default) and every verdict are the same. When a worker dies, Dask runs its
unit again elsewhere; the record keys (marked done in the transaction that stores the article,
and checked before each store) keep every article stored once.

The main process imports dask only here, and only with --cluster (pip install 'ingest[cluster]').
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from ingest.analyse.topics import TopicMatcher
from ingest.extract.forkserver import WORKER_MODULE
from ingest.extract.pool import in_worker
from ingest.records import Candidate, Extracted, FileEnd, Packed, Page, ReextractJob, Scanned, Skipped
from ingest.sources.warc import HEARTBEAT, Ledger, WarcStats, spans

log = logging.getLogger("ingest.cluster")

UNIT = 128 << 20  # bytes of WARC per unit of work, at most
MIN_UNIT = 16 << 20  # ... and at least: a file of a few units is cut finer (below), not into crumbs
SHARE = 4  # a file is cut into at least this many units per worker (when MIN_UNIT allows)
QUEUED = 2  # units handed out per worker: the one it reads and the next
_SPEC = re.compile(r"local:(?P<n>\d+)|(?P<address>(?:tcp|tls)://\S+)")


class ClusterError(Exception):
    """The cluster cannot be started or reached; the message is one line."""


def parse_spec(spec: str) -> tuple[int | None, str | None]:
    """`local:N` -> (N, None); `tcp://HOST:PORT` -> (None, address). ClusterError otherwise."""
    m = _SPEC.fullmatch(spec.strip())
    if m is None:
        raise ClusterError(f"--cluster: expected local:N or tcp://HOST:PORT, got {spec!r}")
    if m["n"] is not None:
        n = int(m["n"])
        if not 1 <= n <= 512:
            raise ClusterError(f"--cluster: local:N needs 1 <= N <= 512, got {n}")
        return n, None
    return None, m["address"]


@dataclass(frozen=True)
class WarcUnit:
    """The records of `location` that start in [begin, end)."""

    location: str
    begin: int
    end: int
    size: int  # of the whole file


@dataclass
class UnitResult:
    unit: WarcUnit
    records: list[tuple[Candidate, Packed | Skipped]] = field(default_factory=list)
    stats: WarcStats = field(default_factory=WarcStats)
    logs: list[tuple[str, int, str]] = field(default_factory=list)  # (logger, level, message)
    scanned: Scanned | None = None  # the records read (None: the file did not open)


class Cluster:
    """A Dask client (and the LocalCluster it started, if any); an ExtractPort for the pipeline."""

    def __init__(self, client: Any, local: Any, matcher: TopicMatcher, unit_bytes: int = UNIT,
                 min_unit: int = MIN_UNIT) -> None:
        self.client, self.local, self.matcher = client, local, matcher
        self.unit_bytes, self.min_unit = unit_bytes, min_unit
        self._matcher = client.scatter(matcher, broadcast=True, hash=False)  # sent once, not with every task

    @classmethod
    def start(cls, spec: str, matcher: TopicMatcher, *, unit_bytes: int = UNIT, min_unit: int = MIN_UNIT,
              connect_timeout: float = 20.0) -> Cluster:
        """Start `local:N` (N worker processes, one thread each, worker.py preloaded) or connect to
        a running scheduler. ClusterError with one line if that fails."""
        n, address = parse_spec(spec)
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ClusterError("--cluster needs dask: pip install 'ingest[cluster]'") from None
        if logging.getLogger().level > logging.DEBUG:  # distributed's INFO lines are for -vv only
            logging.getLogger("distributed").setLevel(logging.WARNING)
        local = None
        try:
            if n is not None:
                _forkserver_workers()
                local = LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0",
                    silence_logs=logging.ERROR, preload=[WORKER_MODULE], memory_limit=0)
                client = Client(local)  # type: ignore[no-untyped-call]
            else:
                client = Client(address, timeout=f"{connect_timeout}s")  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError, ValueError) as e:
            if local is not None:
                local.close()
            raise ClusterError(f"--cluster {spec}: cannot start or reach the cluster: {type(e).__name__}: "
                               f"{' '.join(str(e).split())[:200]}") from None
        return cls(client, local, matcher, unit_bytes, min_unit)

    def workers(self) -> dict[str, Any]:
        info: dict[str, Any] = self.client.scheduler_info(n_workers=-1)["workers"]
        return info

    def worker_pids(self) -> dict[str, int]:
        """Worker address -> pid (tests kill one)."""
        pids: dict[str, int] = self.client.run(os.getpid)
        return pids

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a cluster whose workers are gone may complain
            self.client.close()
        if self.local is not None:
            with contextlib.suppress(Exception):
                self.local.close()

    # --- single pages (ExtractPort) ----------------------------------------------------------
    async def extract(self, page: Page, candidate: Candidate) -> Extracted | Skipped:
        slim = replace(page, body=b"")  # the worker reads page.html; the raw bytes stay here
        result = await _awaited(self.client.submit(in_worker, "run_with", slim, candidate, self._matcher, pure=False))
        if isinstance(result, Skipped):
            return result
        document, fingerprint, topics = result
        return Extracted(page=page, document=document, fingerprint=fingerprint, topics=topics)

    async def reextract(self, job: ReextractJob) -> Extracted | Skipped:
        _, result = await _awaited(self.client.submit(in_worker, "reextract", job, pure=False))
        done: Extracted | Skipped = result
        return done

    # --- WARC units ------------------------------------------------------------------------------
    def warc_records(self, locations: list[str], stats: WarcStats, *, max_bytes: int, prefilter: bool,
                     user_agent: str | None, timeout: float
                     ) -> Iterator[tuple[Candidate, Packed | Skipped] | FileEnd | Scanned | None]:
        """The records of the files, extracted on the cluster, in the order a local run reads them
        (units run in any order; their results are handed on in file order, so the writer sees
        what a local run's writer sees, and a copy and its original are told apart the same way);
        each unit's Scanned part before its records, unless a unit of the file before it failed
        (the store counts a file only over a stretch read without a gap); a FileEnd after each
        file; None at least every HEARTBEAT seconds while waiting (the caller advances this on a
        thread and must see a cancellation)."""
        from distributed import wait

        plan = self._units(locations, stats, user_agent, timeout)
        queue: deque[tuple[Any, WarcUnit | FileEnd]] = deque()  # (future | None, unit), in file order
        planned = False
        gap = False  # a unit of the current file failed or was cut short
        while True:
            while not planned and sum(f is not None for f, _ in queue) < QUEUED * max(1, len(self.workers())):
                item = next(plan, None)
                if item is None:
                    planned = True
                elif isinstance(item, FileEnd):
                    queue.append((None, item))
                else:
                    queue.append((self.client.submit(read_unit, item, self._matcher, prefilter, max_bytes, user_agent,
                                                     timeout, pure=False), item))
            if not queue:
                return
            fut, unit = queue[0]
            if fut is not None:
                try:
                    wait([fut], timeout=HEARTBEAT)  # type: ignore[no-untyped-call]
                except TimeoutError:
                    yield None
                    continue
            queue.popleft()
            if isinstance(unit, FileEnd):
                yield unit
                continue
            result = self._result(fut, unit)
            part = result.scanned if result is not None else None
            gap = gap and unit.begin > 0
            if part is not None and not gap:
                yield replace(part, ended=part.ended and unit.end >= unit.size)
            gap = gap or part is None or not part.ended  # failed or cut short: the rest of the file is not counted
            if result is not None:
                stats.add(result.stats)
                for name, level, message in result.logs:
                    logging.getLogger(name).log(level, "%s", message)
                yield from result.records
            if unit.end >= unit.size:  # the file's last unit
                yield FileEnd(unit.location)

    @staticmethod
    def _result(fut: Any, unit: WarcUnit) -> UnitResult | None:
        try:
            result: UnitResult = fut.result()
        except Exception as e:  # noqa: BLE001 - KilledWorker (it killed its workers again and again), a bug
            log.warning("warc unit failed: %s bytes %d-%d: %s: %s", unit.location, unit.begin, unit.end,
                        type(e).__name__, " ".join(str(e).split())[:200])
            return None
        return result

    def _units(self, locations: list[str], stats: WarcStats, user_agent: str | None, timeout: float
               ) -> Iterator[WarcUnit | FileEnd]:
        """Each file's units (its size is all the client reads of it), or a FileEnd for one that
        cannot be opened (one warning line, as a local backfill)."""
        for loc in locations:
            try:
                size = _size(loc, user_agent, timeout)
            except OSError as e:
                stats.failed += 1
                log.warning("warc skipped: %s", e)
                yield FileEnd(loc)
                continue
            for begin, end in spans(size, self.unit_for(size)):
                yield WarcUnit(loc, begin, end, size)

    def unit_for(self, size: int) -> int:
        """The unit size for a file: `unit_bytes` (128 MiB), or less for a file that would be only a
        few units, so every worker gets SHARE of them (down to `min_unit`): with units as large as
        a worker's share, the workers finish unevenly, and the last units' articles are stored only
        after the extraction has ended instead of meanwhile."""
        share = -(-size // (SHARE * max(1, len(self.workers()))))
        return min(self.unit_bytes, max(self.min_unit, share))


# Dask's own bookkeeping, off or slower on local clusters: the statistical profiler of the
# workers' threads, the system monitor (every 0.5 s) and the event-loop tick watch (every 20 ms)
# cost an idle LocalCluster of 2 workers 3.2 s of CPU per 30 s (0.6 s with these), taken from the
# two cores the extraction has. For a remote cluster, docs/cluster.md gives the same settings.
QUIET_DASK = {"distributed.worker.profile.enabled": False, "distributed.admin.system-monitor.interval": "5s",
              "distributed.admin.tick.interval": "200ms"}


def _forkserver_workers() -> None:
    """Local workers forked from a server that has imported distributed and worker.py once (as the
    local pool's, extract/pool.py), instead of Dask's default of spawning each one afresh, which
    imports both again per worker: seconds of start-up per worker on a busy machine."""
    import multiprocessing

    import dask
    import distributed.utils

    dask.config.set({"distributed.worker.multiprocessing-method": "forkserver", **QUIET_DASK})
    multiprocessing.get_context("forkserver").set_forkserver_preload(["distributed", WORKER_MODULE])
    distributed.utils._forkserver_preload_set = True  # keep ours: Dask's own list would import pandas here


def _size(location: str, user_agent: str | None, timeout: float) -> int:
    from ingest.sources.remote import RemoteFile, is_remote

    if not is_remote(location):
        try:
            return os.stat(location).st_size
        except OSError as e:
            raise OSError(f"{location}: cannot read WARC file: {e.strerror or e}") from None
    with RemoteFile(location, user_agent=user_agent, timeout=timeout) as remote:
        return remote.size or 0


async def _awaited(fut: Any) -> Any:
    """A Dask future's result, awaited on the event loop; the result is unpickled on Dask's
    callback thread, not on the loop."""
    loop = asyncio.get_running_loop()
    out: asyncio.Future[Any] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if not out.done():
            (out.set_result if ok else out.set_exception)(value)

    def done(f: Any) -> None:
        try:
            ok, value = True, f.result()
        except BaseException as e:  # noqa: BLE001 - handed to the awaiting task
            ok, value = False, e
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(settle, ok, value)

    fut.add_done_callback(done)
    try:
        return await out
    finally:
        if not out.done() or out.cancelled():
            fut.cancel()


# --- on the workers ------------------------------------------------------------------------------
class _Collect(logging.Handler):
    """Keeps what `ingest` logs on this thread during a unit, to send back with its results."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.lines: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.lines.append((record.name, record.levelno, record.getMessage()))


def read_unit(unit: WarcUnit, matcher: TopicMatcher, prefilter: bool, max_bytes: int, user_agent: str | None,
              timeout: float) -> UnitResult:
    """One unit, on a worker: read the span, prefilter, extract, fingerprint, pack the kept pages."""
    from ingest.extract import worker
    from ingest.extract.prefilter import Prefilter
    from ingest.sources.warc import warc_items

    result = UnitResult(unit)
    ledger = Ledger(unit.location)
    pf = Prefilter.from_matcher(matcher) if prefilter else None
    logger, collect = logging.getLogger("ingest"), _Collect()
    logger.addHandler(collect)
    propagate, logger.propagate = logger.propagate, False  # sent back, not printed by the worker
    try:
        for item in warc_items(unit.location, max_bytes=max_bytes, stats=result.stats, prefilter=pf,
                               user_agent=user_agent, timeout=timeout, heartbeat=float("inf"),
                               span=(unit.begin, unit.end), ledger=ledger):
            if item is not None:
                cand, page = item
                ex = worker.extract_counted(page, cand, matcher)
                result.records.append((cand, Packed.of(ex) if isinstance(ex, Extracted) else ex))
    except OSError as e:  # gone since the client looked at it (a remote file that stops answering is counted)
        result.stats.failed += unit.begin == 0
        logging.getLogger("ingest.backfill").warning("warc skipped: %s", e)
    finally:
        logger.removeHandler(collect)
        logger.propagate = propagate
    result.logs = collect.lines
    result.scanned = ledger.take()
    return result
