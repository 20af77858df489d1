"""The single writer: one connection, used from one thread, split by entity.

Each public call of SQLiteStore (service.py) runs one of these methods on the writer
thread inside one `BEGIN IMMEDIATE` transaction, so a crash or kill at any moment leaves
either the whole article (article row, keys, version, blob, flags, analysis index,
sighting, fetch log line, backfill mark) or none of it; and a whole poll or none of it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.config import Config
from ingest.records import Candidate, Extracted, FetchLog, Scanned, Stored
from ingest.store.errors import StoreError, fatal

from .articles import Articles
from .connection import open_connection
from .corpus import SQLiteCorpus
from .feeds import Feeds
from .recheck import Rechecks
from .tables import count_scanned

if TYPE_CHECKING:
    import sqlite3


class Writer:
    """The writer connection and the entity parts that use it (articles, corpus index, feeds, re-checks)."""

    articles_class = Articles
    corpus_class = SQLiteCorpus
    begin = "BEGIN IMMEDIATE"
    row_lock = ""  # appended to a SELECT of a row about to be updated from what it read (the write lock is enough)

    def __init__(self, conn: sqlite3.Connection, cfg: Config, path: str = ""):
        self.cfg = cfg
        self.path = path
        self.attach(conn)

    def attach(self, conn: sqlite3.Connection) -> None:
        """Use `conn` for every entity part (at open, and after a reconnect on PostgreSQL)."""
        self.conn = conn
        self.corpus = self.corpus_class(self.conn)
        self.articles = self.articles_class(self.conn, self.cfg, self.corpus)
        self.feeds = Feeds(self.conn, self.cfg.schedule, self.cfg.retention)
        self.rechecks = Rechecks(self.conn, self.cfg.schedule)

    @classmethod
    def open(cls, path: str | Path, cfg: Config) -> Writer:
        return cls(open_connection(path), cfg, str(path))

    def fatal(self, error: BaseException) -> StoreError | None:
        """A StoreError when `error` concerns the whole database (the run stops), else None."""
        return fatal(error, self.path)

    def recover(self, error: BaseException) -> bool:
        """Whether the connection was restored after `error` (the call may be tried again):
        never on SQLite, whose connection is a file."""
        return False

    @contextmanager
    def txn(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: taken with the write lock at once (IMMEDIATE), so it never
        fails half-way for a lock another process took after it started reading."""
        self.conn.execute(self.begin)
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def store_many(self, items: Sequence[tuple[Candidate, Extracted, FetchLog | None]]) -> list[Stored]:
        """Several extracted pages in one transaction (what the store service's batches run)."""
        with self.txn():
            return [self.articles.store(c, ex, log) for c, ex, log in items]

    def scanned(self, part: Scanned) -> None:
        """A WARC file's reading counted (tables.count_scanned), inside the caller's transaction."""
        count_scanned(self.conn, part, self.row_lock)

    def close(self) -> None:
        self.conn.close()
