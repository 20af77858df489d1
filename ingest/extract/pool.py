"""A pool of worker processes for extraction, started before any socket is opened.

The pool uses the forkserver start method with the worker module preloaded: workers are
forked from a clean server process, so they never inherit the daemon's sockets or
SQLite handles, and trafilatura is imported once, not per task. The topic matcher is
handed to each worker once (initializer), not pickled with every page.

Only what the worker needs crosses the process boundary: the page without its raw
bytes on the way in, the document and fingerprint (not the page again) on the way out.

A worker that dies (the OOM killer on a hostile page, a segfault in a C extension)
breaks the whole executor; the pool replaces it without blocking the event loop and
retries the pages that were in flight once, so the page that kills its worker twice is
skipped and every other page is extracted.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace

from ingest.analyse.topics import TopicMatcher
from ingest.records import Candidate, Extracted, Page, ReextractJob, Skipped

ATTEMPTS = 2  # a page in flight when a worker died is tried once more on the new pool
WORKER_MODULE = "ingest.extract.worker"  # preloaded by the forkserver, never imported by the main process


def in_worker(name: str, *args):
    """Run `ingest.extract.worker.<name>(*args)`; this is what is sent to the worker processes.

    A reference to a worker.py function would make the main process import worker.py
    (trafilatura, lxml, numpy: about half a second of start-up for a process that never
    extracts). This function pickles as a reference to this light module instead, and in
    the worker the import is a dictionary look-up: the forkserver has preloaded worker.py.
    """
    from . import worker

    return getattr(worker, name)(*args)


def start_forkserver() -> None:
    """Start the forkserver now, with worker.py preloading, without waiting for it.

    The forkserver imports trafilatura and the analysis libraries (~1 s of CPU) in its own
    process: started first thing, that overlaps with the main process's own imports instead
    of following them. It must be started before any socket is opened (its children, the
    workers, must not inherit any); ExtractPool.start() later uses the running server.
    """
    _forkserver_context()
    from multiprocessing import forkserver

    forkserver.ensure_running()


def _forkserver_context():
    """The forkserver start method, with worker.py preloaded in the server."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([WORKER_MODULE])
    return ctx


class ExtractPool:
    def __init__(self, workers: int, matcher: TopicMatcher):
        self.workers = max(1, workers)
        self.matcher = matcher
        self._executor: ProcessPoolExecutor | None = None
        self._restart_lock: asyncio.Lock | None = None
        self.pids: Counter = Counter()  # worker pid -> pages it extracted (tests, benchmarks)
        self.restarts = 0

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=_forkserver_context(), initializer=in_worker,
                                   initargs=("init_worker", self.matcher, os.getpid()))

    def start(self) -> "ExtractPool":
        """Start the forkserver and every worker now (the executor starts them lazily on submit).

        Synchronous on purpose: called before the event loop opens any socket.
        """
        self._executor = self._new_executor()
        for f in [self._executor.submit(in_worker, "warm") for _ in range(self.workers)]:
            f.result()
        return self

    @property
    def worker_pids(self) -> list[int]:
        """Pids of the live worker processes (for RSS measurements)."""
        procs = getattr(self._executor, "_processes", None) or {}
        return [p.pid for p in list(procs.values()) if p.pid]

    async def extract(self, page: Page, candidate: Candidate) -> Extracted | Skipped:
        slim = replace(page, body=b"")  # the worker reads page.html; the raw bytes stay here
        for _ in range(ATTEMPTS):
            executor = self._executor
            try:
                pid, result = await asyncio.wrap_future(executor.submit(in_worker, "run", slim, candidate))
            except BrokenProcessPool:
                await self._restart(executor)
                continue
            self.pids[pid] += 1
            if isinstance(result, Skipped):
                return result
            document, fingerprint, topics = result
            return Extracted(page=page, document=document, fingerprint=fingerprint, topics=topics)
        return Skipped(page.url, "error", "extraction worker died")

    async def reextract(self, job: ReextractJob) -> Extracted | Skipped:
        """Extract a stored page again (decompressed and decoded in the worker)."""
        for _ in range(ATTEMPTS):
            executor = self._executor
            try:
                pid, result = await asyncio.wrap_future(executor.submit(in_worker, "reextract", job))
            except BrokenProcessPool:
                await self._restart(executor)
                continue
            self.pids[pid] += 1
            return result
        return Skipped(job.url, "error", "extraction worker died")

    async def _restart(self, broken: ProcessPoolExecutor | None) -> None:
        """Replace a broken executor once, however many pages noticed it; never blocks the loop."""
        if self._restart_lock is None:
            self._restart_lock = asyncio.Lock()
        async with self._restart_lock:
            if self._executor is not broken:  # another task already replaced it
                return
            if broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
            fresh = self._new_executor()
            await asyncio.gather(*(asyncio.wrap_future(fresh.submit(in_worker, "warm")) for _ in range(self.workers)))
            self._executor = fresh
            self.restarts += 1

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
