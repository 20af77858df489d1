"""Connections to a PostgreSQL database (psycopg 3), shaped like the sqlite3 connections the
entity modules of store/sqlite/ use, so one body of SQL serves both backends.

The entity modules (articles, corpus index, feeds, re-checks, re-extraction, side tables) are
written in the SQL both databases speak (ON CONFLICT, RETURNING, subquery aliases) with
SQLite's `?` placeholders; `PgConnection.execute` turns them into psycopg's `%s` (and named
`:name` into `%(name)s`) once per statement text. Autocommit, with explicit BEGIN/COMMIT as on
SQLite, so the writer decides where transactions start and end.
"""
from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ingest.store.errors import BAD_PATH, STORAGE_FAULT, StoreError

PG_SCHEMES = ("postgresql://", "postgres://")
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_QUOTED = re.compile(r"('[^']*')")
_INSERT_VALUES = re.compile(r"(?is)^(INSERT INTO [^(]+\([^)]*\) VALUES )(\([^()]*\))(.*)$")
_INSERT_HEAD = re.compile(r"(?is)^INSERT INTO ([^(]+)\(([^)]*)\)")
_UPSERT = re.compile(r"(?is)ON CONFLICT \(([^)]*)\) DO UPDATE")
MANY_ROWS = 500
_SELECT = re.compile(r"(?is)^\s*(SELECT|WITH)\b")
STREAM_ROWS = 500  # rows a read-only SELECT fetches from the server at a time


def is_postgres(database: str) -> bool:
    return database.startswith(PG_SCHEMES)


@functools.lru_cache(maxsize=512)
def translate(sql: str, named: bool) -> str:
    """SQLite's placeholders as psycopg's; literal `%` doubled. Quoted strings are left alone."""
    parts = _QUOTED.split(sql)
    for i in range(0, len(parts), 2):  # even parts are outside quotes
        p = parts[i].replace("%", "%%")
        parts[i] = _NAMED.sub(r"%(\1)s", p) if named else p.replace("?", "%s")
    for i in range(1, len(parts), 2):
        parts[i] = parts[i].replace("%", "%%")
    return "".join(parts)


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


class PgConnection:
    """The subset of sqlite3.Connection the store and read modules use, over psycopg."""

    def __init__(self, raw: Any, url: str, readonly: bool = False):
        self.raw = raw
        self.url = url
        self.readonly = readonly
        self._unnest: dict[str, str | None] = {}  # executemany's INSERT texts, rewritten

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        named = isinstance(params, dict)
        query, args = translate(sql, named), params if named else tuple(map(_int_array, params))
        if self.readonly and _SELECT.match(sql):
            return Rows(self.raw, query, args)
        return self.raw.execute(query, args)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Many rows: an INSERT that cannot hit one row twice becomes one INSERT ... SELECT FROM
        unnest(column arrays) per MANY_ROWS rows (an article's 32 band keys: 1 statement instead
        of 32, and its text is the same whatever the number of rows, so it is prepared once);
        others row by row."""
        table = [tuple(r) for r in rows]
        if not table:
            return
        m, query = _INSERT_VALUES.match(sql), None
        if m and _distinct_targets(m.group(1), m.group(3), table):
            if sql not in self._unnest:
                self._unnest[sql] = self._unnest_insert(*m.groups())
            query = self._unnest[sql]
        if m and query:
            for i in range(0, len(table), MANY_ROWS):
                self.raw.execute(query, [_int_array(list(col)) for col in zip(*table[i:i + MANY_ROWS])])
            return
        with self.raw.cursor() as cur:
            cur.executemany(translate(sql, False), table)

    def _unnest_insert(self, head: str, values: str, tail: str) -> str | None:
        """`INSERT INTO t (a, b) VALUES (?, ?) tail` as `INSERT INTO t (a, b) SELECT u.c0, u.c1 FROM
        unnest(%s::bigint[], %s::text[]) AS u(c0, c1) tail`, typed by the table's own columns;
        None for a table with array columns (unnest would flatten them)."""
        table, cols = _INSERT_HEAD.match(head).groups()  # type: ignore[union-attr]  # head matched _INSERT_VALUES
        names = [c.strip() for c in cols.split(",")]
        types = dict(self.raw.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = %s::regclass AND a.attnum > 0", (table.strip(),)).fetchall())
        exprs: list[str] = []
        arrays: list[str] = []
        for name, part in zip(names, values.strip()[1:-1].split(",")):
            if types[name].endswith("]"):
                return None
            if part.strip() == "?":
                exprs.append(f"u.c{len(arrays)}")
                arrays.append(f"%s::{types[name]}[]")
            else:
                exprs.append(part.strip().replace("%", "%%"))
        aliases = ", ".join(f"c{i}" for i in range(len(arrays)))
        return (f"{head.split(' VALUES')[0]} SELECT {', '.join(exprs)} FROM unnest({', '.join(arrays)}) "
                f"AS u({aliases}){translate(tail, False)}")

    def close(self) -> None:
        self.raw.close()


def _int_array(value: Any) -> Any:
    """A list of integers (or NULLs) as PostgreSQL's array literal, '{1,2,NULL}': the statements
    cast it (`?::bigint[]`), and a str is dumped in C while psycopg's list dumper is Python
    (it was a third of the writer's CPU for the index keys). Anything else unchanged."""
    if type(value) is not list or not all(v is None or type(v) is int for v in value):
        return value
    return "{" + ",".join("NULL" if v is None else str(v) for v in value) + "}"


def _distinct_targets(head: str, tail: str, rows: list[tuple[Any, ...]]) -> bool:
    """Whether one INSERT can take all `rows`: always, unless it updates on conflict and two rows
    share a conflict key (PostgreSQL refuses to update one row twice in one statement)."""
    upsert = _UPSERT.search(tail)
    if upsert is None:
        return "DO UPDATE" not in tail.upper()
    names = [c.strip() for c in _INSERT_HEAD.match(head).group(2).split(",")]  # type: ignore[union-attr]
    at = [names.index(c.strip()) for c in upsert.group(1).split(",")]
    return len({tuple(r[i] for i in at) for r in rows}) == len(rows)


class Rows:
    """A read-only SELECT's result: iterated (or fetched in parts), it comes from a server-side
    cursor a chunk at a time, so an export of every article or a copy of every page never holds
    the whole result in memory (psycopg's ordinary cursor would); fetchone/fetchall and
    description run it at once, as sqlite3 does."""

    _names = itertools.count()

    def __init__(self, raw: Any, query: str, args: Any):
        self.raw, self.query, self.args = raw, query, args
        self._cur: Any = None
        self._it: Iterator[Any] | None = None

    def __iter__(self) -> Iterator[Any]:
        cur = self.raw.cursor(name=f"ingest_rows_{next(self._names)}", withhold=True)
        cur.itersize = STREAM_ROWS
        try:
            cur.execute(self.query, self.args)
            yield from cur
        finally:
            cur.close()

    def fetchmany(self, size: int = STREAM_ROWS) -> list[Any]:
        if self._it is None:
            self._it = iter(self)
        return list(itertools.islice(self._it, size))

    def _run(self) -> Any:
        if self._cur is None:
            self._cur = self.raw.execute(self.query, self.args)
        return self._cur

    def fetchone(self) -> Any:
        return self._run().fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._run().fetchall())

    @property
    def description(self) -> Any:
        return self._run().description


def connect(url: str, readonly: bool = False) -> PgConnection:
    """A connection (autocommit: BEGIN/COMMIT are explicit); read-only ones cannot write at all."""
    try:
        import psycopg
    except ImportError:
        raise StoreError("this installation cannot use PostgreSQL (psycopg is missing): "
                         "pip install 'ingest[postgres]'", BAD_PATH) from None
    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=10, application_name="ingest")
    except psycopg.Error as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise StoreError(f"cannot connect to {redact(url)}: {first}", STORAGE_FAULT) from None
    raw.execute("SET TIME ZONE 'UTC'")  # naive timestamps in julianday() mean UTC, as on SQLite
    if readonly:
        raw.execute("SET default_transaction_read_only = on")
    return PgConnection(raw, url, readonly)
