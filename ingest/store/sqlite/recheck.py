"""Re-checks: stored articles due for a re-fetch (index seek, no scan), and pushing back the
ones whose re-check stored nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ingest.config import ScheduleConfig
from ingest.records import Recheck
from ingest.store.schedule import next_check
from ingest.times import now, parse, to_text


class Rechecks:
    def __init__(self, conn: sqlite3.Connection, cfg: ScheduleConfig):
        self.conn = conn
        self.cfg = cfg

    def due(self, limit: int) -> list[Recheck]:
        """Articles whose re-check time has come, oldest due first."""
        rows = self.conn.execute(
            "SELECT id, COALESCE(final_url, url), next_check_at FROM articles "
            "WHERE next_check_at IS NOT NULL AND next_check_at <= ? ORDER BY next_check_at LIMIT ?",
            (to_text(now()), limit)).fetchall()
        return [Recheck(aid, url, parse(at)) for aid, url, at in rows]

    def defer(self, handed_out: Sequence[Recheck]) -> int:
        """Push back re-checks whose next_check_at did not move (inside the caller's transaction).

        A re-check that stored nothing (fetch failed, page empty) leaves next_check_at where it
        was; it is pushed back as an unchanged re-check would be (growing), so a deleted page
        cannot hold the head of the queue and use up every tick's budget.
        """
        at = now()
        moved = 0
        for r in handed_out:
            row = self.conn.execute("SELECT next_check_at, check_interval, first_seen FROM articles WHERE id = ?",
                                    (r.article_id,)).fetchone()
            stored, first_seen = (parse(row[0]), parse(row[2])) if row else (None, None)
            if stored is None or first_seen is None or stored != r.next_check_at or stored > at:
                continue
            when, interval = next_check(self.cfg, at, first_seen, row[1], changed=False)
            self.conn.execute("UPDATE articles SET next_check_at = ?, check_interval = ? WHERE id = ?",
                              (to_text(when), interval, r.article_id))
            moved += 1
        return moved
