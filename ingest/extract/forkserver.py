"""The extraction workers' forkserver, started first thing by the commands that extract.

This module imports nothing but the standard library's multiprocessing, so the command line
can start the server before its own imports (ingest/cli/__init__.py): the server then imports
worker.py (trafilatura, lxml, the analysis libraries) on the other core while the main process
imports click, aiohttp and the store. Every worker is forked from the server, never from the
main process, so none inherits the main process's sockets, SQLite handles or threads.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from collections.abc import Iterator
from multiprocessing.context import ForkServerContext

WORKER_MODULE = "ingest.extract.worker"  # preloaded by the forkserver, never imported by the main process


def context() -> ForkServerContext:
    """The forkserver start method, with worker.py preloaded in the server.

    The server and its workers inherit this process's environment: numpy's OpenBLAS is told to
    keep to one thread there. Each worker is one of the pool's processes and does no matrix work
    (MinHash is elementwise), and OpenBLAS would otherwise start a thread per core as numpy is
    imported: ~0.09 s of CPU in the forkserver at start-up, on the core the main process is
    importing on (docs/performance.md). A value the user set is kept.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([WORKER_MODULE])
    return ctx


def start() -> None:
    """Start the forkserver now, with worker.py preloading, without waiting for it.

    The pool (pool.py) later asks the running server for its workers, and again for each
    replacement (a server that died meanwhile is started again).
    """
    context()
    from multiprocessing import forkserver, resource_tracker

    resource_tracker.ensure_running()  # first: it guards its own start, and unblocks SIGINT after it
    with children_ignore_sigint():
        forkserver.ensure_running()


@contextlib.contextmanager
def children_ignore_sigint() -> Iterator[None]:
    """Processes started inside this block have SIGINT blocked from birth.

    A Ctrl-C in a terminal goes to the whole process group. The forkserver spends its first
    moments importing trafilatura, and a worker runs Python code between its fork and its
    initializer (which ignores SIGINT): either would die there with a KeyboardInterrupt
    traceback on the user's terminal. A blocked signal stays blocked across fork and exec, so
    the forkserver starts with SIGINT blocked (and then ignores it), and so does every worker it
    forks until its initializer ignores and unblocks it. Only this thread blocks it meanwhile:
    a Ctrl-C now still reaches this process, through another thread or right after the block
    (not with SIG_IGN here, which would lose one that another thread received).
    """
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
