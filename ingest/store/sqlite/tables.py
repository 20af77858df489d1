"""Small writes to the side tables that several entities share: the fetch log, backfill
records, the WARC files' counts and raw-page blobs. Each runs inside the caller's transaction.

The per-article path (these, and the article, version, key, sighting, flag and index rows
in articles.py and corpus.py) writes with plain parameterised SQL, not sqlite-utils'
`Table.insert`: measured here, 5 us against 117 us per row (sqlite-utils introspects the
table and wraps each insert in a savepoint), and an article writes about ten rows on a
~1.7 ms store path. The cold writes (feed registration, poll records) are plain SQL too.
"""

from __future__ import annotations

import hashlib
import sqlite3

import zstandard

from ingest.records import SCAN_KEPT, SCAN_PREFILTERED, Candidate, FetchLog, Scanned
from ingest.times import now, to_text

# level 3: 2.4 -> 0.45 ms per real page against level 10, blobs 9% larger (docs/performance.md)
ZSTD_LEVEL = 3
_ZSTD = zstandard.ZstdCompressor(level=ZSTD_LEVEL)


def feed_id_of(conn: sqlite3.Connection, feed_url: str | None) -> int | None:
    """The id of the registered feed at `feed_url` (a candidate's feed), or None."""
    if not feed_url:
        return None
    row = conn.execute("SELECT id FROM feeds WHERE url = ?", (feed_url,)).fetchone()
    return row[0] if row else None


def log_fetch(conn: sqlite3.Connection, log: FetchLog, feed_id: int | None = None) -> None:
    conn.execute(
        "INSERT INTO fetches (at, url, feed_id, kind, status, outcome, message, bytes, elapsed_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (to_text(log.at), log.url, feed_id, log.kind, log.status, log.outcome, log.message, log.bytes,
         log.elapsed_ms),
    )


def mark_done(conn: sqlite3.Connection, cand: Candidate, outcome: str) -> None:
    """Mark a backfill record handled, in the transaction that stored (or skipped) its article."""
    if cand.record_key:
        conn.execute(
            "INSERT INTO backfill_done (source, key, done_at, outcome) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (source, key) DO UPDATE SET done_at = excluded.done_at, outcome = excluded.outcome",
            (cand.source, cand.record_key, to_text(now()), outcome),
        )


def is_done(conn: sqlite3.Connection, source: str, key: str) -> bool:
    row = conn.execute("SELECT 1 FROM backfill_done WHERE source = ? AND key = ?", (source, key)).fetchone()
    return row is not None


def count_scanned(conn: sqlite3.Connection, part: Scanned, lock: str = "") -> None:
    """Add a part of a WARC file's reading to its `backfill_files` row, each record once.

    The row keeps the highest record offset counted (`last_offset`); only the part's records
    past it are added, and it moves to the part's last offset. The reader hands on a file's
    records in increasing offset order, from the start of the file (a cluster: unit by unit in
    file order, and nothing of a file after a failed unit), so whatever the row counts is a
    stretch from the start of the file with no gap, and:
      * a resumed run (the file read again from the start after a crash or Ctrl-C), or a repeated
        one, adds only records past where the earlier run's count had got to: none for a file
        read to its end;
      * two processes reading the same file at once (PostgreSQL) each add only what the other
        has not: the row is read under a lock (`lock`, " FOR UPDATE" there; SQLite's writer
        already holds the database's write lock) in the transaction that updates it.
    Counting by offset rather than by record key keeps one row per file, not one per record:
    CC-NEWS pages are ~95% off topic, and a row for each would outgrow `backfill_done` 20-fold.
    """
    conn.execute("INSERT INTO backfill_files (file, location, last_offset, updated_at) VALUES (?, ?, -1, ?) "
                 "ON CONFLICT (file) DO NOTHING", (part.file, part.location, to_text(now())))
    last, ended = conn.execute(f"SELECT last_offset, ended FROM backfill_files WHERE file = ?{lock}",
                               (part.file,)).fetchone()
    new = [k for o, k in zip(part.offsets, part.kinds) if o > last]
    conn.execute(
        "UPDATE backfill_files SET location = ?, last_offset = ?, records = records + ?, "
        "prefiltered = prefiltered + ?, kept = kept + ?, ended = ?, updated_at = ? WHERE file = ?",
        (part.location, max([last, *part.offsets[-1:]]), len(new), new.count(SCAN_PREFILTERED), new.count(SCAN_KEPT),
         int(bool(ended) or part.ended), to_text(now()), part.file))


def put_blob(conn: sqlite3.Connection, body: bytes) -> str:
    """Store raw bytes once, zstd-compressed, under their sha256; return the hash."""
    blob = hashlib.sha256(body).hexdigest()
    if conn.execute("SELECT 1 FROM blobs WHERE hash = ?", (blob,)).fetchone() is None:
        conn.execute("INSERT INTO blobs (hash, size, data) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                     (blob, len(body), _ZSTD.compress(body)))
    return blob
