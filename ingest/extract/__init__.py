"""The extract stage: Page -> Document + Fingerprint, in worker processes (see pool.py).

`worker.py` is never imported by the main process (trafilatura, lxml and numpy load in the
workers only): the pool sends its functions by name.
"""
from __future__ import annotations

from typing import Protocol

from ingest.records import Candidate, Extracted, Page, ReextractJob, Skipped

from .pool import ExtractPool

__all__ = ["ExtractPool", "ExtractPort"]


class ExtractPort(Protocol):
    """What the drivers need of an extraction engine: local worker processes (pool.py) or a Dask
    cluster (ingest/run/cluster.py)."""

    async def extract(self, page: Page, candidate: Candidate) -> Extracted | Skipped:
        """Extract, match topics and fingerprint one page; never raises for what the page holds."""

    async def reextract(self, job: ReextractJob) -> Extracted | Skipped:
        """Extract a stored page again."""

    def close(self) -> None:
        """Stop the workers."""
