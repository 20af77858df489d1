"""`ingest stats`: what is stored, what was flagged, and how each feed is doing."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ingest.store.db import connect


@dataclass(frozen=True)
class FeedHealth:
    url: str
    name: str | None
    polls: int
    last_ok_at: str | None
    last_error: str | None
    last_error_at: str | None
    failures: float  # consecutive, weighted by kind
    next_poll_at: str | None
    interval: float | None
    items_last_poll: int | None
    new_last_poll: int | None


@dataclass(frozen=True)
class Stats:
    articles: int
    versions: int
    sites: int
    sightings: int
    flags: dict[str, int]  # "duplicate:exact" -> count, over current versions
    fetches: dict[str, int]  # outcome -> count
    feeds: list[FeedHealth]

    def as_dict(self) -> dict:
        return asdict(self)


def collect(db_path: str) -> Stats:
    conn = connect(db_path, readonly=True)
    try:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        flags = {}
        for kind, sub, n in conn.execute(
                "SELECT f.kind, f.subkind, count(*) FROM flags f JOIN articles a ON a.id = f.article_id "
                "AND f.version_n = a.current_version GROUP BY 1, 2 ORDER BY 1, 2"):
            key = f"{kind}:{sub}" if kind == "duplicate" else kind
            flags[key] = flags.get(key, 0) + n
        fetches = dict(conn.execute("SELECT outcome, count(*) FROM fetches GROUP BY 1 ORDER BY 2 DESC").fetchall())
        feeds = [FeedHealth(*row) for row in conn.execute(
            "SELECT url, name, polls, last_ok_at, last_error, last_error_at, failures, next_poll_at, interval, "
            "items_last_poll, new_last_poll FROM feeds ORDER BY url")]
        return Stats(one("SELECT count(*) FROM articles"), one("SELECT count(*) FROM versions"),
                     one("SELECT count(DISTINCT site) FROM articles"), one("SELECT count(*) FROM sightings"),
                     flags, fetches, feeds)
    finally:
        conn.close()


def render(stats: Stats) -> str:
    """Plain text for a terminal or a log."""
    lines = [f"articles {stats.articles}  versions {stats.versions}  sites {stats.sites}  sightings {stats.sightings}"]
    lines.append("flags: " + (", ".join(f"{k} {v}" for k, v in stats.flags.items()) or "none"))
    lines.append("fetches: " + (", ".join(f"{k} {v}" for k, v in stats.fetches.items()) or "none"))
    if stats.feeds:
        lines.append("feeds:")
        for f in stats.feeds:
            state = "ok" if not f.failures else f"failing x{f.failures:g}: {f.last_error}"
            lines.append(f"  {f.url}  polls {f.polls}  {state}  last ok {f.last_ok_at or '-'}  "
                         f"items {f.items_last_poll if f.items_last_poll is not None else '-'}  next {f.next_poll_at or '-'}")
    return "\n".join(lines)
