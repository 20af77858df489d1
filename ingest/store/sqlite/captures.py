"""Past captures: a page captured before the article's current version was fetched (a WARC
record, an old crawl) takes its place in the article's history, and later versions move up."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ingest.records import Extracted, Stored
from ingest.store.versions import Fetched, Seen, decide, word_changes
from ingest.times import to_text

if TYPE_CHECKING:
    from .articles import Articles, Current


def past_capture(arts: Articles, article_id: int, ex: Extracted, seen: datetime, cur: Current) -> Stored:
    """Place a past capture in time.

    Compared with the version that was live then (the last one fetched at or before it)
    and the next one, it is a sighting of either when equal, of another version when equal
    to that (a flip-flop), nothing when its extraction collapsed, and otherwise a new
    version between the two; the later versions move up one number so that `n` keeps
    following time, and the current version stays current. A past version is not judged
    for copies or indexed: the analysis index holds each article's current text. The
    article's first_seen moves back to the capture if earlier.
    """
    c = arts.conn
    at = to_text(seen)
    c.execute("UPDATE articles SET first_seen = ? WHERE id = ? AND first_seen > ?", (at, article_id, at))
    rows = c.execute(
        "SELECT n, text_hash, title_hash, title, text, change FROM versions WHERE article_id = ? AND n IN ("
        "(SELECT max(n) FROM versions WHERE article_id = ? AND fetched_at <= ?), "
        "(SELECT min(n) FROM versions WHERE article_id = ? AND fetched_at > ?)) ORDER BY n",
        (article_id, article_id, at, article_id, at)).fetchall()
    before, after = (rows[0], rows[1]) if len(rows) == 2 else (None, rows[0])
    doc, fp = ex.document, ex.fingerprint
    new = Fetched.of(fp.text_hash, fp.title_hash, doc.title, doc.text)
    for v in (before, after):
        if v is not None and (v[1], v[2]) == (new.text_hash, new.title_hash):
            return Stored(article_id, cur.url, "unchanged", cur.n, (), v[0])
    same = c.execute("SELECT n FROM versions WHERE article_id = ? AND text_hash = ? AND title_hash = ? LIMIT 1",
                     (article_id, new.text_hash, new.title_hash)).fetchone()
    if same:
        return Stored(article_id, cur.url, "flipflop", cur.n, (), same[0])
    live = before or after
    d = decide(new, Seen.of(*live[:5]), [], arts.rules)
    if d.outcome == "suspect":
        return Stored(article_id, cur.url, "suspect", cur.n)
    k = before[0] + 1 if before else 1
    _make_room(arts, article_id, k, cur.n)
    arts.insert_version(article_id, k, (d.change or "edit") if before else "first", ex, seen,
                        before[4] if before else "")
    # the next version's change is now counted from this one
    later = decide(Fetched.of(*after[1:5]), Seen.of(k, new.text_hash, new.title_hash, doc.title, doc.text), [],
                   arts.rules)
    added, removed = word_changes(doc.text, after[4])
    c.execute("UPDATE versions SET change = ?, words_added = ?, words_removed = ? WHERE article_id = ? AND n = ?",
              (after[5] if after[5] == "reextract" else later.change or "edit", added, removed, article_id, k + 1))
    return Stored(article_id, cur.url, "version", cur.n + 1, (), k)


def _make_room(arts: Articles, article_id: int, k: int, current_n: int) -> None:
    """Renumber versions n >= k (and the flags and sightings naming them) to n + 1.

    The full-text index holds the current version by rowid, and a trigger moves it when
    articles.current_version changes; it is bumped first (the trigger takes the current
    version out of the index while its n is still right), the rows are renumbered, then
    the current version goes back in under its new number.
    """
    c = arts.conn
    c.execute("UPDATE articles SET current_version = current_version + 1, versions = versions + 1 WHERE id = ?",
              (article_id,))
    # two steps through negative numbers: UNIQUE(article_id, n) is checked row by row
    c.execute("UPDATE versions SET n = -n - 1 WHERE article_id = ? AND n >= ?", (article_id, k))
    c.execute("UPDATE versions SET n = -n WHERE article_id = ? AND n < 0", (article_id,))
    for table in ("flags", "sightings"):
        c.execute(f"UPDATE {table} SET version_n = version_n + 1 WHERE article_id = ? AND version_n >= ?",
                  (article_id, k))
    arts.search_index(article_id, current_n + 1)
