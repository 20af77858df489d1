"""A pool of worker processes for extraction, started before any socket is opened.

The pool uses the forkserver start method with the worker module preloaded: workers are
forked from a clean server process, so they never inherit the daemon's sockets or
SQLite handles, and trafilatura is imported once, not per task.
"""
from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ingest.records import Candidate, Extracted, Page
from ingest.topics import TopicMatcher

from .worker import Skipped, extract


def _warm() -> int:
    return 0


class ExtractPool:
    def __init__(self, workers: int, matcher: TopicMatcher):
        self.workers = workers
        self.matcher = matcher
        self._executor: ProcessPoolExecutor | None = None

    def start(self) -> "ExtractPool":
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["ingest.extract.worker"])
        self._executor = ProcessPoolExecutor(self.workers, mp_context=ctx)
        # Start every worker now (the executor starts them lazily on submit).
        for f in [self._executor.submit(_warm) for _ in range(self.workers)]:
            f.result()
        return self

    async def extract(self, page: Page, candidate: Candidate) -> Extracted | Skipped:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, extract, page, candidate, self.matcher)
        except BrokenProcessPool:
            # A worker died (e.g. the OOM killer on a hostile page): restart the pool, skip the page.
            self.close()
            self.start()
            return Skipped(page.url, "error", "extraction worker died")

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
