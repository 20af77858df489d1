"""Database schema as numbered migrations; `migrate` brings any database up to date.

Each migration runs in one transaction together with the bump of `PRAGMA user_version`,
so a crash during a migration leaves the previous schema intact.
"""
from __future__ import annotations

import sqlite3

from ingest.store.views import ANALYST_VIEWS, FEED_HEALTH, LATEST_FROM

MIGRATIONS: list[str] = [
    # 1: the core store
    """
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        name TEXT,
        title TEXT,
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        interval REAL,              -- seconds until the next poll, as last computed
        next_poll_at TEXT,
        polls INTEGER NOT NULL DEFAULT 0,
        failures REAL NOT NULL DEFAULT 0,   -- consecutive, weighted by kind
        last_error TEXT,
        last_error_at TEXT,
        last_ok_at TEXT,
        items_last_poll INTEGER,
        new_last_poll INTEGER
    );
    CREATE TABLE fetches (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        url TEXT NOT NULL,
        feed_id INTEGER REFERENCES feeds(id),
        kind TEXT NOT NULL,          -- "feed" | "article"
        status INTEGER,
        outcome TEXT NOT NULL,       -- "ok" | "not_modified" | failure kind
        message TEXT,
        bytes INTEGER,
        elapsed_ms REAL
    );
    CREATE INDEX fetches_feed ON fetches(feed_id, at);
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL,              -- the URL it was first fetched from
        canonical_url TEXT,
        final_url TEXT,
        url_key TEXT NOT NULL UNIQUE,   -- normalised identity key
        site TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        published TEXT,
        current_version INTEGER NOT NULL DEFAULT 0,
        versions INTEGER NOT NULL DEFAULT 0,
        topics TEXT NOT NULL DEFAULT '[]',  -- JSON list of topic names
        next_check_at TEXT,             -- when to re-fetch for edits (NULL: never)
        check_interval REAL
    );
    CREATE INDEX articles_site ON articles(site);
    CREATE INDEX articles_next_check ON articles(next_check_at) WHERE next_check_at IS NOT NULL;
    CREATE TABLE url_keys (
        key TEXT PRIMARY KEY,          -- any URL form or GUID that names the article
        article_id INTEGER NOT NULL REFERENCES articles(id)
    ) WITHOUT ROWID;
    CREATE TABLE blobs (
        hash TEXT PRIMARY KEY,         -- sha256 of the raw bytes
        size INTEGER NOT NULL,
        data BLOB NOT NULL             -- zstandard-compressed
    ) WITHOUT ROWID;
    CREATE TABLE versions (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id),
        n INTEGER NOT NULL,
        fetched_at TEXT NOT NULL,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        title_hash TEXT NOT NULL,
        author TEXT,
        published TEXT,
        modified TEXT,
        date_source TEXT,
        language TEXT,
        sitename TEXT,
        extractor TEXT,
        status INTEGER,
        final_url TEXT,
        charset TEXT,
        charset_source TEXT,
        blob_hash TEXT REFERENCES blobs(hash),
        change TEXT NOT NULL,          -- "first" | "edit" | "title" | "reextract"
        words_added INTEGER NOT NULL DEFAULT 0,
        words_removed INTEGER NOT NULL DEFAULT 0,
        UNIQUE(article_id, n)
    );
    CREATE INDEX versions_text_hash ON versions(text_hash);
    CREATE TABLE sightings (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id),
        feed_id INTEGER REFERENCES feeds(id),
        source TEXT NOT NULL,          -- "feed" | "urls" | "sitemap" | "warc" | "recheck" | "demo"
        seen_at TEXT NOT NULL,
        url TEXT,
        guid TEXT,
        entry_title TEXT,
        outcome TEXT                   -- "new" | "version" | "unchanged" | "flipflop" | "suspect"
    );
    CREATE INDEX sightings_article ON sightings(article_id);
    CREATE TABLE flags (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id),
        version_n INTEGER NOT NULL,
        kind TEXT NOT NULL,            -- "duplicate" | "garbled" | "extraction_suspect"
        subkind TEXT,                  -- duplicate kind, or garble reason list
        score REAL NOT NULL,
        other_article_id INTEGER REFERENCES articles(id),
        detail TEXT NOT NULL DEFAULT '{}',   -- JSON evidence
        created_at TEXT NOT NULL
    );
    CREATE INDEX flags_article ON flags(article_id, kind);
    CREATE INDEX flags_other ON flags(other_article_id) WHERE other_article_id IS NOT NULL;
    """,
    # 2: the analysis index (ingest/analyse/corpus.py): narrow WITHOUT ROWID key tables so
    # every look-up is a B-tree seek, see docs/analysis.md
    """
    CREATE TABLE analysis_docs (
        article_id INTEGER PRIMARY KEY REFERENCES articles(id),
        exact_key INTEGER NOT NULL,    -- 63-bit hash of the normalised, encoding-repaired text
        n_words INTEGER NOT NULL,
        keys BLOB NOT NULL             -- the band keys and sentence hashes indexed, to replace them
    );
    CREATE INDEX analysis_docs_exact ON analysis_docs(exact_key);
    CREATE TABLE lsh_bands (
        key INTEGER NOT NULL,          -- band number << 56 | 56-bit hash of the band's MinHash rows
        article_id INTEGER NOT NULL,
        PRIMARY KEY (key, article_id)
    ) WITHOUT ROWID;
    CREATE TABLE sentences (
        h INTEGER NOT NULL,            -- 63-bit hash of the normalised sentence
        article_id INTEGER NOT NULL,
        pos INTEGER NOT NULL,          -- sentence ordinal in the article
        PRIMARY KEY (h, article_id)
    ) WITHOUT ROWID;
    CREATE TABLE dup_edges (
        article_id INTEGER PRIMARY KEY,  -- a later copy
        of_id INTEGER NOT NULL,          -- the cluster's original (earliest published, else first seen)
        kind TEXT NOT NULL,              -- exact | near | syndicated | subset
        similarity REAL NOT NULL
    );
    CREATE INDEX dup_edges_of ON dup_edges(of_id);
    """,
    # 3: resumable backfills: one row per source record already handled (ingest/backfill.py)
    """
    CREATE TABLE backfill_done (
        source TEXT NOT NULL,          -- "urls" | "sitemap" | "warc"
        key TEXT NOT NULL,             -- URL, or WARC file identity + record offset
        done_at TEXT NOT NULL,
        outcome TEXT,
        PRIMARY KEY (source, key)
    ) WITHOUT ROWID;
    CREATE TABLE off_topic (           -- pages fetched and found off topic: not fetched again
        url_key TEXT PRIMARY KEY,
        at TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 4: the read side (ingest/read/, docs/reading.md): stable analyst views over the current
    # version of each article, and full-text search over current versions. The FTS index holds
    # exactly the current version of every article: the triggers below move one row per
    # insert/update by primary key (no scans), whichever order the writer inserts the version
    # and bumps articles.current_version in.
    """
    CREATE VIEW latest AS
    SELECT
        a.id AS id,
        a.url AS url,
        a.canonical_url AS canonical_url,
        a.site AS site,
        v.title AS title,
        v.text AS text,
        v.author AS author,
        COALESCE(a.published, v.published) AS published,
        v.language AS language,
        a.first_seen AS first_seen,
        a.last_seen AS last_seen,
        a.current_version AS version,
        a.versions AS versions,
        (SELECT json_group_array(url) FROM (
            SELECT DISTINCT f.url AS url FROM sightings s JOIN feeds f ON f.id = s.feed_id
            WHERE s.article_id = a.id ORDER BY f.url)) AS feeds,
        a.topics AS topics,
        COALESCE(dup_o.url, json_extract(dup.detail, '$.of_url')) AS duplicate_of,
        dup.other_article_id AS duplicate_of_id,
        dup.subkind AS duplicate_kind,
        COALESCE(json_extract(dup.detail, '$.similarity'), dup.score) AS duplicate_similarity,
        gar.score AS garbled_score,
        CASE WHEN gar.id IS NULL THEN NULL
             WHEN json_array_length(gar.detail, '$.reasons') > 0 THEN
                 (SELECT json_group_array(json_extract(r.value, '$.name'))
                  FROM json_each(gar.detail, '$.reasons') r)
             WHEN COALESCE(gar.subkind, '') = '' THEN '[]'
             ELSE '["' || replace(replace(COALESCE(gar.subkind, ''), ' ', ''), ',', '","') || '"]'
        END AS garbled_reasons,
        CASE WHEN gar.id IS NULL THEN NULL
             ELSE COALESCE(json_extract(gar.detail, '$.sources'), '[]') END AS garbled_sources,
        sus.score AS extraction_suspect,
        a.final_url AS final_url,
        v.id AS version_id,
        v.fetched_at AS fetched_at
    FROM articles a
    JOIN versions v ON v.article_id = a.id AND v.n = a.current_version
    LEFT JOIN flags dup ON dup.id = (
        SELECT max(f.id) FROM flags f WHERE f.article_id = a.id AND f.kind = 'duplicate'
        AND f.version_n = a.current_version)
    LEFT JOIN articles dup_o ON dup_o.id = dup.other_article_id
    LEFT JOIN flags gar ON gar.id = (
        SELECT max(f.id) FROM flags f WHERE f.article_id = a.id AND f.kind = 'garbled'
        AND f.version_n = a.current_version)
    LEFT JOIN flags sus ON sus.id = (
        SELECT max(f.id) FROM flags f WHERE f.article_id = a.id AND f.kind = 'extraction_suspect'
        AND f.version_n = a.current_version);

    CREATE VIEW clean AS
    SELECT * FROM latest WHERE duplicate_kind IS NULL AND garbled_score IS NULL;

    CREATE VIEW duplicates AS
    SELECT
        id AS copy_id,
        url AS copy,
        duplicate_of AS original,
        duplicate_of_id AS original_id,
        duplicate_kind AS kind,
        duplicate_similarity AS similarity,
        site AS copy_site,
        title AS copy_title,
        published AS copy_published
    FROM latest WHERE duplicate_kind IS NOT NULL;

    CREATE VIEW garbled AS
    SELECT
        id AS article_id,
        url AS article,
        site,
        title,
        garbled_score AS score,
        garbled_reasons AS reasons,
        garbled_sources AS sources,
        published,
        first_seen
    FROM latest WHERE garbled_score IS NOT NULL;

    CREATE INDEX sightings_feed ON sightings(feed_id, article_id);

""" + FEED_HEALTH + """
    CREATE VIRTUAL TABLE versions_fts USING fts5(
        title, text,
        content="versions", content_rowid="id",
        tokenize="unicode61 remove_diacritics 2"
    );

    INSERT INTO versions_fts(rowid, title, text)
    SELECT v.id, v.title, v.text FROM articles a
    JOIN versions v ON v.article_id = a.id AND v.n = a.current_version;

    CREATE TRIGGER versions_fts_insert AFTER INSERT ON versions
    WHEN new.n = (SELECT current_version FROM articles WHERE id = new.article_id)
    BEGIN
        INSERT INTO versions_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END;

    CREATE TRIGGER versions_fts_update AFTER UPDATE OF title, text ON versions
    WHEN old.n = (SELECT current_version FROM articles WHERE id = old.article_id)
    BEGIN
        INSERT INTO versions_fts(versions_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
        INSERT INTO versions_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
    END;

    CREATE TRIGGER versions_fts_delete AFTER DELETE ON versions
    WHEN old.n = (SELECT current_version FROM articles WHERE id = old.article_id)
    BEGIN
        INSERT INTO versions_fts(versions_fts, rowid, title, text)
        VALUES ('delete', old.id, old.title, old.text);
    END;

    CREATE TRIGGER articles_fts_current AFTER UPDATE OF current_version ON articles
    WHEN old.current_version IS NOT new.current_version
    BEGIN
        INSERT INTO versions_fts(versions_fts, rowid, title, text)
        SELECT 'delete', v.id, v.title, v.text FROM versions v
        WHERE v.article_id = old.id AND v.n = old.current_version;
        INSERT INTO versions_fts(rowid, title, text)
        SELECT v.id, v.title, v.text FROM versions v
        WHERE v.article_id = new.id AND v.n = new.current_version;
    END;

    CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles
    BEGIN
        INSERT INTO versions_fts(versions_fts, rowid, title, text)
        SELECT 'delete', v.id, v.title, v.text FROM versions v
        WHERE v.article_id = old.id AND v.n = old.current_version;
    END;
    """,
    # 5: versions (ingest/store/versions.py, docs/versions.md): each sighting names the stored
    # version the page equalled (unchanged, flipflop) or created (new, version); NULL when
    # the page was not fetched or its extraction was suspect.
    """
    ALTER TABLE sightings ADD COLUMN version_n INTEGER;
    """,
    # 6: verdicts on same-story coverage (ingest/analyse/judge.py, docs/analysis.md): the kind
    # of page (article, listing, gallery, roundup, video) on each version and in the index;
    # hub pages (they matched two unrelated stories) are never an original; the lines that
    # recur across a site's pages (its template) are learnt per site; each flag carries a
    # readable one-line summary of its evidence for the views. The read views are recreated
    # with these columns (the old ones keep their names and order).
    """
    ALTER TABLE versions ADD COLUMN page_kind TEXT;
    ALTER TABLE flags ADD COLUMN summary TEXT;
    ALTER TABLE analysis_docs ADD COLUMN page_kind TEXT NOT NULL DEFAULT 'article';
    ALTER TABLE analysis_docs ADD COLUMN hub INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE analysis_docs ADD COLUMN lines BLOB;
    ALTER TABLE analysis_docs ADD COLUMN origin_at TEXT;  -- the "original" order (judge.origin_time)
    CREATE TABLE site_lines (
        site TEXT NOT NULL,
        h INTEGER NOT NULL,            -- line key (ingest/text.py line_key)
        n INTEGER NOT NULL,            -- articles of the site whose current text has the line
        PRIMARY KEY (site, h)
    ) WITHOUT ROWID;
    DROP VIEW garbled;
    DROP VIEW duplicates;
    DROP VIEW clean;
    DROP VIEW latest;
    CREATE VIEW latest AS
    SELECT
        a.id AS id,
        a.url AS url,
        a.canonical_url AS canonical_url,
        a.site AS site,
        v.title AS title,
        v.text AS text,
        v.author AS author,
        COALESCE(a.published, v.published) AS published,
        v.language AS language,
        a.first_seen AS first_seen,
        a.last_seen AS last_seen,
        a.current_version AS version,
        a.versions AS versions,
        (SELECT json_group_array(url) FROM (
            SELECT DISTINCT f.url AS url FROM sightings s JOIN feeds f ON f.id = s.feed_id
            WHERE s.article_id = a.id ORDER BY f.url)) AS feeds,
        a.topics AS topics,
        COALESCE(dup_o.url, json_extract(dup.detail, '$.of_url')) AS duplicate_of,
        dup.other_article_id AS duplicate_of_id,
        dup.subkind AS duplicate_kind,
        COALESCE(json_extract(dup.detail, '$.similarity'), dup.score) AS duplicate_similarity,
        gar.score AS garbled_score,
        CASE WHEN gar.id IS NULL THEN NULL
             WHEN json_array_length(gar.detail, '$.reasons') > 0 THEN
                 (SELECT json_group_array(json_extract(r.value, '$.name'))
                  FROM json_each(gar.detail, '$.reasons') r)
             WHEN COALESCE(gar.subkind, '') = '' THEN '[]'
             ELSE '["' || replace(replace(COALESCE(gar.subkind, ''), ' ', ''), ',', '","') || '"]'
        END AS garbled_reasons,
        CASE WHEN gar.id IS NULL THEN NULL
             ELSE COALESCE(json_extract(gar.detail, '$.sources'), '[]') END AS garbled_sources,
        sus.score AS extraction_suspect,
        a.final_url AS final_url,
        v.id AS version_id,
        v.fetched_at AS fetched_at,
        COALESCE(v.page_kind, 'article') AS page_kind,
        dup.summary AS duplicate_evidence,
        gar.summary AS garbled_evidence,
        dup.detail AS duplicate_detail,
        gar.detail AS garbled_detail
""" + LATEST_FROM + ANALYST_VIEWS,
    # 7: what WARC backfills read of each file, each record counted once however often the file is
    # read (ingest/store/sqlite/tables.py count_scanned): `ingest stats` shows the prefiltered pages,
    # which are never stored, and the records scanned
    """
    CREATE TABLE backfill_files (
        file TEXT PRIMARY KEY,         -- the file's identity (digest of its first 64 KiB + size), as in record keys
        location TEXT NOT NULL,        -- the path or URL it was last read from
        last_offset INTEGER NOT NULL,  -- the highest record offset counted (-1: none yet)
        records INTEGER NOT NULL DEFAULT 0,      -- records read, of every type, damaged ones included
        prefiltered INTEGER NOT NULL DEFAULT 0,  -- HTML pages the topic prefilter dropped before extraction
        kept INTEGER NOT NULL DEFAULT 0,         -- HTML pages sent on to extraction
        ended INTEGER NOT NULL DEFAULT 0,        -- 1 once a reading got to the end of the file
        updated_at TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
]


def migrate(conn: sqlite3.Connection, extra: list[str] | None = None) -> int:
    """Apply every migration newer than the database's user_version; return the new version.

    The version is read under the write lock (BEGIN IMMEDIATE), so two processes opening a new
    database together do not both create its tables: the second waits, then finds the work done.
    """
    steps = MIGRATIONS + list(extra or [])
    if conn.execute("PRAGMA user_version").fetchone()[0] >= len(steps):
        return len(steps)  # up to date: no write lock taken (the usual case)
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current >= len(steps):
                conn.execute("COMMIT")
                return len(steps)
            for statement in _statements(steps[current]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {current + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _statements(sql: str) -> list[str]:
    """Split a migration script into statements (sqlite3.complete_statement knows triggers)."""
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
