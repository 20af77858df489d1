"""The analysis stage on a real SQLite index, without the rest of the store.

Evaluations, the analysis benchmark and the judge's tests store many texts with controlled
sites and times: each `put` inserts the article and version rows the index reads, judges
the text with the pure judge (ingest/analyse/judge.py) over the store's SQLite corpus
(ingest/store/sqlite/corpus.py) and records the judgement, as the store does per article.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlite_utils

from ingest.analyse.judge import Judgement, Subject, judge, tie_key
from ingest.config import AnalysisConfig
from ingest.records import Fingerprint, Verdict
from ingest.store.sqlite.corpus import SQLiteCorpus
from ingest.store.sqlite.schema import migrate
from ingest.times import parse, to_text

BASE = datetime(2024, 5, 1, tzinfo=UTC)


class IndexedCorpus:
    """A SQLite file with the store's schema; texts go in with `put`, judged on the way."""

    def __init__(self, path: str, cfg: AnalysisConfig | None = None, cache_kb: int = 0):
        self.db = sqlite_utils.Database(path)
        self.conn = self.db.conn
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        if cache_kb:
            self.conn.execute(f"PRAGMA cache_size=-{cache_kb}")
        migrate(self.conn)
        self.corpus = SQLiteCorpus(self.conn)
        self.cfg = cfg or AnalysisConfig()
        self.n = 0

    def row(self, site: str, title: str, text: str, *, seen: datetime | None = None,
            published: str | None = None, article_id: int | None = None) -> int:
        """Insert an article (or a new version of `article_id`) as its current version; its id."""
        seen = seen or BASE + timedelta(minutes=self.n + 1)
        if article_id is None:
            self.n += 1
            article_id = self.n
            self.conn.execute(
                "INSERT INTO articles (id, url, url_key, site, first_seen, last_seen, published, current_version, "
                "versions) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0)",
                (article_id, f"https://{site}/a/{article_id}", f"{site}/a/{article_id}", site, to_text(seen),
                 to_text(seen), published))
        n = self.conn.execute("SELECT versions FROM articles WHERE id = ?", (article_id,)).fetchone()[0] + 1
        self.conn.execute(
            "INSERT INTO versions (article_id, n, fetched_at, title, text, text_hash, title_hash, change) "
            "VALUES (?, ?, ?, ?, ?, '-', '-', ?)", (article_id, n, to_text(seen), title, text, "first" if n == 1 else "edit"))
        self.conn.execute("UPDATE articles SET current_version = ?, versions = ? WHERE id = ?", (n, n, article_id))
        return article_id

    def put(self, site: str, title: str, text: str, fp: Fingerprint, *, seen: datetime | None = None,
            published: str | None = None, article_id: int | None = None) -> tuple[int, Judgement]:
        """Store a text, judge it against everything stored before, record the judgement."""
        aid = self.row(site, title, text, seen=seen, published=published, article_id=article_id)
        first, pub, url = self.conn.execute("SELECT first_seen, published, url FROM articles WHERE id = ?",
                                            (aid,)).fetchone()
        when = self.corpus.origin(aid) or parse(pub) or parse(first)
        assert when is not None
        judgement = judge(Subject(aid, site, when, title, text, fp, tie_key(fp.exact_key, url)), self.corpus, self.cfg)
        self.corpus.record(aid, site, fp, judgement, when)
        return aid, judgement

    def index_only(self, site: str, title: str, text: str, fp: Fingerprint) -> int:
        """Store and index a text without judging it (filling a corpus fast)."""
        aid = self.row(site, title, text)
        self.corpus.record(aid, site, fp, Judgement(Verdict()), BASE)
        return aid

