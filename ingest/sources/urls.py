"""URL lists for backfill: arguments or a file with one URL per line (# comments allowed)."""
from __future__ import annotations

from pathlib import Path

from ingest.records import Candidate


def read_url_file(path: str | Path) -> list[str]:
    """URLs in a file; raises FileNotFoundError / OSError with the path in the message."""
    lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def url_candidates(urls: list[str]) -> list[Candidate]:
    return [Candidate(url=u, source="urls", record_key=u) for u in dict.fromkeys(urls)]
