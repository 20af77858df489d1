"""Retention of the fetch log (`fetches`, one row per request): config `retention`.

Two bounds, both kept by the store: the newest `fetch_log_rows_per_feed` rows of each feed (its
polls and its articles' fetches), applied in the transaction that records each poll, so a feed
whose every poll logs a thousand failures cannot grow the log past its share; and an age,
`fetch_log_days`, applied by `prune_old` (the daemon runs it hourly) in short transactions.
Rows without a feed (backfills, re-checks) are bounded by age only.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from ingest.times import now, to_text

PRUNE_BATCH = 5_000  # rows per transaction of an age prune: the writer is never held for long


def cap_feed(conn: sqlite3.Connection, feed_id: int, keep: int) -> int:
    """Delete all but the newest `keep` fetch-log rows of one feed; how many went.

    The `keep`-th newest row is found on the (feed_id, at) index, whose entries end with the row
    id: times are to the second, and a burst of failures shares one.
    """
    row = conn.execute("SELECT at, id FROM fetches WHERE feed_id = ? ORDER BY at DESC, id DESC LIMIT 1 OFFSET ?",
                       (feed_id, keep - 1)).fetchone()
    if row is None:
        return 0
    at, last = row
    return conn.execute("DELETE FROM fetches WHERE feed_id = ? AND (at < ? OR (at = ? AND id < ?))",
                        (feed_id, at, at, last)).rowcount


def prune_old_batch(conn: sqlite3.Connection, days: float) -> int:
    """Delete up to PRUNE_BATCH fetch-log rows older than `days`, oldest first; how many went.

    Rows are appended as requests end, so their ids follow their times (give or take the
    seconds a page spends in extraction): the oldest ids are read from the primary key, with
    no index on `at` to keep up to date on every insert.
    """
    cutoff = to_text(now() - timedelta(days=days))
    return conn.execute("DELETE FROM fetches WHERE id IN (SELECT id FROM fetches ORDER BY id LIMIT ?) AND at < ?",
                        (PRUNE_BATCH, cutoff)).rowcount
