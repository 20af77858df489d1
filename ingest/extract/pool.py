"""A pool of worker processes for extraction.

The pool uses the forkserver start method with the worker module preloaded (forkserver.py):
workers are forked from a clean server process, so they never inherit the daemon's sockets or
SQLite handles, and trafilatura is imported once, not per task. The topic matcher is
handed to each worker once (initializer), not pickled with every page. `start()` does not wait
for the workers: the first pages are fetched while the server still imports, and each page
waits for a worker only when it is ready to be extracted.

Only what the worker needs crosses the process boundary: the page without its raw
bytes on the way in, the document and fingerprint (not the page again) on the way out.

Each worker is its own one-process executor, so one worker can be killed without touching
the pages of the others:
  * every page has a time limit (`timeout`, config `extract_timeout`): trafilatura is
    quadratic on some markup (a 8 MB page of short paragraphs takes 7 minutes), so a worker
    still on one page after the limit is killed (SIGKILL: lxml's C code does not stop for
    a signal handler) and replaced, and the page comes back as Skipped(url, "timeout");
  * a worker that dies by itself (the OOM killer on a hostile page, a segfault in a C
    extension) is replaced too, and the page it was running is tried once more, so the
    page that kills its worker twice is skipped and every other page is extracted.
Replacing a worker never blocks the event loop. Each worker holds the page it runs and the
next one (DEPTH), so it never waits for the event loop between two pages; a page queued behind
one that is then killed was never started, and goes to another worker without losing a try.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import threading
from collections import Counter, deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import Any

from ingest.analyse.topics import TopicMatcher
from ingest.records import Candidate, Extracted, Page, ReextractJob, Skipped

from . import forkserver

log = logging.getLogger("ingest.extract")

ATTEMPTS = 2  # a page running when its worker died is tried once more on a new worker
DEPTH = 2  # pages handed to one worker at a time: the one it runs and the next
DEFAULT_TIMEOUT = 30.0  # seconds one page may take in a worker (config: extract_timeout)
MAX_REQUEUES = 20  # pages that never started because their worker went away: given up after this
START_WAIT = 30.0  # seconds close() waits for a worker still starting (the forkserver's preload)


def in_worker(name: str, *args: Any) -> Any:
    """Run `ingest.extract.worker.<name>(*args)`; this is what is sent to the worker processes.

    A reference to a worker.py function would make the main process import worker.py
    (trafilatura, lxml, numpy: about half a second of start-up for a process that never
    extracts). This function pickles as a reference to this light module instead, and in
    the worker the import is a dictionary look-up: the forkserver has preloaded worker.py.
    """
    from . import worker

    return getattr(worker, name)(*args)


def _shut(executor: ProcessPoolExecutor, _: object) -> None:
    executor.shutdown(wait=False, cancel_futures=True)


Outcome = tuple[str, Any]  # ("done", (pid, result)) | ("timeout", None) | ("died", started: bool)


@dataclass(eq=False)
class _Job:
    url: str
    call: tuple[Any, ...]  # what the worker runs: (worker function name, *args)
    outcome: asyncio.Future[Outcome]
    future: Future[Any] | None = None  # the executor's
    started: float | None = None  # loop time the worker began it (when the page before it ended)
    timer: asyncio.TimerHandle | None = None
    timed_out: bool = False


class _Worker:
    """One worker process, as a one-process executor (so it can be killed alone)."""

    def __init__(self, executor: ProcessPoolExecutor, pid: int) -> None:
        self.executor = executor
        self.pid = pid
        self.jobs: deque[_Job] = deque()  # handed to it, in order: the first one is running
        self.dead = False
        self.pidfd: int | None = None  # kill by pidfd: a pid can be reused, a pidfd cannot
        with contextlib.suppress(AttributeError, OSError):
            self.pidfd = os.pidfd_open(pid)

    def kill(self) -> None:
        """SIGKILL the process (no-op if it is gone already)."""
        with contextlib.suppress(ProcessLookupError, OSError):
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)

    def forget(self) -> None:
        """Let the executor go (never waiting for it) and close the pidfd."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self.pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(self.pidfd)
            self.pidfd = None


class ExtractPool:
    """`workers` extraction processes; `extract()` one page at a time from any number of tasks."""

    def __init__(self, workers: int, matcher: TopicMatcher, timeout: float = DEFAULT_TIMEOUT):
        self.workers = max(1, workers)
        self.matcher = matcher
        self.timeout = timeout  # seconds per page; read at each page, so it can be changed
        self._live: list[_Worker] = []
        self._changed: asyncio.Event | None = None  # set when a worker has room for another page
        self._spawning: set[asyncio.Task[None]] = set()
        self._starting: dict[ProcessPoolExecutor, Future[Any]] = {}  # workers asked for, not up yet
        self._closed = False
        self._failed: str | None = None  # why the workers of the start could not start (none is live)
        self.pids: Counter[int] = Counter()  # worker pid -> pages it extracted (tests, benchmarks)
        self.restarts = 0  # workers replaced (died or killed)
        self.timeouts = 0  # pages stopped at the time limit
        self.requeued = 0  # pages handed to another worker: theirs went away before it began them

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(1, mp_context=forkserver.context(), initializer=in_worker,
                                   initargs=("init_worker", self.matcher, os.getpid()))

    def start(self) -> ExtractPool:
        """Ask the forkserver for every worker now, without waiting for them; in the event loop.

        The server may still be importing worker.py (started first thing by the command line):
        the workers join the pool when they are up, and `extract()` waits for one meanwhile,
        so the first pages are fetched in that time instead of after it. If no worker can start
        at all (a broken installation), `extract()` raises with the reason.
        """
        forkserver.start()
        for _ in range(self.workers):
            self._launch(first=True)
        return self

    async def ready(self) -> ExtractPool:
        """Wait until the workers of the start are up (for tests and benchmarks that need them)."""
        while self._spawning and not self._closed:
            await asyncio.gather(*self._spawning, return_exceptions=True)
        return self

    @property
    def capacity(self) -> int:
        """Pages held at once (each worker runs one and holds the next): the places a driver
        shares out fairly between its sources (run/fair.py)."""
        return self.workers * DEPTH

    @property
    def worker_pids(self) -> list[int]:
        """Pids of the live worker processes (for RSS measurements)."""
        return [w.pid for w in self._live]

    async def extract(self, page: Page, candidate: Candidate) -> Extracted | Skipped:
        slim = replace(page, body=b"")  # the worker reads page.html; the raw bytes stay here
        result = await self._run(page.url, ("run", slim, candidate))
        if isinstance(result, Skipped):
            return result
        document, fingerprint, topics = result
        return Extracted(page=page, document=document, fingerprint=fingerprint, topics=topics)

    async def reextract(self, job: ReextractJob) -> Extracted | Skipped:
        """Extract a stored page again (decompressed and decoded in the worker)."""
        result: Extracted | Skipped = await self._run(job.url, ("reextract", job))
        return result

    async def _run(self, url: str, call: tuple[Any, ...]) -> Any:
        """One task on a worker, with the time limit and the retry when its worker dies."""
        deaths = 0
        for _ in range(MAX_REQUEUES):
            worker = await self._room()
            job = _Job(url, call, asyncio.get_running_loop().create_future())
            self._submit(worker, job)
            kind, value = await job.outcome
            if kind == "done":
                pid, result = value
                if not self.pids:  # bench/startup.py times this line against the process start
                    log.debug("first page extracted: %s", url, extra={"url": url, "outcome": "first_extracted"})
                self.pids[pid] += 1
                return result
            if kind == "timeout":
                return Skipped(url, "timeout", f"extraction took over {self.timeout:g}s; worker replaced")
            if value:  # it was running when its worker died: it may be what killed it
                deaths += 1
                if deaths >= ATTEMPTS:
                    return Skipped(url, "error", "extraction worker died")
            else:
                self.requeued += 1
        return Skipped(url, "error", "extraction workers keep going away")

    # --- handing pages to workers --------------------------------------------------------------
    async def _room(self) -> _Worker:
        """A live worker with room for a page, the least busy first; waits while all are full."""
        if self._changed is None:
            self._changed = asyncio.Event()
        while True:
            if self._closed:
                raise RuntimeError("the extraction pool is closed")
            free = [w for w in self._live if len(w.jobs) < DEPTH]
            if free:
                return min(free, key=lambda w: len(w.jobs))
            if self._failed is not None and not self._live and not self._spawning:
                raise RuntimeError(f"the extraction workers could not start: {self._failed}")
            self._changed.clear()
            await self._changed.wait()

    def _submit(self, worker: _Worker, job: _Job) -> None:
        loop = asyncio.get_running_loop()
        try:
            job.future = worker.executor.submit(in_worker, *job.call)
        except (BrokenProcessPool, RuntimeError):  # it died after it was chosen: not this page's fault
            self._lost(worker)
            job.outcome.set_result(("died", False))
            return
        worker.jobs.append(job)
        if len(worker.jobs) == 1:
            self._start_clock(worker, job)

        def done(_: Future[Any]) -> None:  # on the executor's thread
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
                loop.call_soon_threadsafe(self._finished, worker, job)

        job.future.add_done_callback(done)

    def _start_clock(self, worker: _Worker, job: _Job) -> None:
        loop = asyncio.get_running_loop()
        job.started = loop.time()
        job.timer = loop.call_later(self.timeout, self._expire, worker, job)

    def _finished(self, worker: _Worker, job: _Job) -> None:
        """A page's executor future is done (result, error, or its worker went away)."""
        if job.timer is not None:
            job.timer.cancel()
        with contextlib.suppress(ValueError):
            worker.jobs.remove(job)
        assert job.future is not None
        if not job.outcome.done():  # a page stopped at the limit has its answer already
            if job.future.cancelled() or isinstance(job.future.exception(), BrokenProcessPool):
                job.outcome.set_result(("died", job.started is not None))
            elif (error := job.future.exception()) is not None:  # a bug in the worker code, not a page
                job.outcome.set_exception(error)
            else:
                job.outcome.set_result(("done", job.future.result()))
        if job.future.cancelled() or isinstance(job.future.exception(), BrokenProcessPool):
            self._lost(worker)
        if not worker.dead:
            if worker.jobs and worker.jobs[0].started is None:
                self._start_clock(worker, worker.jobs[0])  # the next page starts now
            self._room_changed()

    def _expire(self, worker: _Worker, job: _Job) -> None:
        """The page's time is up: kill its worker (the page is answered now, the others move on)."""
        if worker.dead or job.future is None or job.future.done():
            return  # finished meanwhile: its answer is on its way
        job.timed_out = True
        self.timeouts += 1
        if not job.outcome.done():
            job.outcome.set_result(("timeout", None))
        log.debug("extraction of %s took over %gs: worker %d killed", job.url, self.timeout, worker.pid)
        worker.kill()
        self._lost(worker)

    # --- replacing workers ------------------------------------------------------------------------
    def _lost(self, worker: _Worker) -> None:
        """The worker died or was killed: drop it and start a replacement (once per worker)."""
        if worker.dead:
            return
        worker.dead = True
        if worker in self._live:
            self._live.remove(worker)
        worker.forget()
        if not self._closed:
            self._launch(first=False)

    def _launch(self, first: bool) -> None:
        task = asyncio.get_running_loop().create_task(self._spawn(first), name="ingest-extract-spawn")
        self._spawning.add(task)
        task.add_done_callback(self._spawning.discard)

    def _closing(self) -> bool:
        """`_closed`, read through a call: mypy would keep its narrowing across the awaits above."""
        return self._closed

    async def _spawn(self, first: bool) -> None:
        """Start one worker and add it to the pool. A replacement that fails is tried again (with a
        growing pause: the forkserver is gone, no memory...); a worker of the start that fails is
        not (the installation is broken, see `start`)."""
        pause = 0.5
        while not self._closed:
            forkserver.start()  # again if it died, SIGINT blocked from birth (a no-op while it runs)
            executor = self._new_executor()
            submitted: Future[Any] = Future()
            self._starting[executor] = submitted
            try:
                warm: Future[int] = await asyncio.wrap_future(self._submit_warm(executor, submitted))
                pid = await asyncio.wrap_future(warm)
            except asyncio.CancelledError:  # closed (close() waits for it), or the loop ends without close()
                submitted.add_done_callback(functools.partial(_shut, executor))
                raise
            except Exception as e:  # noqa: BLE001
                del self._starting[executor]
                executor.shutdown(wait=False, cancel_futures=True)
                if first:
                    self._failed = f"{type(e).__name__}: {e}"
                    if (me := asyncio.current_task()) is not None:
                        self._spawning.discard(me)  # now: the page waiting below must see no start in progress
                    self._room_changed()  # a page waiting for a worker raises now
                    return
                log.warning("could not start an extraction worker (%s: %s); trying again in %gs",
                            type(e).__name__, e, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)
                continue
            del self._starting[executor]
            if self._closing():  # closed while the worker started
                executor.shutdown(wait=False, cancel_futures=True)
                return
            self._live.append(_Worker(executor, pid))
            self.restarts += 0 if first else 1
            self._room_changed()
            return

    @staticmethod
    def _submit_warm(executor: ProcessPoolExecutor, submitted: Future[Any]) -> Future[Any]:
        """The executor's first submit, which starts its process, on a thread of its own.

        That submit waits until the forkserver has forked the worker, so until the server has
        imported worker.py when the pool starts with the command: off the event loop, which
        fetches meanwhile. `submitted` gets the future of the worker's "warm" call (its pid).
        """
        def submit() -> None:
            if not submitted.set_running_or_notify_cancel():  # the pool closed before this thread ran
                return
            try:  # running: a cancellation of the waiting task no longer cancels `submitted`
                submitted.set_result(executor.submit(in_worker, "warm"))
            except BaseException as e:  # noqa: BLE001 - handed to the waiting task
                submitted.set_exception(e)

        threading.Thread(target=submit, name="ingest-extract-start", daemon=True).start()
        return submitted

    def _room_changed(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def close(self) -> None:
        """Stop every worker. One still on a page is killed: whoever wanted that page has gone
        (the pipeline closes the pool after its tasks), and it could take up to the time limit."""
        self._closed = True
        for task in list(self._spawning):
            task.cancel()
        for executor, submitted in self._starting.items():
            # A worker still starting reads its queues' semaphores by name from this process, which
            # removes them when it exits: let it start (or fail) first, as start() once did, instead
            # of leaving it a traceback on the terminal. Only when the run ends before a worker is up.
            with contextlib.suppress(Exception):
                submitted.result(START_WAIT).result(START_WAIT)
            executor.shutdown(wait=True, cancel_futures=True)
        self._starting.clear()
        for worker in self._live:
            if worker.jobs:
                worker.kill()
            worker.executor.shutdown(wait=True, cancel_futures=True)
            worker.forget()
        self._live = []
        self._room_changed()
