"""Re-extraction reads: each article's current stored page with its raw HTML, in id order."""

from __future__ import annotations

import sqlite3
from typing import cast

from ingest.records import CharsetSource, DateSource, ReextractJob
from ingest.times import parse

_PAGES = (
    "SELECT a.id, a.url, v.final_url, v.status, v.charset, v.charset_source, v.fetched_at, v.published, "
    "v.date_source, b.data FROM articles a JOIN versions v ON v.article_id = a.id AND v.n = a.current_version "
    "LEFT JOIN blobs b ON b.hash = v.blob_hash WHERE v.blob_hash IS NOT NULL AND v.fetched_at >= ?"
)


def read_pages(conn: sqlite3.Connection, since: str | None, after: int, limit: int) -> list[ReextractJob]:
    """The next `limit` pages after article id `after` (keyset paging: memory stays flat)."""
    rows = conn.execute(f"{_PAGES} AND a.id > ? ORDER BY a.id LIMIT ?", (since or "", after, limit)).fetchall()
    jobs = []
    for aid, url, final_url, status, charset, csrc, fetched_at, published, dsrc, data in rows:
        fetched = parse(fetched_at)
        assert fetched is not None  # the store writes fetched_at itself
        jobs.append(ReextractJob(aid, url, final_url or url, status or 200, charset or "utf-8",
                                 cast(CharsetSource, csrc or "default"), fetched, data, parse(published),
                                 cast(DateSource | None, dsrc)))
    return jobs


def count_pages(conn: sqlite3.Connection, since: str | None) -> int:
    n: int = conn.execute(f"SELECT count(*) FROM ({_PAGES}) AS p", (since or "",)).fetchone()[0]
    return n
