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
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

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
    translate_params,
    url_params,
    versions_of,
)

__all__ = ["open", "Reader", "Article", "Version", "DuplicateOf", "GarbleInfo"]


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

    def sql(self, query: str, params: Any = ()) -> list[sqlite3.Row]:
        """Run any read-only SQL (the views `latest`, `clean`, `duplicates`, `garbled`,
        `feed_health` are there); rows support both index and column-name access."""
        if self.postgres:  # named tuples: index and attribute access
            from psycopg.rows import namedtuple_row

            pg = cast(Any, self.conn)
            with pg.raw.cursor(row_factory=namedtuple_row) as cur:
                return cast(list[sqlite3.Row], cur.execute(*translate_params(query, params)).fetchall())
        cur = self.conn.cursor()
        cur.row_factory = sqlite3.Row
        return cur.execute(query, params).fetchall()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open(path: str | Path) -> Reader:  # noqa: A001 - intentional: `ingest.open(path)`
    """Open an ingest database read-only (raises read.export.ExportError if missing or too old)."""
    return Reader(path)
