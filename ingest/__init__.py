"""ingest: collect news coverage from feeds, keep every version, flag copies."""
from __future__ import annotations

from typing import Any

__all__ = ["open"]  # `from ingest import *` gives ingest.open only where asked for by name


def __getattr__(name: str) -> Any:
    """`ingest.open` (ingest/read/api.py), imported when first asked for: every command imports this
    package first, and most never read through the API (a start-up cost, docs/performance.md)."""
    if name == "open":
        from .read.api import open as open_

        return open_
    raise AttributeError(f"module 'ingest' has no attribute {name!r}")
