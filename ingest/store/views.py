"""The analyst views both backends define the same way (store/sqlite/schema.py, store/postgres/schema.py).

Written once so that the names and columns analysts rely on cannot drift between SQLite and
PostgreSQL; `latest`, under them, shares its rows (LATEST_FROM) but not its columns (JSON functions
differ) and lives with each backend. On
SQLite these are the texts of the newest migration that (re)creates each view: earlier
migrations keep their own texts, as applied.
"""

# `latest`'s rows: the current version of each article with its newest flag of each kind
LATEST_FROM = """
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
"""

FEED_HEALTH = """
    CREATE VIEW feed_health AS
    SELECT
        f.id AS id,
        f.url AS url,
        f.name AS name,
        f.title AS title,
        f.last_ok_at AS last_success,
        f.last_error AS last_error,
        f.last_error_at AS last_error_at,
        f.failures AS consecutive_failures,
        f.next_poll_at AS next_poll,
        f.interval AS interval_seconds,
        f.polls AS polls,
        f.items_last_poll AS items_per_poll,
        f.new_last_poll AS new_last_poll,
        (SELECT count(DISTINCT s.article_id) FROM sightings s WHERE s.feed_id = f.id) AS articles,
        CASE WHEN f.last_ok_at IS NULL AND f.last_error_at IS NULL THEN 'never polled'
             WHEN f.last_ok_at IS NULL OR f.last_error_at > f.last_ok_at THEN 'failing'
             ELSE 'ok' END AS status
    FROM feeds f;
"""

ANALYST_VIEWS = """
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
        published AS copy_published,
        page_kind,
        duplicate_evidence AS evidence
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
        first_seen,
        page_kind,
        garbled_evidence AS evidence
    FROM latest WHERE garbled_score IS NOT NULL;
"""
