"""`Skipped`: the answer of an extraction that yielded nothing worth storing.

Its own module (not worker.py) so that the main process can recognise the answer without
importing the worker's dependencies (trafilatura, lxml, the fingerprint's numpy), which
only the worker processes need.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Skipped:
    """The page yielded nothing worth storing (empty extraction, off topic, an error, over the time limit)."""

    url: str
    reason: str  # "empty" | "off_topic" | "error" | "timeout" (over the per-page time limit)
    message: str = ""
