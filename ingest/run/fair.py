"""Turns between feeds for a shared, scarce stage: the extraction workers.

The pool has a few places (workers x pages each holds); a page may take a worker up to
`extract_timeout` (30 s) before it is stopped. Handed out first come, first served, a feed
listing sixty pages that each take the full limit would keep a healthy feed's next article
waiting for all sixty (~15 minutes with 2 workers). `Turns` hands each free place to the next
*feed* in turn (round robin over the feeds that wait, first come first served within a
feed), so another feed's article waits for one place to free, at most one time limit. A run
with one source (a backfill) gets every place, as before.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque


class Turns:
    """`places` held at once, granted round robin between keys (feeds) when they are short."""

    def __init__(self, places: int):
        self.free = max(1, places)
        self._waiting: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()

    async def enter(self, key: str) -> None:
        """Wait for a place (and the turn of `key`); `leave()` gives it back."""
        if self.free > 0 and not self._waiting:
            self.free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # granted, then cancelled: the place goes on
                self.leave()
            raise

    def leave(self) -> None:
        self.free += 1
        while self.free > 0 and self._waiting:
            key, queue = next(iter(self._waiting.items()))
            future = queue.popleft()
            if queue:
                self._waiting.move_to_end(key)  # its next page waits for the other feeds' turns
            else:
                del self._waiting[key]
            if not future.done():  # a waiter cancelled before its turn is skipped
                self.free -= 1
                future.set_result(None)
