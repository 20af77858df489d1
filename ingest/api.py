"""A small Python API for analysts: `ingest.open("ingest.db")` -> `Store`.

    import ingest
    with ingest.open("ingest.db") as store:
        for a in store.articles(site="harbourtimes.example", clean=True):
            print(a.published, a.title)

`ingest.open` is named like `sqlite3.connect`/`shelve.open` and needs no submodule import.
It shadows the builtin `open` only where someone writes `from ingest import open` (or `*`),
so call it as `ingest.open(...)`. Inside this package no module imports it from `ingest`.

The Store is read-only (the daemon may be writing beside it) and returns the same fields as
the export (docs/reading.md), with timestamps parsed to aware UTC datetimes.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .read.query import open_readonly
from .read.query import (ARTICLE_SQL, CLUSTER_SQL, SEARCH_ARTICLES_SQL, ArticleRow, DuplicateOf, ExportFilters,
                         GarbleInfo, VersionRow, article_from_row, iter_articles, parse_time, url_params,
                         versions_of)

__all__ = ["open", "Store", "Article", "Version", "DuplicateOf", "GarbleInfo"]

@dataclass(frozen=True, slots=True)
class Article:
    """An article with its current version; mirrors one export row."""

    id: int
    url: str
    canonical_url: str | None
    site: str
    title: str
    text: str
    author: str | None
    published: datetime | None
    language: str | None
    first_seen: datetime | None
    last_seen: datetime | None
    version: int
    versions: int
    feeds: list[str]
    topics: list[str]
    duplicate: DuplicateOf | None
    garbled: GarbleInfo | None

    @classmethod
    def from_row(cls, r: ArticleRow) -> "Article":
        return cls(r.id, r.url, r.canonical_url, r.site, r.title, r.text, r.author, parse_time(r.published),
                   r.language, parse_time(r.first_seen), parse_time(r.last_seen), r.version, r.versions,
                   r.feeds, r.topics, r.duplicate, r.garbled)

    @property
    def clean(self) -> bool:
        """Neither a duplicate nor garbled (in its current version)."""
        return self.duplicate is None and self.garbled is None


@dataclass(frozen=True, slots=True)
class Version:
    """One stored version of an article; mirrors one `--versions` export row."""

    url: str
    version: int
    fetched_at: datetime | None
    title: str
    text: str
    text_hash: str
    change: str
    words_added: int
    words_removed: int
    author: str | None
    published: datetime | None

    @classmethod
    def from_row(cls, r: VersionRow) -> "Version":
        return cls(r.url, r.version, parse_time(r.fetched_at), r.title, r.text, r.text_hash, r.change,
                   r.words_added, r.words_removed, r.author, parse_time(r.published))


class Store:
    """Read-only access to an ingest database (see module docstring)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.conn: sqlite3.Connection = open_readonly(self.path)

    def articles(self, *, since=None, until=None, topic: str | None = None, site: str | None = None,
                 clean: bool = False, flag: str | None = None) -> Iterator[Article]:
        """Articles in id order, filtered like `ingest export` (ExportFilters); lazily read."""
        filters = ExportFilters(since=since, until=until, topic=topic, site=site, clean=clean, flag=flag)
        return (Article.from_row(r) for r in iter_articles(self.conn, filters))

    def article(self, url: str) -> Article | None:
        """The article stored under `url` (first, canonical or final URL), or None."""
        row = self.conn.execute(ARTICLE_SQL, url_params(url)).fetchone()
        return Article.from_row(article_from_row(row)) if row else None

    def versions(self, url: str) -> list[Version]:
        """Every version of the article at `url`, oldest first ([] when unknown)."""
        return [Version.from_row(v) for v in versions_of(self.conn, url)]

    def cluster(self, url: str) -> list[Article]:
        """The duplicate cluster `url` belongs to: the original first, then its copies
        (most similar first); [] when the article has no copies and is no copy."""
        return [Article.from_row(article_from_row(r)) for r in self.conn.execute(CLUSTER_SQL, url_params(url))]

    def search(self, query: str, *, limit: int | None = None) -> Iterator[Article]:
        """Articles whose current title or text match an FTS5 query, best match first.

        `query` is FTS5 syntax ("harbour bridge", '"storm repairs"', "mackerel OR ferry",
        "title:bridge"); a syntax error raises sqlite3.OperationalError.
        """
        sql = SEARCH_ARTICLES_SQL + (f" LIMIT {int(limit)}" if limit is not None else "")
        return (Article.from_row(article_from_row(r)) for r in self.conn.execute(sql, {"q": query}))

    def sql(self, query: str, params: Any = ()) -> list[sqlite3.Row]:
        """Run any read-only SQL (the views `latest`, `clean`, `duplicates`, `garbled`,
        `feed_health` are there); rows support both index and column-name access."""
        cur = self.conn.cursor()
        cur.row_factory = sqlite3.Row
        return cur.execute(query, params).fetchall()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open(path: str | Path) -> Store:  # noqa: A001 - intentional: `ingest.open(path)`
    """Open an ingest database read-only (raises read.export.ExportError if missing or too old)."""
    return Store(path)
