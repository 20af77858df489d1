"""The extract stage: Page -> Document + Fingerprint, in worker processes (see pool.py).

`worker.py` is never imported by the main process (trafilatura, lxml and numpy load in the
workers only): the pool sends its functions by name. `forkserver.py` starts the workers' server
first thing, before the main process's own imports.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ingest.records import Candidate, Extracted, Page, ReextractJob, Skipped

    from .pool import ExtractPool

__all__ = ["ExtractPool", "ExtractPort"]


def __getattr__(name: str) -> Any:
    """`ExtractPool`, imported on first use: the forkserver (forkserver.py) and the workers import
    this package too, and need none of the pool's asyncio machinery."""
    if name == "ExtractPool":
        from .pool import ExtractPool

        return ExtractPool
    raise AttributeError(f"module 'ingest.extract' has no attribute {name!r}")


class ExtractPort(Protocol):
    """What the drivers need of an extraction engine: local worker processes (pool.py) or a Dask
    cluster (ingest/run/cluster.py)."""

    async def extract(self, page: Page, candidate: Candidate) -> Extracted | Skipped:
        """Extract, match topics and fingerprint one page; never raises for what the page holds."""

    async def reextract(self, job: ReextractJob) -> Extracted | Skipped:
        """Extract a stored page again."""

    def close(self) -> None:
        """Stop the workers."""
