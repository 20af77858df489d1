"""A small Python API for analysts: `ingest.open("ingest.db")` -> `Reader`.

    import ingest
    with ingest.open("ingest.db") as store:
        for a in store.articles(site="harbourtimes.example", clean=True):
            print(a.published, a.title)

`ingest.open` is named like `sqlite3.connect`/`shelve.open` and needs no submodule import.
It shadows the builtin `open` only where someone writes `from ingest import open` (or `*`),
so call it as `ingest.open(...)`. Inside this package no module imports it from `ingest`.

The Reader is read-only (the daemon may be writing beside it) and returns the same fields as
the export (docs/reading.md), with timestamps parsed to aware UTC datetimes.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ingest.records import Article, DuplicateOf, GarbleInfo, Version

from .query import (
    ARTICLE_SQL,
    CLUSTER_SQL,
    SEARCH_ARTICLES_PG_SQL,
    SEARCH_ARTICLES_SQL,
    ExportFilters,
    article_from_row,
    iter_articles,
    open_readonly,
    url_params,
    versions_of,
)

__all__ = ["open", "Reader", "Row", "Article", "Version", "DuplicateOf", "GarbleInfo"]


class Row:
    """One row of `Reader.sql`, the same on SQLite and PostgreSQL, read like sqlite3.Row:
    by position (`row[0]`, unpacking, `tuple(row)`) or by column name (`row["url"]`, case
    insensitive, the first of equal names); `keys()` lists the names, so `dict(row)` works.
    Rows are equal when their names and values are."""

    __slots__ = ("_values", "_names", "_index")

    def __init__(self, values: Sequence[Any], names: Sequence[str], index: dict[str, int] | None = None):
        self._values = tuple(values)
        self._names = list(names)
        self._index = index if index is not None else self.index_of(names)

    @staticmethod
    def index_of(names: Sequence[str]) -> dict[str, int]:
        """Column name -> position, shared by the rows of one result (also lower-cased)."""
        index: dict[str, int] = {}
        for i, name in enumerate(names):
            index.setdefault(name, i)
            index.setdefault(name.lower(), i)
        return index

    def __getitem__(self, key: int | slice | str) -> Any:
        if isinstance(key, str):
            i = self._index.get(key, self._index.get(key.lower()))
            if i is None:
                raise IndexError(f"no column named {key!r}")  # as sqlite3.Row
            return self._values[i]
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._names)

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Row) and self._names == other._names and self._values == other._values

    def __hash__(self) -> int:
        return hash((tuple(self._names), self._values))

    def __repr__(self) -> str:
        return "Row(" + ", ".join(f"{n}={v!r}" for n, v in zip(self._names, self._values, strict=True)) + ")"


class Reader:
    """Read-only access to an ingest database (see module docstring)."""

    def __init__(self, path: str | Path):
        from ingest.store.postgres.connection import is_postgres

        self.postgres = is_postgres(str(path))
        self.path = str(path) if self.postgres else Path(path)  # a URL is no path ("//" would fold)
        self.conn: sqlite3.Connection = open_readonly(self.path)

    def articles(self, *, since: date | datetime | str | None = None,
                 until: date | datetime | str | None = None, topic: str | None = None, site: str | None = None,
                 clean: bool = False, flag: str | None = None) -> Iterator[Article]:
        """Articles in id order, filtered like `ingest export` (ExportFilters); lazily read."""
        filters = ExportFilters(since=since, until=until, topic=topic, site=site, clean=clean, flag=flag)
        return iter_articles(self.conn, filters)

    def article(self, url: str) -> Article | None:
        """The article stored under `url` (first, canonical or final URL), or None."""
        row = self.conn.execute(ARTICLE_SQL, url_params(url)).fetchone()
        return article_from_row(row) if row else None

    def versions(self, url: str) -> list[Version]:
        """Every version of the article at `url`, oldest first ([] when unknown)."""
        return versions_of(self.conn, url)

    def cluster(self, url: str) -> list[Article]:
        """The duplicate cluster `url` belongs to: the original first, then its copies
        (most similar first); [] when the article has no copies and is no copy."""
        return [article_from_row(r) for r in self.conn.execute(CLUSTER_SQL, url_params(url))]

    def search(self, query: str, *, limit: int | None = None) -> Iterator[Article]:
        """Articles whose current title or text match an FTS5 query, best match first.

        `query` is FTS5 syntax ("harbour bridge", '"storm repairs"', "mackerel OR ferry",
        "title:bridge"); a syntax error raises sqlite3.OperationalError. On PostgreSQL it is a
        web-search query (websearch_to_tsquery: words, "quoted phrases", OR, -word).
        """
        sql = (SEARCH_ARTICLES_PG_SQL if self.postgres else SEARCH_ARTICLES_SQL) + (
            f" LIMIT {int(limit)}" if limit is not None else "")
        return (article_from_row(r) for r in self.conn.execute(sql, {"q": query}))

    def backfill_done(self, source: str, key: str) -> bool:
        """Whether a backfill record was handled already (what a dry run leaves out)."""
        row = self.conn.execute("SELECT 1 FROM backfill_done WHERE source = ? AND key = ?", (source, key)).fetchone()
        return row is not None

    def sql(self, query: str, params: Any = ()) -> list[Row]:
        """Run any read-only SQL (the views `latest`, `clean`, `duplicates`, `garbled`,
        `feed_health` are there, `?` or `:name` placeholders on both backends); Rows (above)
        on SQLite and PostgreSQL alike."""
        cur = self.conn.execute(query, params)
        names = [d[0] for d in cur.description or ()]
        index = Row.index_of(names)
        return [Row(r, names, index) for r in cur.fetchall()]

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open(path: str | Path) -> Reader:  # noqa: A001 - intentional: `ingest.open(path)`
    """Open an ingest database read-only (raises read.export.ExportError if missing or too old)."""
    return Reader(path)
