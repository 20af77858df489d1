"""`ingest stats`: what is stored, what was flagged, how each feed is doing, and what WARC
backfills read (records scanned, pages prefiltered and kept, per file: `backfill_files`)."""
from __future__ import annotations

import sqlite3
from typing import Any, Literal

from ingest.read.query import has_table, open_readonly
from ingest.records import FeedHealth, Stats, WarcFile, WarcTotals


def collect(db_path: str) -> Stats:
    conn = open_readonly(db_path)
    try:
        def one(sql: str) -> int:
            return int(conn.execute(sql).fetchone()[0])

        flags: dict[str, int] = {}
        for kind, sub, n in conn.execute(
                "SELECT f.kind, f.subkind, count(*) FROM flags f JOIN articles a ON a.id = f.article_id "
                "AND f.version_n = a.current_version GROUP BY 1, 2 ORDER BY 1, 2"):
            key = f"{kind}:{sub}" if kind == "duplicate" else kind
            flags[key] = flags.get(key, 0) + n
        fetches = dict(conn.execute("SELECT outcome, count(*) FROM fetches GROUP BY 1 ORDER BY 2 DESC").fetchall())
        outcomes = dict(conn.execute("SELECT outcome, count(*) FROM sightings GROUP BY 1 ORDER BY 2 DESC").fetchall())
        feeds = [_feed_health(tuple(row)) for row in conn.execute(
            "SELECT url, name, polls, last_ok_at, last_error, last_error_at, failures, next_poll_at, interval, "
            "items_last_poll, new_last_poll, "
            "(SELECT count(DISTINCT s.article_id) FROM sightings s WHERE s.feed_id = feeds.id) "
            "FROM feeds ORDER BY url")]
        files = _warc_files(conn)
        return Stats(one("SELECT count(*) FROM articles"), one("SELECT count(*) FROM versions"),
                     one("SELECT count(DISTINCT site) FROM articles"), sum(outcomes.values()), outcomes,
                     flags, fetches, feeds, WarcTotals.of(files), files)
    finally:
        conn.close()


def _warc_files(conn: sqlite3.Connection) -> list[WarcFile]:
    if not has_table(conn, "backfill_files"):  # a database not migrated since (schema 6)
        return []
    return [WarcFile(file, location, int(records), int(prefiltered), int(kept), bool(ended), updated_at)
            for file, location, records, prefiltered, kept, ended, updated_at in conn.execute(
                "SELECT file, location, records, prefiltered, kept, ended, updated_at FROM backfill_files "
                "ORDER BY updated_at, file")]


def _feed_health(row: tuple[Any, ...]) -> FeedHealth:
    (url, name, polls, last_ok_at, last_error, last_error_at, failures, next_poll_at, interval,
     items_last_poll, new_last_poll, articles) = row
    return FeedHealth(url, name, polls, last_ok_at, last_error, last_error_at, failures, next_poll_at, interval,
                      items_last_poll, new_last_poll, articles, _status(last_ok_at, last_error_at))


def _status(last_ok_at: str | None, last_error_at: str | None) -> Literal["ok", "failing", "never polled"]:
    """Same rule as the feed_health view: failing when the last poll failed."""
    if last_ok_at is None and last_error_at is None:
        return "never polled"
    if last_ok_at is None or (last_error_at is not None and last_error_at > last_ok_at):
        return "failing"
    return "ok"


def render(stats: Stats) -> str:
    """Plain text for a terminal or a log."""
    lines = [f"articles {stats.articles}  versions {stats.versions}  sites {stats.sites}  sightings {stats.sightings}"]
    lines.append("sightings: " + (", ".join(f"{k} {v}" for k, v in stats.sighting_outcomes.items()) or "none"))
    lines.append("flags: " + (", ".join(f"{k} {v}" for k, v in stats.flags.items()) or "none"))
    lines.append("fetches: " + (", ".join(f"{k} {v}" for k, v in stats.fetches.items()) or "none"))
    if (w := stats.warc).files:
        lines.append(f"warc backfills: {w.files} file{'s' if w.files != 1 else ''} ({w.ended} read to the end), "
                     f"records scanned {w.records}, prefiltered {w.prefiltered}, kept {w.kept}")
    if stats.feeds:
        lines.append("feeds:")
        for f in stats.feeds:
            if f.status == "failing":
                state = f"FAILING x{f.failures:g} (last error {f.last_error_at}: {f.last_error})"
            else:
                state = f.status
            items = f"{f.items_last_poll}/{f.new_last_poll or 0} new" if f.items_last_poll is not None else "-"
            every = f"{f.interval:.0f}s" if f.interval else "-"
            lines.append(f"  {f.url}  {state}  polls {f.polls}  last ok {f.last_ok_at or '-'}  items {items}  "
                         f"articles {f.articles}  every {every}  next {f.next_poll_at or '-'}")
    return "\n".join(lines)
