"""The single writer: every change to the database goes through here.

One Writer per process, used from one thread. Each call that changes data runs in
one `BEGIN IMMEDIATE` transaction, so a crash or kill at any moment leaves either the
whole article (article row, keys, version, blob, flags, analysis index, sighting,
backfill mark) or none of it.
"""
from __future__ import annotations

import difflib
import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlite_utils
import zstandard

from ingest.analyse import CorpusIndex
from ingest.config import Config, FeedConfig
from ingest.records import Candidate, Extracted, Verdict

from .identity import identity_keys, site_of, url_key

_ZSTD = zstandard.ZstdCompressor(level=10)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Stored:
    """What storing one extracted page did."""

    article_id: int
    url: str
    outcome: str  # "new" | "version" | "unchanged"
    version: int  # the article's current version after this
    flags: tuple[str, ...] = ()  # e.g. ("duplicate:exact",) for this version


@dataclass(frozen=True)
class FeedState:
    id: int
    url: str
    name: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    interval: float | None
    failures: float
    next_poll_at: str | None


@dataclass(frozen=True)
class Known:
    """An article already stored, found by one of its keys."""

    id: int
    due: bool  # its re-check time has come


def word_changes(old: str, new: str) -> tuple[int, int]:
    """(words added, words removed) between two texts, word-level."""
    a, b = old.split(), new.split()
    added = removed = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("replace", "delete"):
            removed += i2 - i1
        if op in ("replace", "insert"):
            added += j2 - j1
    return added, removed


class Writer:
    def __init__(self, db: sqlite_utils.Database, cfg: Config):
        self.db = db
        self.conn = db.conn
        self.cfg = cfg
        self.index = CorpusIndex(db, cfg.analysis)

    @contextmanager
    def txn(self):
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # --- feeds -----------------------------------------------------------------------------
    def register_feeds(self, feeds: list[FeedConfig]) -> list[FeedState]:
        with self.txn() as c:
            for f in feeds:
                c.execute("INSERT INTO feeds (url, name) VALUES (?, ?) ON CONFLICT(url) DO UPDATE SET name = excluded.name",
                          (f.url, f.name))
        return [self.feed_state(f.url) for f in feeds]

    def feed_state(self, url: str) -> FeedState:
        row = self.conn.execute(
            "SELECT id, url, name, etag, last_modified, body_hash, interval, failures, next_poll_at FROM feeds WHERE url = ?",
            (url,)).fetchone()
        return FeedState(*row)

    def record_fetch(self, url: str, kind: str, outcome: str, *, feed_id: int | None = None, status: int | None = None,
                     message: str | None = None, size: int | None = None, elapsed_ms: float | None = None) -> None:
        with self.txn() as c:
            c.execute("INSERT INTO fetches (at, url, feed_id, kind, status, outcome, message, bytes, elapsed_ms) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (now_iso(), url, feed_id, kind, status, outcome, message, size, elapsed_ms))

    def update_feed(self, feed_id: int, **fields) -> None:
        """Set feed columns (validators, health, schedule) in one transaction."""
        self._update_feed(feed_id, "", fields)

    def feed_polled(self, feed_id: int, ok: bool, weight: float = 1.0, **fields) -> None:
        """Count a poll; a success clears the failure count, a failure adds its weight."""
        if ok:
            fields.update(last_ok_at=now_iso())
            extra = "polls = polls + 1, failures = 0"
        else:
            fields.update(last_error_at=now_iso())
            extra = f"polls = polls + 1, failures = failures + {float(weight)}"
        self._update_feed(feed_id, extra, fields)

    def _update_feed(self, feed_id: int, extra: str, fields: dict) -> None:
        sets = ", ".join([f"{k} = ?" for k in fields] + ([extra] if extra else []))
        if not sets:
            return
        with self.txn() as c:
            c.execute(f"UPDATE feeds SET {sets} WHERE id = ?", (*fields.values(), feed_id))

    # --- look-ups --------------------------------------------------------------------------
    def known(self, candidate: Candidate) -> Known | None:
        keys = identity_keys(candidate.url, guid=candidate.guid, feed_url=candidate.feed_url)
        marks = ",".join("?" * len(keys))
        row = self.conn.execute(
            f"SELECT a.id, a.next_check_at FROM url_keys k JOIN articles a ON a.id = k.article_id "
            f"WHERE k.key IN ({marks}) LIMIT 1", keys).fetchone()
        if row is None:
            return None
        return Known(row[0], row[1] is not None and row[1] <= now_iso())

    def due_for_recheck(self, limit: int) -> list[tuple[int, str]]:
        """Articles whose re-check time has come, oldest due first (index seek, no scan)."""
        return self.conn.execute(
            "SELECT id, COALESCE(final_url, url) FROM articles WHERE next_check_at IS NOT NULL AND next_check_at <= ? "
            "ORDER BY next_check_at LIMIT ?", (now_iso(), limit)).fetchall()

    def is_done(self, source: str, key: str) -> bool:
        return self.conn.execute("SELECT 1 FROM backfill_done WHERE source = ? AND key = ?", (source, key)).fetchone() is not None

    def is_off_topic(self, url: str) -> bool:
        return self.conn.execute("SELECT 1 FROM off_topic WHERE url_key = ?", (url_key(url),)).fetchone() is not None

    # --- small writes ----------------------------------------------------------------------
    def add_sighting(self, article_id: int, candidate: Candidate, outcome: str) -> None:
        with self.txn():
            self._sighting(article_id, candidate, outcome, now_iso())
            self.conn.execute("UPDATE articles SET last_seen = ? WHERE id = ?", (now_iso(), article_id))
            self._mark_done(candidate, outcome)

    def mark_skipped(self, candidate: Candidate, reason: str) -> None:
        """Remember an off-topic or empty page so feeds listing it do not cost a fetch again."""
        with self.txn() as c:
            if reason == "off_topic":
                c.execute("INSERT OR REPLACE INTO off_topic (url_key, at) VALUES (?, ?)", (url_key(candidate.url), now_iso()))
            self._mark_done(candidate, reason)

    def _sighting(self, article_id: int, cand: Candidate, outcome: str, at: str) -> None:
        feed_id = None
        if cand.feed_url:
            row = self.conn.execute("SELECT id FROM feeds WHERE url = ?", (cand.feed_url,)).fetchone()
            feed_id = row[0] if row else None
        self.conn.execute(
            "INSERT INTO sightings (article_id, feed_id, source, seen_at, url, guid, entry_title, outcome) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (article_id, feed_id, cand.source, at, cand.url, cand.guid, cand.title, outcome))

    def _mark_done(self, cand: Candidate, outcome: str) -> None:
        if cand.record_key:
            self.conn.execute("INSERT OR REPLACE INTO backfill_done (source, key, done_at, outcome) VALUES (?, ?, ?, ?)",
                              (cand.source, cand.record_key, now_iso(), outcome))

    # --- store an article ------------------------------------------------------------------
    def store(self, candidate: Candidate, ex: Extracted) -> Stored:
        """Insert a new article, a new version, or just a sighting, in one transaction."""
        return self.store_many([(candidate, ex)])[0]

    def store_many(self, items: list[tuple[Candidate, Extracted]]) -> list[Stored]:
        """Store several extracted pages in one transaction (fewer commits, same atomicity per batch)."""
        with self.txn():
            return [self._store(candidate, ex) for candidate, ex in items]

    def _store(self, candidate: Candidate, ex: Extracted) -> Stored:
        page, doc = ex.page, ex.document
        keys = identity_keys(candidate.url, page.final_url, doc.canonical_url, candidate.guid, candidate.feed_url)
        seen = iso(page.fetched_at)
        marks = ",".join("?" * len(keys))
        row = self.conn.execute(f"SELECT article_id FROM url_keys WHERE key IN ({marks}) LIMIT 1", keys).fetchone()
        if row is None:
            result = self._new_article(candidate, ex, keys, seen)
        else:
            result = self._seen_again(row[0], candidate, ex, keys, seen)
        self._sighting(result.article_id, candidate, result.outcome, seen)
        self._mark_done(candidate, result.outcome)
        return result

    def _new_article(self, cand: Candidate, ex: Extracted, keys: list[str], seen: str) -> Stored:
        page, doc = ex.page, ex.document
        c = self.conn
        site = site_of(page.final_url)
        cur = c.execute(
            "INSERT INTO articles (url, canonical_url, final_url, url_key, site, first_seen, last_seen, published, "
            "topics, next_check_at, check_interval) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (cand.url, doc.canonical_url, page.final_url, keys[0], site, seen, seen, doc.published,
             json.dumps(list(ex.topics)), *self._first_check(seen)))
        article_id = cur.lastrowid
        c.executemany("INSERT OR IGNORE INTO url_keys (key, article_id) VALUES (?, ?)", [(k, article_id) for k in keys])
        flags = self._add_version(article_id, 1, "first", ex, seen, site, doc.published, seen)
        return Stored(article_id, cand.url, "new", 1, flags)

    def _seen_again(self, article_id: int, cand: Candidate, ex: Extracted, keys: list[str], seen: str) -> Stored:
        c = self.conn
        c.executemany("INSERT OR IGNORE INTO url_keys (key, article_id) VALUES (?, ?)", [(k, article_id) for k in keys])
        n, text_hash, title_hash, old_text, site, first_seen, published, topics, interval, url = c.execute(
            "SELECT v.n, v.text_hash, v.title_hash, v.text, a.site, a.first_seen, a.published, a.topics, "
            "a.check_interval, a.url FROM articles a JOIN versions v ON v.article_id = a.id AND v.n = a.current_version "
            "WHERE a.id = ?", (article_id,)).fetchone()
        merged = json.dumps(list(dict.fromkeys(json.loads(topics) + list(ex.topics))))
        fp = ex.fingerprint
        if fp.text_hash == text_hash and fp.title_hash == title_hash:
            next_at, next_interval = self._next_check(seen, first_seen, interval, changed=False)
            c.execute("UPDATE articles SET last_seen = ?, topics = ?, next_check_at = ?, check_interval = ? WHERE id = ?",
                      (seen, merged, next_at, next_interval, article_id))
            return Stored(article_id, url, "unchanged", n)
        change = "edit" if fp.text_hash != text_hash else "title"
        next_at, next_interval = self._next_check(seen, first_seen, interval, changed=True)
        c.execute("UPDATE articles SET last_seen = ?, topics = ?, next_check_at = ?, check_interval = ?, "
                  "published = COALESCE(published, ?) WHERE id = ?",
                  (seen, merged, next_at, next_interval, ex.document.published, article_id))
        flags = self._add_version(article_id, n + 1, change, ex, seen, site, published or ex.document.published,
                                  first_seen, old_text)
        return Stored(article_id, url, "version", n + 1, flags)

    def _add_version(self, article_id: int, n: int, change: str, ex: Extracted, seen: str, site: str,
                     published: str | None, first_seen: str, old_text: str | None = None) -> tuple[str, ...]:
        page, doc, fp = ex.page, ex.document, ex.fingerprint
        c = self.conn
        blob = hashlib.sha256(page.body).hexdigest()
        if c.execute("SELECT 1 FROM blobs WHERE hash = ?", (blob,)).fetchone() is None:
            c.execute("INSERT INTO blobs (hash, size, data) VALUES (?, ?, ?)", (blob, len(page.body), _ZSTD.compress(page.body)))
        added, removed = word_changes(old_text, doc.text) if old_text is not None else (len(doc.text.split()), 0)
        c.execute(
            "INSERT INTO versions (article_id, n, fetched_at, title, text, text_hash, title_hash, author, published, "
            "modified, date_source, language, sitename, extractor, status, final_url, charset, charset_source, blob_hash, "
            "change, words_added, words_removed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (article_id, n, seen, doc.title, doc.text, fp.text_hash, fp.title_hash, doc.author, doc.published, doc.modified,
             doc.date_source, doc.language, doc.sitename, doc.extractor, page.status, page.final_url, page.charset,
             page.charset_source, blob, change, added, removed))
        c.execute("UPDATE articles SET current_version = ?, versions = ? WHERE id = ?", (n, n, article_id))
        verdict = self.index.judge(article_id, site, published, first_seen, doc.title, doc.text, fp)
        self.index.add(article_id, site, fp)
        return self._flag(article_id, n, verdict, seen)

    def _flag(self, article_id: int, n: int, verdict: Verdict, at: str) -> tuple[str, ...]:
        flags = []
        if verdict.duplicate:
            d = verdict.duplicate
            self.conn.execute(
                "INSERT INTO flags (article_id, version_n, kind, subkind, score, other_article_id, detail, created_at) "
                "VALUES (?, ?, 'duplicate', ?, ?, ?, ?, ?)",
                (article_id, n, d.kind, d.similarity, d.of_article_id,
                 json.dumps({"similarity": d.similarity, "of_url": d.of_url, **d.evidence}, default=str), at))
            flags.append(f"duplicate:{d.kind}")
        if verdict.garble:
            g = verdict.garble
            names = [r.name for r in g.reasons]
            detail = {"reasons": [{"name": r.name, "score": r.score, "evidence": r.evidence} for r in g.reasons],
                      "sources": list(g.sources)}
            self.conn.execute(
                "INSERT INTO flags (article_id, version_n, kind, subkind, score, detail, created_at) "
                "VALUES (?, ?, 'garbled', ?, ?, ?, ?)", (article_id, n, ",".join(names), g.score, json.dumps(detail, default=str), at))
            flags.append("garbled:" + "+".join(names))
        return tuple(flags)

    # --- re-check schedule -------------------------------------------------------------------
    def _first_check(self, seen: str) -> tuple[str | None, float]:
        after = self.cfg.schedule.recheck_after
        return iso(datetime.fromisoformat(seen) + timedelta(seconds=after)), after

    def _next_check(self, seen: str, first_seen: str, interval: float | None, changed: bool) -> tuple[str | None, float]:
        """Decaying re-check: reset after an edit, grow while unchanged, stop after max age."""
        s = self.cfg.schedule
        interval = s.recheck_after if changed or not interval else interval * s.recheck_growth
        at = datetime.fromisoformat(seen) + timedelta(seconds=interval)
        if at - datetime.fromisoformat(first_seen) > timedelta(days=s.recheck_max_age_days):
            return None, interval
        return iso(at), interval
