"""`ingest db copy SRC DST`: a corpus moved between SQLite and PostgreSQL, either way.

Every table of the store is copied row for row with its ids (flags, edges and sightings name
articles by id), from one consistent read of the source into one transaction on the
destination, which must hold no corpus yet (it is created and migrated like any writing
command would). Derived search indexes are rebuilt by the destination itself: SQLite's FTS
triggers on insert, PostgreSQL's generated tsvector column.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import BAD_PATH, StoreError
from .postgres.connection import is_postgres, redact

# parents before children (foreign keys), articles before versions (SQLite's FTS trigger reads
# the article's current version number)
TABLES = ("feeds", "fetches", "articles", "url_keys", "blobs", "versions", "sightings", "flags", "analysis_docs",
          "lsh_bands", "sentences", "dup_edges", "site_lines", "backfill_done", "off_topic", "backfill_files")
GENERATED = {"search"}  # PostgreSQL's generated tsvector: never written
CHUNK = 1000


@dataclass
class CopyReport:
    rows: dict[str, int]

    def summary(self) -> str:
        return (f"copied {self.rows.get('articles', 0)} articles, {self.rows.get('versions', 0)} versions, "
                f"{sum(self.rows.values())} rows in {len(self.rows)} tables")


def _columns(conn: Any, table: str) -> list[str]:
    return [d[0] for d in conn.execute(f"SELECT * FROM {table} LIMIT 0").description]


def _rows(conn: Any, sql: str) -> Iterator[list[tuple[Any, ...]]]:
    cur = conn.execute(sql)
    while rows := cur.fetchmany(CHUNK):
        yield rows


def copy_corpus(src: str, dst: str) -> CopyReport:
    """Copy the corpus at `src` into the new database `dst` (an SQLite path or a PostgreSQL URL)."""
    from ingest.read.query import open_readonly

    if src == dst:
        raise StoreError("the source and the destination are the same database", BAD_PATH)
    reader = open_readonly(src)
    try:
        writer = _open_destination(dst)
        try:
            if writer.execute("SELECT count(*) FROM articles").fetchone()[0]:
                raise StoreError(f"{redact(dst)} already holds a corpus: copy into a new database", BAD_PATH)
            reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ" if is_postgres(src) else "BEGIN")
            writer.execute("BEGIN" if is_postgres(dst) else "BEGIN IMMEDIATE")
            try:
                rows = {table: _copy_table(reader, writer, table) for table in TABLES}
                if is_postgres(dst):  # identities continue after the copied ids
                    for table in TABLES:
                        if "id" in _columns(writer, table):
                            writer.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                           f"GREATEST((SELECT max(id) FROM {table}), 1))")
                writer.execute("COMMIT")
            except BaseException:
                writer.execute("ROLLBACK")
                raise
            reader.execute("COMMIT")
        finally:
            writer.close()
    finally:
        reader.close()
    return CopyReport(rows)


def _copy_table(reader: Any, writer: Any, table: str) -> int:
    from ingest.read.query import has_table

    if not has_table(reader, table):  # an SQLite source older than the table: nothing to copy
        return 0
    theirs = set(_columns(writer, table)) - GENERATED
    cols = [c for c in _columns(reader, table) if c in theirs]
    names = ", ".join(cols)
    insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(cols))})"
    n = 0
    for rows in _rows(reader, f"SELECT {names} FROM {table} ORDER BY 1"):
        writer.executemany(insert, rows)
        n += len(rows)
    return n


def _open_destination(dst: str) -> Any:
    """The destination opened for writing: created and migrated as every writing command does."""
    from . import check_database

    check_database(dst, write=True)
    if is_postgres(dst):
        from .postgres.connection import connect
        from .postgres.schema import migrate

        conn = connect(dst)
        migrate(conn)
        return conn
    from .sqlite.connection import open_connection

    return open_connection(dst)
