"""The writer in-process: pages stored in any order, flags that follow the index."""
from __future__ import annotations

from datetime import UTC, datetime

from versions_site import PARAS, Story, render

from ingest.analyse.topics import TopicMatcher
from ingest.config import load_config
from ingest.extract.worker import extract
from ingest.records import Candidate, Page
from ingest.store.sqlite.writer import Writer


def page(url: str, html: str, when: datetime) -> Page:
    return Page(url, url, 200, {}, html.encode(), html, "utf-8", "header", False, when)


def store(w: Writer, url: str, story: Story, when: datetime):
    base, _, path = url.partition("/news")
    ex = extract(page(url, render(story, base, "/news" + path), when), Candidate(url=url, source="urls"),
                 TopicMatcher(()))
    with w.txn():
        return w.articles.store(Candidate(url=url, source="urls"), ex, None)


def test_copy_stored_before_its_original_is_flagged_when_the_original_arrives(tmp_path):
    cfg = load_config(None, str(tmp_path / "s.db"))
    w = Writer.open(cfg.database, cfg)
    t = datetime(2018, 6, 12, 9, tzinfo=UTC)
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


def _versions(w: Writer, article_id: int):
    return w.conn.execute("SELECT n, fetched_at, change, words_added, words_removed, substr(text, 1, 40) FROM versions "
                          "WHERE article_id = ? ORDER BY n", (article_id,)).fetchall()


def _fts(w: Writer, word: str) -> list[int]:
    return [r[0] for r in w.conn.execute(
        "SELECT v.article_id FROM versions_fts JOIN versions v ON v.id = versions_fts.rowid WHERE versions_fts MATCH ?",
        (word,))]


def test_a_capture_from_the_past_becomes_a_version_in_its_place_in_time(tmp_path):
    """WARC captures arrive after the daemon stored the article: each goes where its time says."""
    cfg = load_config(None, str(tmp_path / "s.db"))
    w = Writer.open(cfg.database, cfg)
    url = "https://harbour.example/news/summit"
    day = lambda h: datetime(2018, 6, 12, h, tzinfo=UTC)  # noqa: E731
    v_noon = Story(paras=PARAS + ["Markets in Seoul rose after the statement was signed on the island."])
    v_evening = Story(paras=PARAS + ["Markets in Seoul rose after the statement was signed.",
                                     "Kim returned to Pyongyang aboard an Air China jet on Wednesday."])
    now = store(w, url, v_evening, day(20))  # what the daemon saw
    sighting = w.conn.execute("SELECT count(*) FROM sightings WHERE version_n = 1").fetchone()[0]
    assert (now.outcome, now.version) == ("new", 1) and sighting == 1

    first = store(w, url, Story(), day(9))  # the morning capture: before everything stored
    assert (first.outcome, first.version, first.seen_version) == ("version", 2, 1)
    rows = _versions(w, now.article_id)
    assert [(n, at[:13], change) for n, at, change, *_ in rows] == [
        (1, "2018-06-12T09", "first"), (2, "2018-06-12T20", "edit")]
    assert rows[1][3:5] == (20, 0)  # the evening version now counts its words from the morning one
    # the sighting and flags of the daemon's fetch follow their version to its new number
    assert w.conn.execute("SELECT count(*) FROM sightings WHERE version_n = 2").fetchone()[0] == 1
    art = w.conn.execute("SELECT current_version, versions, first_seen FROM articles WHERE id = ?",
                         (now.article_id,)).fetchone()
    assert art == (2, 2, "2018-06-12T09:00:00+00:00")

    mid = store(w, url, v_noon, day(12))  # between the two
    assert (mid.outcome, mid.version, mid.seen_version) == ("version", 3, 2)
    assert [(n, at[:13]) for n, at, *_ in _versions(w, now.article_id)] == [
        (1, "2018-06-12T09"), (2, "2018-06-12T12"), (3, "2018-06-12T20")]
    # the current (evening) version stays current, in `latest` and in the full-text index, once
    assert w.conn.execute("SELECT version FROM latest WHERE id = ?", (now.article_id,)).fetchone()[0] == 3
    assert _fts(w, "Wednesday") == [now.article_id] and _fts(w, "island") == [now.article_id]
    assert _fts(w, "sentosa") == [now.article_id]

    again = store(w, url, v_noon, day(13))  # the noon text seen again at 13:00: a sighting of version 2
    assert (again.outcome, again.seen_version) == ("unchanged", 2)
    back = store(w, url, Story(), day(14))  # the morning text at 14:00: a flip-flop sighting of version 1
    assert (back.outcome, back.seen_version) == ("flipflop", 1)
    collapsed = store(w, url, Story(paras=PARAS[:1]), day(15))
    assert collapsed.outcome == "suspect"
    assert len(_versions(w, now.article_id)) == 3
    assert w.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
