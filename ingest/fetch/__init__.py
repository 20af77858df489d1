"""The fetch stage: URL in, Page | NotModified | FetchFailure out. See docs/fetching.md."""
from __future__ import annotations

from typing import Protocol

from ingest.records import FetchKind, FetchResult

from .fetcher import Fetcher
from .limiter import Admission

__all__ = ["Admission", "FetchPort", "Fetcher"]


class FetchPort(Protocol):
    """What the drivers and sources need of a fetcher: one polite GET that never raises for
    what a server does (every problem is a FetchFailure with a kind)."""

    async def fetch(self, url: str, kind: FetchKind = "article", etag: str | None = None,
                    last_modified: str | None = None, body_hash: str | None = None,
                    admit: Admission | None = None) -> FetchResult:
        """GET `url`; with validators (etag, last_modified, body_hash), NotModified when unchanged.

        `admit` is entered when a request to the host can start, and left while waiting
        between tries or hops (see Admission)."""
