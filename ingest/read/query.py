"""The filtered SELECTs shared by export, the Python API and Datasette's canned queries.

Everything reads the `latest` view (migration 4 in ingest/store/schema.py), so the columns,
the "current flags" rule and the duplicate/garble shapes are defined once, in SQL, and the
export file, `ingest.open(...)` and the web UI cannot disagree. Rows come back as small typed
records (`ArticleRow`, `VersionRow`) built straight from a cursor, one at a time, so callers
can stream any number of them.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from ingest.records import DUPLICATE_KINDS, GARBLE_NAMES, Article, DuplicateOf, GarbleInfo, Version
from ingest.times import parse

READ_SCHEMA = 6  # the migration that created the views this package reads


class ReadError(Exception):
    """Reading cannot start: missing database, schema too old, bad output; a one-line message."""


def open_readonly(db_path: str | Path) -> sqlite3.Connection:
    """The one way reading commands open a database: read-only, an existing file, with the read views.

    Never creates a file (an export of a mistyped path must not leave an empty database)
    and never migrates: the daemon owns the schema.
    """
    # lazily: `import ingest` (for ingest.open) stays cheap
    from ingest.store import check_database, is_postgres
    from ingest.store.errors import FAILED, StoreError, fatal
    from ingest.store.sqlite.connection import connect

    if is_postgres(str(db_path)):
        return _open_postgres(str(db_path))
    path = Path(db_path)
    check_database(str(path), write=False)  # StoreError: no database, a folder, not SQLite, another URL
    try:
        conn = connect(path, readonly=True)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as e:
        raise fatal(e, str(path)) or StoreError(f"cannot read the database {path}: {e}") from None
    if version < READ_SCHEMA:
        conn.close()
        raise StoreError(f"{path} has schema version {version}, the read views need {READ_SCHEMA}; "
                         "run any writing ingest command once to migrate it", FAILED)
    return conn


def has_table(conn: sqlite3.Connection, table: str) -> bool:
    """Whether a database opened by `open_readonly` has `table`: an SQLite file at the read views'
    schema may predate a later side table (a PostgreSQL one is always at the newest schema)."""
    try:
        conn.execute(f"SELECT 1 FROM {table} LIMIT 0")
    except sqlite3.OperationalError:
        return False
    return True


def integrity_problems(db_path: str | Path) -> list[str]:
    """SQLite's full integrity_check of a database, read-only: ["ok"] when undamaged.

    Damage bad enough that the check itself cannot run is one problem, SQLite's own message.
    """
    conn = open_readonly(db_path)
    try:
        return [r[0] for r in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as e:
        return [str(e)]
    finally:
        conn.close()


def _open_postgres(url: str) -> sqlite3.Connection:
    """A read-only PostgreSQL connection shaped like sqlite3's (store/postgres/connection.py)."""
    from ingest.store.errors import FAILED, StoreError
    from ingest.store.postgres.connection import connect, redact
    from ingest.store.postgres.schema import MIGRATIONS, schema_version

    conn = connect(url, readonly=True)
    if schema_version(conn) < len(MIGRATIONS):
        conn.close()
        raise StoreError(f"{redact(url)} holds no ingest corpus yet (or an older schema); run any writing ingest "
                         "command once to create or migrate it", FAILED)
    return cast(sqlite3.Connection, conn)  # the subset of sqlite3's connection the read modules use


FLAG_KINDS = ("duplicate", "garbled", "extraction_suspect", *DUPLICATE_KINDS, *GARBLE_NAMES)


@dataclass(frozen=True)
class ExportFilters:
    """Which articles to read. Every field is optional; set fields are ANDed.

    since/until compare with `published`, else `first_seen`, as instants (naive means UTC);
    a date-only `until` includes that whole day. `clean` drops articles whose current version is flagged
    duplicate or garbled; `flag` keeps only those with that current flag: "duplicate",
    "garbled", "extraction_suspect", a duplicate kind or a garble reason name.
    """

    since: date | datetime | str | None = None
    until: date | datetime | str | None = None
    topic: str | None = None
    site: str | None = None
    clean: bool = False
    flag: str | None = None

    def __post_init__(self) -> None:
        if self.flag is not None and self.flag not in FLAG_KINDS:
            raise ValueError(f"unknown flag kind {self.flag!r} (one of: {', '.join(FLAG_KINDS)})")
        for name in ("since", "until"):
            value = getattr(self, name)
            if isinstance(value, str):
                parse_bound(value)  # raises ValueError early, before any output is written

    def where(self, alias: str = "l") -> tuple[str, list[Any]]:
        """The WHERE clause (without the keyword; "1 = 1" when empty) and its parameters."""
        clauses, params = [], []
        # julianday() understands every ISO form the store holds (date only, "Z", "+02:00"), so
        # bounds compare as instants, not strings; an unparseable date never matches a bound.
        when = f"julianday(COALESCE({alias}.published, {alias}.first_seen))"
        if self.since is not None:
            clauses.append(f"{when} >= julianday(?)")
            params.append(parse_bound(self.since).isoformat())
        if self.until is not None:
            bound = parse_bound(self.until)
            if type(bound) is date:  # a date-only bound means "up to the end of that day"
                clauses.append(f"{when} < julianday(?)")
                params.append((bound + timedelta(days=1)).isoformat())
            else:
                clauses.append(f"{when} <= julianday(?)")
                params.append(bound.isoformat())
        if self.topic is not None:
            clauses.append(f"EXISTS (SELECT 1 FROM json_each({alias}.topics) WHERE value = ?)")
            params.append(self.topic)
        if self.site is not None:
            clauses.append(f"{alias}.site = ?")
            params.append(self.site)
        if self.clean:
            clauses.append(f"{alias}.duplicate_kind IS NULL AND {alias}.garbled_score IS NULL")
        if self.flag == "duplicate":
            clauses.append(f"{alias}.duplicate_kind IS NOT NULL")
        elif self.flag == "garbled":
            clauses.append(f"{alias}.garbled_score IS NOT NULL")
        elif self.flag == "extraction_suspect":
            clauses.append(f"{alias}.extraction_suspect IS NOT NULL")
        elif self.flag in DUPLICATE_KINDS:
            clauses.append(f"{alias}.duplicate_kind = ?")
            params.append(self.flag)
        elif self.flag in GARBLE_NAMES:
            clauses.append(f"EXISTS (SELECT 1 FROM json_each({alias}.garbled_reasons) WHERE value = ?)")
            params.append(self.flag)
        return (" AND ".join(clauses) or "1 = 1"), params


def parse_bound(value: date | datetime | str) -> date | datetime:
    """An ISO date or datetime (naive means UTC); ValueError otherwise."""
    if isinstance(value, (date, datetime)):
        return value
    value = value.strip()
    try:
        return date.fromisoformat(value)
    except ValueError:
        return datetime.fromisoformat(value)


ARTICLE_FIELDS = tuple(f.name for f in fields(Article))
VERSION_FIELDS = tuple(f.name for f in fields(Version))

_ARTICLE_COLUMNS = ("l.id, l.url, l.canonical_url, l.site, l.title, l.text, l.author, l.published, l.language, "
                    "l.first_seen, l.last_seen, l.version, l.versions, l.feeds, l.topics, l.duplicate_of, "
                    "l.duplicate_kind, l.duplicate_similarity, l.garbled_score, l.garbled_reasons, l.garbled_sources, "
                    "l.page_kind, l.duplicate_evidence, l.duplicate_detail, l.garbled_evidence, l.garbled_detail")


def _loads(value: str | None) -> list[str]:
    return json.loads(value) if value else []


def article_from_row(r: tuple[Any, ...]) -> Article:
    dup = None
    if r[16] is not None:
        dup = DuplicateOf(r[15], r[16], float(r[17]) if r[17] is not None else None, r[22],
                          json.loads(r[23]) if r[23] else {})
    gar = None
    if r[18] is not None:
        detail = json.loads(r[25]) if r[25] else {}
        gar = GarbleInfo(float(r[18]), _loads(r[19]), _loads(r[20]), r[24], detail.get("reasons", []))
    return Article(r[0], r[1], r[2], r[3], r[21] or "article", r[4], r[5], r[6], parse(r[7]), r[8], parse(r[9]),
                   parse(r[10]), r[11], r[12], _loads(r[13]), _loads(r[14]), dup, gar)


def version_from_row(r: tuple[Any, ...]) -> Version:
    return Version(r[0], r[1], parse(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], r[9], parse(r[10]))


def articles_sql(filters: ExportFilters = ExportFilters(), extra_where: str = "", order: str = "l.id"
                 ) -> tuple[str, list[Any]]:
    where, params = filters.where("l")
    if extra_where:
        where = f"{where} AND ({extra_where})"
    return f"SELECT {_ARTICLE_COLUMNS} FROM latest l WHERE {where} ORDER BY {order}", params


def iter_articles(conn: sqlite3.Connection, filters: ExportFilters = ExportFilters()) -> Iterator[Article]:
    """Every matching article, in id order, read lazily from one cursor."""
    sql, params = articles_sql(filters)
    for r in conn.execute(sql, params):
        yield article_from_row(r)


def count_articles(conn: sqlite3.Connection, filters: ExportFilters = ExportFilters()) -> int:
    where, params = filters.where("l")
    return int(conn.execute(f"SELECT count(*) FROM latest l WHERE {where}", params).fetchone()[0])


_VERSIONS_SQL = ("SELECT a.url, v.n, v.fetched_at, v.title, v.text, v.text_hash, v.change, v.words_added, "
                 "v.words_removed, v.author, v.published FROM versions v JOIN articles a ON a.id = v.article_id")


def iter_versions(conn: sqlite3.Connection, filters: ExportFilters = ExportFilters()) -> Iterator[Version]:
    """Every version of every matching article (filters apply to the article), by article then n."""
    where, params = filters.where("l")
    if where == "1 = 1":
        sql = f"{_VERSIONS_SQL} ORDER BY v.article_id, v.n"
    else:
        sql = (f"{_VERSIONS_SQL} WHERE v.article_id IN (SELECT l.id FROM latest l WHERE {where}) "
               "ORDER BY v.article_id, v.n")
    for r in conn.execute(sql, params):
        yield version_from_row(r)


def count_versions(conn: sqlite3.Connection, filters: ExportFilters = ExportFilters()) -> int:
    where, params = filters.where("l")
    if where == "1 = 1":
        return int(conn.execute("SELECT count(*) FROM versions").fetchone()[0])
    sql = f"SELECT count(*) FROM versions WHERE article_id IN (SELECT l.id FROM latest l WHERE {where})"
    return int(conn.execute(sql, params).fetchone()[0])


def versions_of(conn: sqlite3.Connection, url: str) -> list[Version]:
    """All versions of the article stored under `url` (its first URL or canonical URL), oldest first."""
    return [version_from_row(r) for r in conn.execute(
        f"{_VERSIONS_SQL} WHERE v.article_id = ({ARTICLE_BY_URL}) ORDER BY v.n", url_params(url))]


# An article named by any of its URLs. `:key` is the folded identity key (ingest.store.identity.
# url_key, what url_keys holds: an index seek); SQL callers without Python pass the URL itself,
# which also matches the stored first-fetched, canonical or final URL (a scan, small tables only).
ARTICLE_BY_URL = ("SELECT COALESCE((SELECT article_id FROM url_keys WHERE key IN (:key, :url) LIMIT 1),"
                  " (SELECT id FROM articles WHERE url = :url OR canonical_url = :url OR final_url = :url"
                  " ORDER BY id LIMIT 1))")
_CANNED_BY_URL = ARTICLE_BY_URL.replace(":key, ", "")


def url_params(url: str) -> dict[str, str]:
    """Parameters for ARTICLE_BY_URL: the URL and its identity key."""
    from ingest.store.identity import url_key

    try:
        key = url_key(url)
    except Exception:  # a malformed URL simply has no key
        key = url
    return {"url": url, "key": key}

# The duplicate cluster of an article (dup_edges is star-shaped: copy -> original): the
# original first, then copies by similarity. Empty when the article is in no cluster.
CLUSTER_SQL = f"""
WITH target(id) AS ({ARTICLE_BY_URL}),
root(id) AS (SELECT COALESCE((SELECT of_id FROM dup_edges WHERE article_id = target.id), target.id) FROM target),
members(id, role, similarity) AS (
    SELECT root.id, 0, NULL FROM root WHERE EXISTS (SELECT 1 FROM dup_edges WHERE of_id = root.id)
    UNION ALL
    SELECT e.article_id, 1, e.similarity FROM dup_edges e, root WHERE e.of_id = root.id
)
SELECT {_ARTICLE_COLUMNS} FROM members m JOIN latest l ON l.id = m.id
ORDER BY m.role, m.similarity DESC, l.id
"""

# Articles whose current version matches an FTS5 query, best (lowest bm25 rank) first.
SEARCH_ARTICLES_SQL = f"""
SELECT {_ARTICLE_COLUMNS}
FROM (SELECT v.article_id AS article_id, versions_fts.rank AS rank FROM versions_fts
      JOIN versions v ON v.id = versions_fts.rowid WHERE versions_fts MATCH :q) s
JOIN latest l ON l.id = s.article_id
ORDER BY s.rank
"""

# The same on PostgreSQL: every version's tsvector (a GIN index), current versions only.
SEARCH_ARTICLES_PG_SQL = f"""
SELECT {_ARTICLE_COLUMNS}
FROM (SELECT v.id AS version_id, ts_rank(v.search, q) AS rank
      FROM versions v, websearch_to_tsquery('simple', :q) q WHERE v.search @@ q) s
JOIN latest l ON l.version_id = s.version_id
ORDER BY s.rank DESC, l.id
"""

ARTICLE_SQL = f"SELECT {_ARTICLE_COLUMNS} FROM latest l WHERE l.id = ({ARTICLE_BY_URL})"

# Canned queries for Datasette (ingest/read/serve.py); named parameters become form fields.
LATEST_COVERAGE_SQL = """
SELECT id, url, site, title, published, first_seen, version, versions, topics,
       duplicate_of, duplicate_kind, garbled_score
FROM latest
ORDER BY COALESCE(published, first_seen) DESC
LIMIT 200
"""

COPIES_SQL = f"""
WITH target(id) AS ({_CANNED_BY_URL}),
root(id) AS (SELECT COALESCE((SELECT of_id FROM dup_edges WHERE article_id = target.id), target.id) FROM target),
members(id, role, kind, similarity) AS (
    SELECT root.id, 'original', NULL, NULL FROM root
    UNION ALL
    SELECT e.article_id, 'copy', e.kind, e.similarity FROM dup_edges e, root WHERE e.of_id = root.id
)
SELECT m.role, l.url, l.site, l.title, l.published, l.first_seen, m.kind, m.similarity
FROM members m JOIN latest l ON l.id = m.id
ORDER BY m.role = 'copy', m.similarity DESC, l.id
"""

GARBLED_SQL = """
SELECT g.article, g.site, g.title, g.score, g.reasons, g.sources, g.published, g.first_seen
FROM garbled g
ORDER BY g.score DESC, g.article_id
"""

ARTICLE_VERSIONS_SQL = f"""
SELECT v.n AS version, v.fetched_at, v.change, v.words_added, v.words_removed, v.title, v.text_hash,
       v.author, v.published, substr(v.text, 1, 300) AS text_start
FROM versions v
WHERE v.article_id = ({_CANNED_BY_URL})
ORDER BY v.n
"""

SEARCH_SQL = """
SELECT l.url, l.site, l.title, l.published,
       snippet(versions_fts, 1, '[', ']', '…', 16) AS snippet,
       l.duplicate_of, l.garbled_score
FROM versions_fts
JOIN versions v ON v.id = versions_fts.rowid
JOIN latest l ON l.id = v.article_id
WHERE versions_fts MATCH (CASE WHEN trim(COALESCE(:q, '')) = '' THEN '""' ELSE :q END)
ORDER BY versions_fts.rank
LIMIT 100
"""
