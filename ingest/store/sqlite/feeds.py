"""Feeds: registration, state, and one transaction per poll (log, counters, validators, schedule)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from ingest.config import FeedConfig, RetentionConfig, ScheduleConfig
from ingest.records import FeedState, Poll
from ingest.store.schedule import plan_next_poll
from ingest.times import now, parse, to_text

from .retention import cap_feed
from .tables import log_fetch

_STATE = "SELECT id, url, name, etag, last_modified, body_hash, interval, failures, next_poll_at FROM feeds"


class Feeds:
    def __init__(self, conn: sqlite3.Connection, cfg: ScheduleConfig, retention: RetentionConfig):
        self.conn = conn
        self.cfg = cfg
        self.retention = retention

    def register(self, feeds: Sequence[FeedConfig]) -> list[FeedState]:
        """Add the configured feeds (a feed's name follows the config); inside a transaction."""
        for f in feeds:
            self.conn.execute("INSERT INTO feeds (url, name) VALUES (?, ?) "
                              "ON CONFLICT(url) DO UPDATE SET name = excluded.name", (f.url, f.name))
        return [self.state(f.url) for f in feeds]

    def state(self, url: str) -> FeedState:
        row = self.conn.execute(f"{_STATE} WHERE url = ?", (url,)).fetchone()
        return _state(row)

    def polled(self, feed: FeedState, poll: Poll) -> FeedState:
        """Record a poll and plan the next (inside the caller's transaction).

        A success clears the failure count, a failure adds its weight; an unchanged feed
        (304 or the same body) keeps its item count, since nothing in it is new.
        """
        current = self.state(feed.url)  # another writer (a backfill) never polls, but be exact
        at = now()
        plan = plan_next_poll(self.cfg, current, poll, at)
        log_fetch(self.conn, poll.fetch, feed.id)
        cap_feed(self.conn, feed.id, self.retention.fetch_log_rows_per_feed)
        fields: dict[str, Any] = {"polls": self._polls(feed.id) + 1, "failures": plan.failures,
                                  "interval": plan.interval, "next_poll_at": to_text(plan.next_poll_at)}
        if poll.ok:
            fields.update(last_ok_at=to_text(at), new_last_poll=poll.new)
            if poll.not_modified:  # validators refreshed when the 304 carries them
                fields.update({k: v for k, v in (("etag", poll.etag), ("last_modified", poll.last_modified)) if v})
            else:
                fields.update(items_last_poll=poll.items, title=poll.title, body_hash=poll.body_hash,
                              etag=poll.etag, last_modified=poll.last_modified)
        else:
            fields.update(last_error_at=to_text(at), last_error=poll.error)
        self.conn.execute(f"UPDATE feeds SET {', '.join(f'{k} = ?' for k in fields)} WHERE id = ?",
                          [*fields.values(), feed.id])
        return self.state(feed.url)

    def _polls(self, feed_id: int) -> int:
        n: int = self.conn.execute("SELECT polls FROM feeds WHERE id = ?", (feed_id,)).fetchone()[0]
        return n


def _state(row: tuple[Any, ...]) -> FeedState:
    fid, url, name, etag, last_modified, body_hash, interval, failures, next_poll_at = row
    return FeedState(fid, url, name, etag, last_modified, body_hash, interval, failures, parse(next_poll_at))
