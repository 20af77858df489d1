"""Articles, versions, keys, sightings and flags: what storing one extracted page writes.

Every method runs inside the writer's transaction (writer.py); the version rules are the
pure ones of ingest/store/versions.py, the copy and garble verdict the pure judge of
ingest/analyse/judge.py over this database's index (corpus.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingest.analyse.evidence import duplicate_summary, garble_summary
from ingest.analyse.judge import Edge, Subject, judge, origin_time, tie_key
from ingest.config import Config
from ingest.records import (
    Candidate,
    Change,
    Extracted,
    FetchLog,
    Known,
    OffTopic,
    Stored,
    StoreOutcome,
    Verdict,
)
from ingest.store.identity import Identity, identify, site_of, url_key
from ingest.store.schedule import next_check
from ingest.store.versions import (
    RULES,
    Decision,
    Fetched,
    Seen,
    VersionRules,
    count_words,
    decide,
    overlap,
    word_changes,
)
from ingest.times import now, parse, to_text, utc

from .captures import past_capture
from .corpus import SQLiteCorpus
from .tables import feed_id_of, log_fetch, mark_done, put_blob

GUID_REUSE_OVERLAP = 0.2  # a GUID-only match sharing less of its vocabulary than this is another story
GUID_REUSE_MIN_WORDS = 50  # ...when both texts have at least this many words (docs/versions.md: Economist teasers)


@dataclass(frozen=True)
class Current:
    """An article's current version, as the version rules need it."""

    n: int
    text_hash: str
    title_hash: str
    title: str
    text: str
    fetched_at: datetime
    url: str
    site: str
    first_seen: datetime
    published: datetime | None
    topics: list[str]
    interval: float | None

    def seen(self) -> Seen:
        return Seen.of(self.n, self.text_hash, self.title_hash, self.title, self.text)


def _ts(value: str) -> datetime:
    """A timestamp column the store itself wrote (never NULL where this is used)."""
    parsed = parse(value)
    if parsed is None:  # pragma: no cover - the store writes these columns itself
        raise ValueError(f"unreadable stored timestamp {value!r}")
    return parsed


class Articles:
    def __init__(self, conn: sqlite3.Connection, cfg: Config, corpus: SQLiteCorpus, rules: VersionRules = RULES):
        self.conn = conn
        self.cfg = cfg
        self.corpus = corpus
        self.rules = rules

    # --- look-ups --------------------------------------------------------------------------
    def known(self, candidate: Candidate) -> Known | OffTopic | None:
        """The stored article a feed entry names, before fetching it.

        Found only through its GUID, under a URL no stored article has: the entry is due
        for a fetch whatever its schedule (a headline-derived URL changed, or the feed
        re-used the GUID for another story; storing the page tells which).
        """
        ident = identify(candidate.url, guid=candidate.guid, feed_url=candidate.feed_url)
        hits = self._lookup(ident)
        if not hits:
            off = self.conn.execute("SELECT 1 FROM off_topic WHERE url_key = ?", (url_key(candidate.url),)).fetchone()
            return OffTopic(candidate.url) if off else None
        kind, article_id = hits[0]
        row = self.conn.execute("SELECT next_check_at FROM articles WHERE id = ?", (article_id,)).fetchone()
        due = kind == "guid" or (row[0] is not None and row[0] <= to_text(now()))
        return Known(article_id, due)

    def count_unknown(self, candidates: Sequence[Candidate]) -> int:
        return sum(1 for c in candidates if not self._lookup(identify(c.url, guid=c.guid, feed_url=c.feed_url)))

    def _lookup(self, ident: Identity) -> list[tuple[str, int]]:
        """(key kind, article id) for every key of `ident` that is stored, in priority order."""
        ordered = ident.ordered()
        marks = ",".join("?" * len(ordered))
        found = dict(self.conn.execute(f"SELECT key, article_id FROM url_keys WHERE key IN ({marks})",
                                       [k for _, k in ordered]).fetchall())
        return [(kind, found[key]) for kind, key in ordered if key in found]

    def current(self, article_id: int) -> Current:
        n, th, tih, title, text, fetched, url, site, first, published, topics, interval = self.conn.execute(
            "SELECT v.n, v.text_hash, v.title_hash, v.title, v.text, v.fetched_at, a.url, a.site, a.first_seen, "
            "a.published, a.topics, a.check_interval FROM articles a "
            "JOIN versions v ON v.article_id = a.id AND v.n = a.current_version WHERE a.id = ?",
            (article_id,)).fetchone()
        return Current(n, th, tih, title, text, _ts(fetched), url, site, _ts(first), parse(published),
                       json.loads(topics), interval)

    # --- small writes ------------------------------------------------------------------------
    def seen(self, known: Known, candidate: Candidate) -> None:
        """A sighting without a fetch (a feed listed a stored article again)."""
        at = now()
        self._sighting(known.article_id, candidate, "seen", at)
        self.conn.execute("UPDATE articles SET last_seen = ? WHERE id = ?", (to_text(at), known.article_id))
        mark_done(self.conn, candidate, "seen")

    def skipped(self, candidate: Candidate, reason: str, fetch: FetchLog | None) -> None:
        """A candidate that stored nothing: log its fetch; remember an off-topic page so feeds
        listing it do not cost a fetch again; mark its backfill record done, unless the fetch
        failed ("fetch_<kind>": a rerun tries it again)."""
        if fetch is not None:
            log_fetch(self.conn, fetch, feed_id_of(self.conn, candidate.feed_url))
        if reason == "off_topic":
            self.conn.execute("INSERT INTO off_topic (url_key, at) VALUES (?, ?) "
                              "ON CONFLICT (url_key) DO UPDATE SET at = excluded.at",
                              (url_key(candidate.url), to_text(now())))
        if not reason.startswith("fetch_"):
            mark_done(self.conn, candidate, reason)

    def _sighting(self, article_id: int, cand: Candidate, outcome: str, at: datetime,
                  version_n: int | None = None) -> None:
        self.conn.execute(  # the feed by its URL in the same statement (one round trip on PostgreSQL)
            "INSERT INTO sightings (article_id, feed_id, source, seen_at, url, guid, entry_title, outcome, version_n) "
            "VALUES (?, (SELECT id FROM feeds WHERE url = ?), ?, ?, ?, ?, ?, ?, ?)",
            (article_id, cand.feed_url, cand.source, to_text(at), cand.url, cand.guid, cand.title, outcome, version_n))

    # --- store an article ------------------------------------------------------------------
    def store(self, candidate: Candidate, ex: Extracted, fetch: FetchLog | None) -> Stored:
        """Insert a new article, a new version, or just a sighting (inside the caller's transaction)."""
        if fetch is not None:
            log_fetch(self.conn, fetch, feed_id_of(self.conn, candidate.feed_url))
        page, doc = ex.page, ex.document
        ident = identify(candidate.url, page.final_url, doc.canonical_url, candidate.guid, candidate.feed_url)
        seen = utc(page.fetched_at).replace(microsecond=0)
        article_id = self._resolve(ident, ex)
        if article_id is None:
            result = self._new_article(candidate, ex, ident, seen)
        else:
            result = self._seen_again(article_id, candidate, ex, ident, seen)
        self._sighting(result.article_id, candidate, result.outcome, seen, result.seen_version)
        mark_done(self.conn, candidate, result.outcome)
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
        cur = self.current(article_id)
        if min(count_words(cur.text), count_words(ex.document.text)) < GUID_REUSE_MIN_WORDS:
            return article_id  # teasers are too short to tell; a GUID with a new URL is usually a new headline
        if overlap(cur.text, ex.document.text) >= GUID_REUSE_OVERLAP or overlap(cur.title, ex.document.title) >= 0.5:
            return article_id
        self.conn.execute("DELETE FROM url_keys WHERE key = ?", (ident.guid,))
        return None

    def _new_article(self, cand: Candidate, ex: Extracted, ident: Identity, seen: datetime) -> Stored:
        page, doc = ex.page, ex.document
        site = site_of(page.final_url)
        keys = ident.keys()
        check_at, interval = next_check(self.cfg.schedule, seen, seen, None, changed=True)
        cur = self.conn.execute(
            "INSERT INTO articles (url, canonical_url, final_url, url_key, site, first_seen, last_seen, published, "
            "topics, next_check_at, check_interval) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (cand.url, doc.canonical_url, page.final_url, keys[0], site, to_text(seen), to_text(seen),
             to_text(doc.published), json.dumps(list(ex.topics)), to_text(check_at), interval))
        article_id: int = cur.fetchone()[0]
        self.conn.executemany("INSERT INTO url_keys (key, article_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                              [(k, article_id) for k in keys])
        flags, words = self._add_version(article_id, cand.url, 1, "first", ex, seen, site, doc.published, seen)
        return Stored(article_id, cand.url, "new", 1, flags, 1, words)

    def _seen_again(self, article_id: int, cand: Candidate, ex: Extracted, ident: Identity,
                    seen: datetime) -> Stored:
        c = self.conn
        self.lock_article(article_id)
        c.executemany("INSERT INTO url_keys (key, article_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                      [(k, article_id) for k in ident.keys()])
        cur = self.current(article_id)
        if seen < cur.fetched_at:
            return past_capture(self, article_id, ex, seen, cur)
        merged = json.dumps(list(dict.fromkeys(cur.topics + list(ex.topics))))
        d = self.decide(cur, article_id, ex)
        changed = d.outcome == "version"
        check_at, interval = next_check(self.cfg.schedule, seen, cur.first_seen, cur.interval, changed=changed)
        if not changed:
            c.execute("UPDATE articles SET last_seen = ?, topics = ?, next_check_at = ?, check_interval = ? "
                      "WHERE id = ?", (to_text(seen), merged, to_text(check_at), interval, article_id))
            flags: tuple[str, ...] = ()
            if d.outcome == "suspect":
                flags = self.flag_suspect(article_id, cur.n, d, ex, seen)
            outcome: StoreOutcome = d.outcome  # "unchanged" | "flipflop" | "suspect"
            return Stored(article_id, cur.url, outcome, cur.n, flags, d.matched)
        c.execute("UPDATE articles SET last_seen = ?, topics = ?, next_check_at = ?, check_interval = ?, "
                  "published = COALESCE(published, ?) WHERE id = ?",
                  (to_text(seen), merged, to_text(check_at), interval, to_text(ex.document.published), article_id))
        n = self.next_n(article_id)
        assert d.change is not None
        flags, words = self._add_version(article_id, cur.url, n, d.change, ex, seen, cur.site,
                                         cur.published or ex.document.published, cur.first_seen, cur.text)
        return Stored(article_id, cur.url, "version", n, flags, n, words)

    def decide(self, cur: Current, article_id: int, ex: Extracted, earlier: bool = True) -> Decision:
        fp, doc = ex.fingerprint, ex.document
        new = Fetched.of(fp.text_hash, fp.title_hash, doc.title, doc.text)
        return decide(new, cur.seen(), self._earlier(article_id, cur.n) if earlier else [], self.rules)

    def _earlier(self, article_id: int, current_n: int) -> list[Seen]:
        """The versions before the current one, newest first, as many as the flip-flop window."""
        rows = self.conn.execute("SELECT n, text_hash, title_hash FROM versions WHERE article_id = ? AND n != ? "
                                 "ORDER BY n DESC LIMIT ?", (article_id, current_n, self.rules.flipflop_window))
        return [Seen(*r) for r in rows]

    def next_n(self, article_id: int) -> int:
        n: int = self.conn.execute("SELECT COALESCE(max(n), 0) + 1 FROM versions WHERE article_id = ?",
                                   (article_id,)).fetchone()[0]
        return n

    def flag_suspect(self, article_id: int, n: int, d: Decision, ex: Extracted, seen: datetime) -> tuple[str, ...]:
        """Flag the current version's latest fetch as a collapsed extraction (once per version).

        The suspect page's HTML is kept (content-addressed, like a version's) and named in
        the evidence, so `ingest reextract` or a person can look at it later.
        """
        blob = put_blob(self.conn, ex.page.body)
        exists = self.conn.execute("SELECT 1 FROM flags WHERE article_id = ? AND version_n = ? AND kind = "
                                   "'extraction_suspect'", (article_id, n)).fetchone()
        if exists is None:
            detail = {"ratio": d.ratio, "words": count_words(ex.document.text), "fetched_at": to_text(seen),
                      "blob_hash": blob, "final_url": ex.page.final_url, "extractor": ex.document.extractor}
            self.conn.execute(
                "INSERT INTO flags (article_id, version_n, kind, subkind, score, detail, created_at) "
                "VALUES (?, ?, 'extraction_suspect', 'collapsed', ?, ?, ?)",
                (article_id, n, round(1 - (d.ratio or 0), 3), json.dumps(detail), to_text(seen)))
        return ("extraction_suspect",)

    def reextracted(self, article_id: int, ex: Extracted) -> Stored:
        """A re-extraction of the current version's stored HTML (inside the caller's transaction).

        A different text or title becomes a version with change "reextract" (the extractor
        changed, not the publisher); a collapsed one is flagged suspect and not stored. No
        sighting: nobody saw the article again. The HTML blob is shared with the version
        it came from, and fetched_at stays the time that HTML was fetched.
        """
        self.lock_article(article_id)
        cur = self.current(article_id)
        d = self.decide(cur, article_id, ex, earlier=False)
        seen = utc(ex.page.fetched_at).replace(microsecond=0)
        if d.outcome == "unchanged":
            return Stored(article_id, cur.url, "unchanged", cur.n)
        if d.outcome == "suspect":
            return Stored(article_id, cur.url, "suspect", cur.n, self.flag_suspect(article_id, cur.n, d, ex, seen))
        n = self.next_n(article_id)
        flags, words = self._add_version(article_id, cur.url, n, "reextract", ex, seen, cur.site,
                                         cur.published or ex.document.published, cur.first_seen, cur.text)
        return Stored(article_id, cur.url, "version", n, flags, n, words)

    def _add_version(self, article_id: int, url: str, n: int, change: Change, ex: Extracted, seen: datetime, site: str,
                     published: datetime | None, first_seen: datetime,
                     old_text: str | None = None) -> tuple[tuple[str, ...], tuple[int, int]]:
        """Insert version n as the article's current one, judge it and index it; its flags and
        (words added, words removed)."""
        words = self.insert_version(article_id, n, change, ex, seen, old_text or "")
        self.conn.execute("UPDATE articles SET current_version = ?, versions = ? WHERE id = ?", (n, n, article_id))
        doc, fp = ex.document, ex.fingerprint
        origin = self.corpus.origin(article_id)
        if origin is None:  # a new article: when it entered the world
            origin = origin_time(published, doc.date_source if published == doc.published else None, first_seen)
        me = Subject(article_id, site, origin, doc.title, doc.text, fp, tie_key(fp.exact_key, url))
        judgement = judge(me, self.corpus, self.cfg.analysis)
        self.corpus.record(article_id, site, fp, judgement, origin)
        self._flag_rerooted(article_id, judgement.reroot, seen)
        return self._flag(article_id, n, judgement.verdict, seen), words

    def lock_article(self, article_id: int) -> None:
        """Hold the article against other writers until the transaction ends: nothing on SQLite,
        whose write transaction already locks the whole file (PostgreSQL: a row lock)."""

    def search_index(self, article_id: int, n: int) -> None:
        """Put version n (now current) back in the full-text index after versions were renumbered
        (past captures); PostgreSQL's index is on every version and needs nothing (postgres/)."""
        self.conn.execute("INSERT INTO versions_fts (rowid, title, text) SELECT id, title, text FROM versions "
                          "WHERE article_id = ? AND n = ?", (article_id, n))

    def insert_version(self, article_id: int, n: int, change: Change, ex: Extracted, seen: datetime,
                       old_text: str) -> tuple[int, int]:
        page, doc, fp = ex.page, ex.document, ex.fingerprint
        blob = put_blob(self.conn, page.body)
        added, removed = word_changes(old_text, doc.text)
        self.conn.execute(
            "INSERT INTO versions (article_id, n, fetched_at, title, text, text_hash, title_hash, author, published, "
            "modified, date_source, language, sitename, extractor, status, final_url, charset, charset_source, "
            "blob_hash, change, words_added, words_removed, page_kind) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (article_id, n, to_text(seen), doc.title, doc.text, fp.text_hash, fp.title_hash, doc.author,
             to_text(doc.published), to_text(doc.modified), doc.date_source, doc.language, doc.sitename,
             doc.extractor, page.status, page.final_url, page.charset, page.charset_source, blob, change, added,
             removed, fp.page_kind))
        return added, removed

    def _flag_rerooted(self, article_id: int, reroot: tuple[tuple[int, Edge], ...], at: datetime) -> None:
        """Flag the articles found to copy this one although stored before it (pages arrive in
        any order): each becomes a copy of this article with the kind and similarity of its own
        pair with it, so `latest`, `duplicates` and the exports agree with `dup_edges`."""
        if not reroot:
            return
        url = self.conn.execute("SELECT url FROM articles WHERE id = ?", (article_id,)).fetchone()[0]
        rows = []
        for copy, edge in reroot:
            current = self.conn.execute("SELECT current_version FROM articles WHERE id = ?", (copy,)).fetchone()[0]
            named = self.conn.execute(
                "SELECT 1 FROM flags WHERE article_id = ? AND kind = 'duplicate' AND version_n = ? "
                "AND other_article_id = ?", (copy, current, article_id)).fetchone()
            if named is None:
                detail = {"similarity": edge.similarity, "of_url": url, "rerooted": True}
                summary = f"{edge.kind} copy of {url} (an earlier original stored later)"
                rows.append((copy, current, edge.kind, edge.similarity, article_id, json.dumps(detail), summary,
                             to_text(at)))
        self.conn.executemany(
            "INSERT INTO flags (article_id, version_n, kind, subkind, score, other_article_id, detail, summary, "
            "created_at) VALUES (?, ?, 'duplicate', ?, ?, ?, ?, ?, ?)", rows)

    def _flag(self, article_id: int, n: int, verdict: Verdict, at: datetime) -> tuple[str, ...]:
        flags = []
        if verdict.duplicate:
            d = verdict.duplicate
            self.conn.execute(
                "INSERT INTO flags (article_id, version_n, kind, subkind, score, other_article_id, detail, summary, "
                "created_at) VALUES (?, ?, 'duplicate', ?, ?, ?, ?, ?, ?)",
                (article_id, n, d.kind, d.similarity, d.of_article_id,
                 json.dumps({"similarity": d.similarity, "of_url": d.of_url, **d.evidence}, default=str),
                 duplicate_summary(d), to_text(at)))
            flags.append(f"duplicate:{d.kind}")
        if verdict.garble:
            g = verdict.garble
            names = [r.name for r in g.reasons]
            detail: dict[str, Any] = {
                "reasons": [{"name": r.name, "score": r.score, "strong": r.strong, "evidence": r.evidence}
                            for r in g.reasons],
                "sources": list(g.sources)}
            self.conn.execute(
                "INSERT INTO flags (article_id, version_n, kind, subkind, score, detail, summary, created_at) "
                "VALUES (?, ?, 'garbled', ?, ?, ?, ?, ?)",
                (article_id, n, ",".join(names), g.score, json.dumps(detail, default=str), garble_summary(g),
                 to_text(at)))
            flags.append("garbled:" + "+".join(names))
        return tuple(flags)
