"""The writer in-process: pages stored in any order, flags that follow the index."""
from __future__ import annotations

from datetime import datetime, timezone

from versions_site import Story, render

from ingest.config import load_config
from ingest.extract.worker import extract
from ingest.records import Candidate, Page
from ingest.store import open_db
from ingest.store.writer import Writer
from ingest.topics import TopicMatcher


def page(url: str, html: str, when: datetime) -> Page:
    return Page(url, url, 200, {}, html.encode(), html, "utf-8", "header", False, when)


def store(w: Writer, url: str, story: Story, when: datetime):
    base, _, path = url.partition("/news")
    ex = extract(page(url, render(story, base, "/news" + path), when), Candidate(url=url, source="urls"),
                 TopicMatcher(()))
    return w.store(Candidate(url=url, source="urls"), ex)


def test_copy_stored_before_its_original_is_flagged_when_the_original_arrives(tmp_path):
    cfg = load_config(None, str(tmp_path / "s.db"))
    w = Writer(open_db(cfg.database), cfg)
    t = datetime(2018, 6, 12, 9, tzinfo=timezone.utc)
    copy = store(w, "https://copies.example/news/summit", Story(published="2018-06-12T12:00:00+08:00"), t)
    assert copy.flags == ()  # nothing to copy yet
    original = store(w, "https://harbour.example/news/summit", Story(), t)  # published three hours earlier
    assert original.flags == ()
    rows = w.conn.execute("SELECT a.url, f.subkind, o.url FROM flags f JOIN articles a ON a.id = f.article_id "
                          "JOIN articles o ON o.id = f.other_article_id WHERE f.kind = 'duplicate'").fetchall()
    edges = w.conn.execute("SELECT article_id, of_id FROM dup_edges").fetchall()
    assert rows == [("https://copies.example/news/summit", "exact", "https://harbour.example/news/summit")]
    assert edges == [(copy.article_id, original.article_id)]
    latest = w.conn.execute("SELECT duplicate_of, duplicate_kind FROM latest WHERE id = ?", (copy.article_id,)).fetchone()
    assert latest == ("https://harbour.example/news/summit", "exact")
    # a new version of the original does not flag the copy twice
    store(w, "https://harbour.example/news/summit", Story(title="Trump and Kim sign statement in Singapore"), t)
    assert w.conn.execute("SELECT count(*) FROM flags WHERE kind = 'duplicate'").fetchone()[0] == 1
