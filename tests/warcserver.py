"""A static file server on 127.0.0.1 for remote-WARC tests: Range requests, throttling, dropped bodies.

    with WarcServer.threaded(root) as srv:          # serves root/<path>
        srv.url("crawl.warc.gz")                    # plain: aiohttp's FileResponse (HEAD, Range)
        srv.url("crawl.warc.gz", rate=200_000)      # GET bodies at ~200 KB/s
        srv.url("crawl.warc.gz", drop=2)            # the first 2 GETs of that path stop half-way
        srv.url("crawl.warc.gz", norange=1)         # Range ignored: always the whole file, 200
        srv.gets["crawl.warc.gz"]                   # GET requests seen per path

Every wait is bounded (`max_wait`), so no test can hang on the server.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from aiohttp import web


class WarcServer:
    def __init__(self, root: Path, max_wait: float = 30.0):
        self.root = root
        self.max_wait = max_wait
        self.gets: Counter = Counter()
        self.dropped: Counter = Counter()
        self.port = 0
        self._runner: web.AppRunner | None = None

    def url(self, path: str, **query) -> str:
        q = "&".join(f"{k}={v}" for k, v in query.items())
        return f"http://127.0.0.1:{self.port}/{path}" + (f"?{q}" if q else "")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        rel = request.match_info["tail"]
        path = (self.root / rel).resolve()
        if not path.is_file() or self.root.resolve() not in path.parents:
            raise web.HTTPNotFound()
        if request.method == "HEAD":
            return web.FileResponse(path)
        self.gets[rel] += 1
        rate = float(request.query.get("rate", 0))
        drop = int(request.query.get("drop", 0))
        ranges = request.query.get("norange") is None
        if not rate and self.dropped[rel] >= drop and ranges:
            return web.FileResponse(path)
        data = path.read_bytes()
        start, end, status = 0, len(data) - 1, 200
        m = re.match(r"bytes=(\d+)-(\d*)", request.headers.get("Range", "")) if ranges else None
        if m:
            start, status = int(m.group(1)), 206
            end = min(int(m.group(2)) if m.group(2) else end, len(data) - 1)
            if start >= len(data):
                return web.Response(status=416, headers={"Content-Range": f"bytes */{len(data)}"})
        body = data[start:end + 1]
        headers = {"Content-Length": str(len(body)), "Accept-Ranges": "bytes", "Content-Type": "application/gzip"}
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        resp = web.StreamResponse(status=status, headers=headers)
        await resp.prepare(request)
        if self.dropped[rel] < drop:  # half the body, then the connection goes
            self.dropped[rel] += 1
            await resp.write(body[: len(body) // 2])
            if request.transport is not None:
                request.transport.close()
            return resp
        step = 16384
        for i in range(0, len(body), step):
            await resp.write(body[i:i + step])
            if rate:
                await asyncio.sleep(min(step / rate, self.max_wait))
        await resp.write_eof()
        return resp

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @classmethod
    @contextlib.contextmanager
    def threaded(cls, root: Path, **kw):
        srv = cls(root, **kw)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="warcserver", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(srv.start(), loop).result(10)
            yield srv
        finally:
            asyncio.run_coroutine_threadsafe(srv.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()


def interrupt_backfill(cfg: Path, url: str, ready: Callable[[], bool], timeout: float = 60) -> str:
    """`ingest backfill --warc URL` (read in 32 KiB blocks), sent SIGINT once `ready()` holds
    while it still runs; asserts it was still running and exited 130. Its stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "ingest", "backfill", "--config", str(cfg), "--warc", url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1", INGEST_REMOTE_BLOCK="32768"))
    try:
        deadline = time.monotonic() + timeout
        while not ready() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert proc.poll() is None, "the backfill finished before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    return err

