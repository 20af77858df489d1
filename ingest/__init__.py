"""ingest: collect news coverage from feeds, keep every version, flag copies."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .read.api import open  # noqa: A004 - ingest.open(path) -> Reader, see ingest/read/api.py

__all__ = ["open"]  # `from ingest import *` gives ingest.open only where asked for by name


def __getattr__(name: str) -> Any:
    """`ingest.open`, imported on first use: importing the package costs nothing, so the command
    line (`ingest.__main__`) is listening for Ctrl-C before the heavy modules load."""
    if name == "open":
        from .read.api import open as open_

        return open_
    raise AttributeError(f"module 'ingest' has no attribute {name!r}")
