"""The PostgreSQL writer: the SQLite writer's entity parts, made safe for many writer processes.

Each batch of articles is one transaction that first takes transaction-scoped advisory locks
on every key the articles could meet another writer's on, in one global sorted order (so two
writers never wait for each other in a cycle): the identity keys (one article per identity)
and the analysis keys the judge looks copies up by (exact key, LSH band keys, sentence
hashes). Two near-copies stored at the same moment by two processes share at least one such
key, so the second waits for the first to commit and, at READ COMMITTED, its next statement
sees the first's index rows: no "blind pairs". The article row itself is locked (FOR UPDATE)
before a new version is numbered, so versions have no gaps and no duplicates whatever keys
the pages were found under. A deadlock (site-template counters, blobs) or a lost race rolls
the batch back and it is tried again; `backfill_done` is written in the same transaction.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ingest.config import Config
from ingest.records import Candidate, Extracted, FetchLog, Stored
from ingest.store.errors import STORAGE_FAULT, StoreError
from ingest.store.identity import identify
from ingest.store.sqlite.articles import Articles
from ingest.store.sqlite.corpus import SQLiteCorpus
from ingest.store.sqlite.writer import Writer

from .connection import PgConnection, connect, redact
from .schema import migrate

RECONNECT_SECONDS = 60.0  # how long a lost server is waited for before the run stops (exit 3)
RETRIES = 8  # a batch rolled back by a deadlock or a lost race is tried again this often
_Item = tuple[Candidate, Extracted, FetchLog | None]


def _key(text: str) -> int:
    """A signed 64-bit advisory-lock key for an identity string."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def lock_keys(items: Sequence[_Item]) -> list[int]:
    """Every lock a batch takes, sorted: identity keys and the analysis index keys."""
    keys: set[int] = set()
    for cand, ex, _ in items:
        ident = identify(cand.url, ex.page.final_url, ex.document.canonical_url, cand.guid, cand.feed_url)
        keys.update(_key(k) for k in ident.keys())
        fp = ex.fingerprint
        if fp.exact_key:
            keys.add(fp.exact_key)
        keys.update(fp.band_keys)
        keys.update(h for h, _ in fp.sentences)
    return sorted(keys)


class PgCorpus(SQLiteCorpus):
    """The corpus index over PostgreSQL: the look-ups by many keys are one statement with an
    array parameter (the same text every time, so prepared once) instead of SQLite's compound
    SELECT, whose text changes with the number of keys and would be planned again each time."""

    def _capped(self, table: str, col: str, extra: str, keys: Iterable[int], cap: int) -> list[tuple[int, ...]]:
        keys = list(keys)
        if not keys:
            return []
        return list(self.conn.execute(
            f"SELECT k.key, t.article_id{extra.replace(', ', ', t.')} FROM unnest(?::bigint[]) AS k(key) "
            f"CROSS JOIN LATERAL (SELECT article_id{extra} FROM {table} WHERE {col} = k.key LIMIT {int(cap)}) t",
            (keys,)).fetchall())


class PgArticles(Articles):
    def lock_article(self, article_id: int) -> None:
        self.conn.execute("SELECT 1 FROM articles WHERE id = ? FOR UPDATE", (article_id,))

    def search_index(self, article_id: int, n: int) -> None:
        """Nothing: the tsvector is a generated column of every version."""


class PgWriter(Writer):
    articles_class = PgArticles
    corpus_class = PgCorpus
    begin = "BEGIN"
    row_lock = " FOR UPDATE"  # other writer processes may update the same row meanwhile

    @classmethod
    def open(cls, path: str | Path, cfg: Config) -> PgWriter:
        path = str(path)
        conn = connect(path)
        try:
            migrate(conn)
        except Exception as e:
            conn.close()
            raise StoreError(f"cannot prepare the database {redact(path)}: {str(e).splitlines()[0]}",
                             STORAGE_FAULT) from None
        return cls(conn, cfg, path)  # type: ignore[arg-type]  # PgConnection speaks sqlite3's subset

    @property
    def pg(self) -> PgConnection:
        return self.conn  # type: ignore[return-value]

    def fatal(self, error: BaseException) -> StoreError | None:
        import psycopg

        if isinstance(error, psycopg.OperationalError) and self.pg.raw.closed:
            return StoreError(f"lost the connection to {redact(self.path)}: {str(error).strip().splitlines()[0]}",
                              STORAGE_FAULT)
        return None

    def recover(self, error: BaseException) -> bool:
        """After a lost connection (a server restart, a failover), connect again for up to
        RECONNECT_SECONDS; what the failed call wrote was rolled back with its transaction."""
        import psycopg

        if not isinstance(error, psycopg.OperationalError) or not self.pg.raw.closed:
            return False
        deadline = time.monotonic() + RECONNECT_SECONDS
        while True:
            try:
                conn = connect(self.path)
            except StoreError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.5)
                continue
            self.attach(conn)  # type: ignore[arg-type]  # PgConnection speaks sqlite3's subset
            return True

    @contextmanager
    def pipelined_txn(self) -> Iterator[None]:
        """A write transaction in psycopg's pipeline mode: statements whose results are not read
        (most of an article's inserts) are sent without waiting for the server, so a batch costs
        a round trip per read instead of per statement. A failed statement aborts the pipeline
        and is raised at the next read or at the end; the ROLLBACK runs after the pipeline has
        ended (inside an aborted pipeline it would be skipped). Not for writes that read
        `rowcount`: it is unknown until the pipeline syncs."""
        from psycopg.pq import TransactionStatus

        raw = self.pg.raw
        try:
            with raw.pipeline():
                raw.execute("BEGIN")
                yield
                raw.execute("COMMIT")
        except BaseException:
            if not raw.closed and raw.info.transaction_status != TransactionStatus.IDLE:
                raw.execute("ROLLBACK")
            raise

    def store_many(self, items: Sequence[_Item]) -> list[Stored]:
        """The batch in one transaction after its advisory locks; retried after a deadlock."""
        import psycopg.errors as pe

        keys = lock_keys(items)
        for attempt in range(RETRIES):
            try:
                with self.pipelined_txn():
                    self.conn.execute("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(?::bigint[]) AS k", (keys,))
                    return [self.articles.store(c, ex, log) for c, ex, log in items]
            except (pe.DeadlockDetected, pe.SerializationFailure, pe.UniqueViolation):
                if attempt == RETRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")
