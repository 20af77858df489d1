"""The single writer: every change to the database goes through here.

One Writer per process, used from one thread. Each call that changes data runs in
one `BEGIN IMMEDIATE` transaction, so a crash or kill at any moment leaves either the
whole article (article row, keys, version, blob, flags, analysis index, sighting,
backfill mark) or none of it.
"""
from __future__ import annotations

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

from .identity import Identity, identify, site_of, url_key
from .versions import (RULES, Decision, Fetched, Seen, VersionRules, body_hash, count_words, decide, overlap,
                       word_changes)

# level 3: 2.4 -> 0.45 ms per real page against level 10, blobs 9% larger (docs/performance.md)
ZSTD_LEVEL = 3
_ZSTD = zstandard.ZstdCompressor(level=ZSTD_LEVEL)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Stored:
    """What storing one extracted page did."""

    article_id: int
    url: str
    outcome: str  # "new" | "version" | "unchanged" | "flipflop" | "suspect"
    version: int  # the article's current version after this
    flags: tuple[str, ...] = ()  # e.g. ("duplicate:exact",) for this version
    seen_version: int | None = None  # the stored version the page equals (None: a suspect extraction)


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


GUID_REUSE_OVERLAP = 0.2  # a GUID-only match sharing less of its vocabulary than this is another story
GUID_REUSE_MIN_WORDS = 50  # ...when both texts have at least this many words (docs/versions.md: Economist teasers)


class Writer:
    def __init__(self, db: sqlite_utils.Database, cfg: Config, rules: VersionRules = RULES):
        self.db = db
        self.conn = db.conn
        self.cfg = cfg
        self.rules = rules
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
        """The stored article a feed entry names, before fetching it.

        Found only through its GUID, under a URL no stored article has: the entry is due
        for a fetch whatever its schedule (a headline-derived URL changed, or the feed
        re-used the GUID for another story; storing the page tells which).
        """
        ident = identify(candidate.url, guid=candidate.guid, feed_url=candidate.feed_url)
        hits = self._lookup(ident)
        if not hits:
            return None
        kind, article_id = hits[0]
        row = self.conn.execute("SELECT next_check_at FROM articles WHERE id = ?", (article_id,)).fetchone()
        due = kind == "guid" or (row[0] is not None and row[0] <= now_iso())
        return Known(article_id, due)

    def _lookup(self, ident: Identity) -> list[tuple[str, int]]:
        """(key kind, article id) for every key of `ident` that is stored, in priority order."""
        ordered = ident.ordered()
        marks = ",".join("?" * len(ordered))
        found = dict(self.conn.execute(f"SELECT key, article_id FROM url_keys WHERE key IN ({marks})",
                                       [k for _, k in ordered]).fetchall())
        return [(kind, found[key]) for kind, key in ordered if key in found]

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
        """A sighting without a fetch (e.g. a feed listed a stored article again)."""
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

    def _sighting(self, article_id: int, cand: Candidate, outcome: str, at: str, version_n: int | None = None) -> None:
        feed_id = None
        if cand.feed_url:
            row = self.conn.execute("SELECT id FROM feeds WHERE url = ?", (cand.feed_url,)).fetchone()
            feed_id = row[0] if row else None
        self.conn.execute(
            "INSERT INTO sightings (article_id, feed_id, source, seen_at, url, guid, entry_title, outcome, version_n) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (article_id, feed_id, cand.source, at, cand.url, cand.guid, cand.title, outcome, version_n))

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
        ident = identify(candidate.url, page.final_url, doc.canonical_url, candidate.guid, candidate.feed_url)
        seen = iso(page.fetched_at)
        article_id = self._resolve(ident, ex)
        if article_id is None:
            result = self._new_article(candidate, ex, ident, seen)
        else:
            result = self._seen_again(article_id, candidate, ex, ident, seen)
        self._sighting(result.article_id, candidate, result.outcome, seen, result.seen_version)
        self._mark_done(candidate, result.outcome)
        return result

    def _resolve(self, ident: Identity, ex: Extracted) -> int | None:
        """The stored article this page is, or None for a new one.

        Keys are tried canonical, final URL, listed URL, GUID. A match through the GUID
        alone is checked against the text: feeds can re-use GUIDs for other stories, so a
        page sharing almost no vocabulary with the article the GUID names is a new article,
        and the GUID moves to it. Only for texts long enough to tell: a feed's headline and
        teaser change wholesale with a new headline-derived URL for the same story (the
        Economist does this, docs/versions.md).
        """
        hits = self._lookup(ident)
        if not hits:
            return None
        kind, article_id = hits[0]
        if kind != "guid":
            return article_id
        title, text = self.conn.execute(
            "SELECT v.title, v.text FROM articles a JOIN versions v ON v.article_id = a.id AND v.n = a.current_version "
            "WHERE a.id = ?", (article_id,)).fetchone()
        if min(count_words(text), count_words(ex.document.text)) < GUID_REUSE_MIN_WORDS:
            return article_id  # teasers are too short to tell; a GUID with a new URL is usually a new headline
        if overlap(text, ex.document.text) >= GUID_REUSE_OVERLAP or overlap(title, ex.document.title) >= 0.5:
            return article_id
        self.conn.execute("DELETE FROM url_keys WHERE key = ?", (ident.guid,))
        return None

    def _new_article(self, cand: Candidate, ex: Extracted, ident: Identity, seen: str) -> Stored:
        page, doc = ex.page, ex.document
        c = self.conn
        site = site_of(page.final_url)
        keys = ident.keys()
        cur = c.execute(
            "INSERT INTO articles (url, canonical_url, final_url, url_key, site, first_seen, last_seen, published, "
            "topics, next_check_at, check_interval) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (cand.url, doc.canonical_url, page.final_url, keys[0], site, seen, seen, doc.published,
             json.dumps(list(ex.topics)), *self._first_check(seen)))
        article_id = cur.lastrowid
        c.executemany("INSERT OR IGNORE INTO url_keys (key, article_id) VALUES (?, ?)", [(k, article_id) for k in keys])
        flags = self._add_version(article_id, 1, "first", ex, seen, site, doc.published, seen)
        return Stored(article_id, cand.url, "new", 1, flags, 1)

    def _current(self, article_id: int) -> dict:
        row = self.conn.execute(
            "SELECT v.n, v.text_hash, v.title_hash, v.text, a.site, a.first_seen, a.published, a.topics, "
            "a.check_interval, a.url, v.title, v.fetched_at FROM articles a "
            "JOIN versions v ON v.article_id = a.id AND v.n = a.current_version WHERE a.id = ?", (article_id,)).fetchone()
        return dict(zip(("n", "text_hash", "title_hash", "text", "site", "first_seen", "published", "topics",
                         "interval", "url", "title", "fetched_at"), row))

    def _earlier(self, article_id: int, current_n: int) -> list[Seen]:
        """The versions before the current one, newest first, as many as the flip-flop window."""
        rows = self.conn.execute("SELECT n, text_hash, title_hash FROM versions WHERE article_id = ? AND n != ? "
                                 "ORDER BY n DESC LIMIT ?", (article_id, current_n, self.rules.flipflop_window))
        return [Seen(*r) for r in rows]

    def _decide(self, cur: dict, article_id: int, ex: Extracted, earlier: bool = True) -> Decision:
        fp, doc = ex.fingerprint, ex.document
        current = self._seen(cur["n"], cur["text_hash"], cur["title_hash"], cur["title"], cur["text"])
        new = self._fetched(fp.text_hash, fp.title_hash, doc.title, doc.text)
        return decide(new, current, self._earlier(article_id, cur["n"]) if earlier else [], self.rules)

    def _seen_again(self, article_id: int, cand: Candidate, ex: Extracted, ident: Identity, seen: str) -> Stored:
        c = self.conn
        c.executemany("INSERT OR IGNORE INTO url_keys (key, article_id) VALUES (?, ?)",
                      [(k, article_id) for k in ident.keys()])
        cur = self._current(article_id)
        if seen < cur["fetched_at"]:
            return self._past_capture(article_id, ex, seen, cur)
        merged = json.dumps(list(dict.fromkeys(json.loads(cur["topics"]) + list(ex.topics))))
        d = self._decide(cur, article_id, ex)
        if d.outcome != "version":
            next_at, next_interval = self._next_check(seen, cur["first_seen"], cur["interval"], changed=False)
            c.execute("UPDATE articles SET last_seen = ?, topics = ?, next_check_at = ?, check_interval = ? WHERE id = ?",
                      (seen, merged, next_at, next_interval, article_id))
            flags: tuple[str, ...] = ()
            if d.outcome == "suspect":
                flags = self._flag_suspect(article_id, cur["n"], d, ex, seen)
            return Stored(article_id, cur["url"], d.outcome, cur["n"], flags, d.matched)
        next_at, next_interval = self._next_check(seen, cur["first_seen"], cur["interval"], changed=True)
        c.execute("UPDATE articles SET last_seen = ?, topics = ?, next_check_at = ?, check_interval = ?, "
                  "published = COALESCE(published, ?) WHERE id = ?",
                  (seen, merged, next_at, next_interval, ex.document.published, article_id))
        n = self._next_n(article_id)
        flags = self._add_version(article_id, n, d.change, ex, seen, cur["site"],
                                  cur["published"] or ex.document.published, cur["first_seen"], cur["text"])
        return Stored(article_id, cur["url"], "version", n, flags, n)

    def _past_capture(self, article_id: int, ex: Extracted, seen: str, cur: dict) -> Stored:
        """A page captured before the current version was fetched (a WARC record, an old crawl).

        It is placed in time: compared with the version that was live then (the last one
        fetched at or before it) and the next one, it is a sighting of either when equal, of
        another version when equal to that (a flip-flop), nothing when its extraction
        collapsed, and otherwise a new version between the two; the later versions move up
        one number so that `n` keeps following time, and the current version stays current.
        A past version is not judged for copies or indexed: the analysis index holds each
        article's current text. The article's first_seen moves back to the capture if earlier.
        """
        c = self.conn
        c.execute("UPDATE articles SET first_seen = min(first_seen, ?) WHERE id = ?", (seen, article_id))
        rows = c.execute(
            "SELECT n, text_hash, title_hash, title, text, change FROM versions WHERE article_id = ? AND n IN ("
            "(SELECT max(n) FROM versions WHERE article_id = ? AND fetched_at <= ?), "
            "(SELECT min(n) FROM versions WHERE article_id = ? AND fetched_at > ?)) ORDER BY n",
            (article_id, article_id, seen, article_id, seen)).fetchall()
        before, after = (rows[0], rows[1]) if len(rows) == 2 else (None, rows[0])
        doc = ex.document
        new = self._fetched(ex.fingerprint.text_hash, ex.fingerprint.title_hash, doc.title, doc.text)
        for v in (before, after):
            if v is not None and (v[1], v[2]) == (new.text_hash, new.title_hash):
                return Stored(article_id, cur["url"], "unchanged", cur["n"], (), v[0])
        same = c.execute("SELECT n FROM versions WHERE article_id = ? AND text_hash = ? AND title_hash = ? LIMIT 1",
                         (article_id, new.text_hash, new.title_hash)).fetchone()
        if same:
            return Stored(article_id, cur["url"], "flipflop", cur["n"], (), same[0])
        d = decide(new, self._seen(*(before or after)[:5]), [], self.rules)
        if d.outcome == "suspect":
            return Stored(article_id, cur["url"], "suspect", cur["n"])
        k = before[0] + 1 if before else 1
        self._make_room(article_id, k, cur["n"])
        self._insert_version(article_id, k, d.change if before else "first", ex, seen, before[4] if before else "")
        # the next version's change is now counted from this one
        later = decide(self._fetched(*after[1:5]), self._seen(k, new.text_hash, new.title_hash, doc.title, doc.text),
                       [], self.rules)
        added, removed = word_changes(doc.text, after[4])
        c.execute("UPDATE versions SET change = ?, words_added = ?, words_removed = ? WHERE article_id = ? AND n = ?",
                  (after[5] if after[5] == "reextract" else later.change or "edit", added, removed, article_id, k + 1))
        return Stored(article_id, cur["url"], "version", cur["n"] + 1, (), k)

    @staticmethod
    def _seen(n: int, text_hash: str, title_hash: str, title: str, text: str) -> Seen:
        return Seen(n, text_hash, title_hash, count_words(text), body_hash(title, text))

    @staticmethod
    def _fetched(text_hash: str, title_hash: str, title: str, text: str) -> Fetched:
        return Fetched(text_hash, title_hash, count_words(text), body_hash(title, text))

    def _make_room(self, article_id: int, k: int, current_n: int) -> None:
        """Renumber versions n >= k (and the flags and sightings naming them) to n + 1.

        The full-text index holds the current version by rowid, and a trigger moves it when
        articles.current_version changes; it is bumped first (the trigger takes the current
        version out of the index while its n is still right), the rows are renumbered, then
        the current version goes back in under its new number.
        """
        c = self.conn
        c.execute("UPDATE articles SET current_version = current_version + 1, versions = versions + 1 WHERE id = ?",
                  (article_id,))
        # two steps through negative numbers: UNIQUE(article_id, n) is checked row by row
        c.execute("UPDATE versions SET n = -n - 1 WHERE article_id = ? AND n >= ?", (article_id, k))
        c.execute("UPDATE versions SET n = -n WHERE article_id = ? AND n < 0", (article_id,))
        for table in ("flags", "sightings"):
            c.execute(f"UPDATE {table} SET version_n = version_n + 1 WHERE article_id = ? AND version_n >= ?",
                      (article_id, k))
        c.execute("INSERT INTO versions_fts (rowid, title, text) SELECT id, title, text FROM versions "
                  "WHERE article_id = ? AND n = ?", (article_id, current_n + 1))

    def _next_n(self, article_id: int) -> int:
        return self.conn.execute("SELECT COALESCE(max(n), 0) + 1 FROM versions WHERE article_id = ?",
                                 (article_id,)).fetchone()[0]

    def _flag_suspect(self, article_id: int, n: int, d: Decision, ex: Extracted, seen: str) -> tuple[str, ...]:
        """Flag the current version's latest fetch as a collapsed extraction (once per version).

        The suspect page's HTML is kept (content-addressed, like a version's) and named in
        the evidence, so `ingest reextract` or a person can look at it later.
        """
        blob = self._blob(ex.page.body)
        exists = self.conn.execute("SELECT 1 FROM flags WHERE article_id = ? AND version_n = ? AND kind = "
                                   "'extraction_suspect'", (article_id, n)).fetchone()
        if exists is None:
            detail = {"ratio": d.ratio, "words": count_words(ex.document.text), "fetched_at": seen, "blob_hash": blob,
                      "final_url": ex.page.final_url, "extractor": ex.document.extractor}
            self.conn.execute(
                "INSERT INTO flags (article_id, version_n, kind, subkind, score, detail, created_at) "
                "VALUES (?, ?, 'extraction_suspect', 'collapsed', ?, ?, ?)",
                (article_id, n, round(1 - (d.ratio or 0), 3), json.dumps(detail), seen))
        return ("extraction_suspect",)

    def _blob(self, body: bytes) -> str:
        """Store raw bytes once, zstd-compressed, under their sha256; return the hash."""
        blob = hashlib.sha256(body).hexdigest()
        if self.conn.execute("SELECT 1 FROM blobs WHERE hash = ?", (blob,)).fetchone() is None:
            self.conn.execute("INSERT INTO blobs (hash, size, data) VALUES (?, ?, ?)",
                              (blob, len(body), _ZSTD.compress(body)))
        return blob

    # --- re-extraction (ingest/reextract.py) -------------------------------------------------
    def store_reextract(self, article_id: int, ex: Extracted) -> Stored:
        """Record a re-extraction of the current version's stored HTML.

        A different text or title becomes a version with change "reextract" (the extractor
        changed, not the publisher); a collapsed one is flagged suspect and not stored. No
        sighting: nobody saw the article again. The HTML blob is shared with the version
        it came from, and fetched_at stays the time that HTML was fetched.
        """
        with self.txn():
            cur = self._current(article_id)
            d = self._decide(cur, article_id, ex, earlier=False)
            seen = iso(ex.page.fetched_at)
            if d.outcome == "unchanged":
                return Stored(article_id, cur["url"], "unchanged", cur["n"])
            if d.outcome == "suspect":
                return Stored(article_id, cur["url"], "suspect", cur["n"], self._flag_suspect(article_id, cur["n"], d, ex, seen))
            n = self._next_n(article_id)
            flags = self._add_version(article_id, n, "reextract", ex, seen, cur["site"],
                                      cur["published"] or ex.document.published, cur["first_seen"], cur["text"])
            return Stored(article_id, cur["url"], "version", n, flags)

    def _add_version(self, article_id: int, n: int, change: str, ex: Extracted, seen: str, site: str,
                     published: str | None, first_seen: str, old_text: str | None = None) -> tuple[str, ...]:
        """Insert version n as the article's current one, judge it and index it."""
        self._insert_version(article_id, n, change, ex, seen, old_text or "")
        self.conn.execute("UPDATE articles SET current_version = ?, versions = ? WHERE id = ?", (n, n, article_id))
        doc, fp = ex.document, ex.fingerprint
        verdict = self.index.judge(article_id, site, published, first_seen, doc.title, doc.text, fp)
        self.index.add(article_id, site, fp)
        self._flag_rerooted(article_id, seen)
        return self._flag(article_id, n, verdict, seen)

    def _insert_version(self, article_id: int, n: int, change: str, ex: Extracted, seen: str, old_text: str) -> None:
        page, doc, fp = ex.page, ex.document, ex.fingerprint
        blob = self._blob(page.body)
        added, removed = word_changes(old_text, doc.text)
        self.conn.execute(
            "INSERT INTO versions (article_id, n, fetched_at, title, text, text_hash, title_hash, author, published, "
            "modified, date_source, language, sitename, extractor, status, final_url, charset, charset_source, blob_hash, "
            "change, words_added, words_removed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (article_id, n, seen, doc.title, doc.text, fp.text_hash, fp.title_hash, doc.author, doc.published, doc.modified,
             doc.date_source, doc.language, doc.sitename, doc.extractor, page.status, page.final_url, page.charset,
             page.charset_source, blob, change, added, removed))

    def _flag_rerooted(self, article_id: int, at: str) -> None:
        """Flag the copies the index just re-rooted on this article (an original stored after them).

        Pages arrive in any order: when a copy was stored first, the index finds the original
        late and moves the cluster's `dup_edges` to it; the copies' current versions get a
        duplicate flag pointing at it, so `latest` and the exports agree with `dup_edges`.
        One index seek (dup_edges_of); nothing when this article has no copies.
        """
        rows = self.conn.execute(
            "SELECT e.article_id, e.kind, e.similarity, a.current_version FROM dup_edges e "
            "JOIN articles a ON a.id = e.article_id WHERE e.of_id = ? AND NOT EXISTS ("
            "SELECT 1 FROM flags f WHERE f.article_id = e.article_id AND f.kind = 'duplicate' "
            "AND f.version_n = a.current_version AND f.other_article_id = e.of_id)", (article_id,)).fetchall()
        if not rows:
            return
        url = self.conn.execute("SELECT url FROM articles WHERE id = ?", (article_id,)).fetchone()[0]
        self.conn.executemany(
            "INSERT INTO flags (article_id, version_n, kind, subkind, score, other_article_id, detail, created_at) "
            "VALUES (?, ?, 'duplicate', ?, ?, ?, ?, ?)",
            [(copy, n, kind, sim, article_id, json.dumps({"similarity": sim, "of_url": url, "rerooted": True}), at)
             for copy, kind, sim, n in rows])

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
        # capped: an article listed in hundreds of polls would otherwise overflow datetime
        interval = min(interval, max(s.recheck_max_age_days * 86400.0, s.recheck_after))
        at = datetime.fromisoformat(seen) + timedelta(seconds=interval)
        if at - datetime.fromisoformat(first_seen) > timedelta(days=s.recheck_max_age_days):
            return None, interval
        return iso(at), interval
