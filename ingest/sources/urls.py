"""URL lists for backfill: arguments or a file with one URL per line (# comments allowed)."""
from __future__ import annotations

import re
from pathlib import Path

from ingest.records import Candidate

# a comment: `#` at the start of a line or after whitespace (a `#` inside a URL starts its fragment)
_COMMENT = re.compile(r"(?:^|\s)#.*")


def read_url_file(path: str | Path) -> list[str]:
    """URLs in a file, one per line, `#` comments (whole lines or after the URL) left out.

    Raises FileNotFoundError / OSError with the path in the message."""
    lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    return [url for url in (_COMMENT.sub("", line).strip() for line in lines) if url]


def url_candidates(urls: list[str]) -> list[Candidate]:
    return [Candidate(url=u, source="urls", record_key=u) for u in dict.fromkeys(urls)]
