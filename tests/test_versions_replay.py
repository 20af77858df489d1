"""Replay one story through a sequence of pages with the real pipeline and a real SQLite file.

Each step changes what the local site serves, polls the feed once (`run_once`: every
listed article is re-fetched) and checks the exact number of versions, which version is
current and what the sighting says.
"""
from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace

import pytest
from conftest import write_config
from versions_site import PARAS, TITLE, Site, Story

from ingest.config import load_config
from ingest.run.daemon import run_once


@pytest.fixture
def site():
    with Site.threaded() as s:
        yield s


def poll(cfg) -> None:
    asyncio.run(run_once(cfg))


def state(db) -> dict:
    conn = sqlite3.connect(db)
    try:
        articles = conn.execute("SELECT id, versions, current_version FROM articles").fetchall()
        last = conn.execute("SELECT outcome, version_n, guid, url FROM sightings ORDER BY id DESC LIMIT 1").fetchone()
        return {"articles": len(articles), "versions": articles[0][1] if articles else 0,
                "current": articles[0][2] if articles else 0, "sighting": last,
                "rows": conn.execute("SELECT count(*) FROM versions").fetchone()[0],
                "suspect": conn.execute("SELECT count(*) FROM flags WHERE kind = 'extraction_suspect'").fetchone()[0]}
    finally:
        conn.close()


def test_replay_story_through_edits_flipflop_collapse_and_new_names(site, tmp_path):
    db = tmp_path / "news.db"
    cfg = load_config(write_config(tmp_path / "c.yaml", db, [site.feed_url], topics=[]))
    story = Story()
    site.pages["/2018/06/12/trump-kim-sign-statement.html"] = story
    site.entries = [("story-1", "/2018/06/12/trump-kim-sign-statement.html", TITLE)]

    def step(new_story: Story | None, versions: int, current: int, outcome: str, seen: int | None):
        if new_story is not None:
            site.pages["/2018/06/12/trump-kim-sign-statement.html"] = new_story
        poll(cfg)
        s = state(db)
        assert (s["articles"], s["versions"], s["rows"], s["current"]) == (1, versions, versions, current), s
        assert s["sighting"][:2] == (outcome, seen), s
        return s

    step(None, 1, 1, "new", 1)
    step(None, 1, 1, "unchanged", 1)
    # whitespace, markup and typography only: more line breaks, curly quotes instead of straight
    ws = replace(story, ws="\n\n  \n", paras=[p.replace("both sides", "both  sides").replace('"complete', "\u201ccomplete")
                                             .replace('denuclearization"', "denuclearization\u201d")
                                             .replace(" - ", " \u2014 ") for p in PARAS])
    step(ws, 1, 1, "unchanged", 1)
    # boilerplate only: navigation, footer and a "most read" box change; extraction drops them
    step(replace(story, nav="Home | News | Opinion | Video | Weather", footer="(c) Harbour Times 2018",
                 sidebar="Ten things to do in Singapore"), 1, 1, "unchanged", 1)
    # a real edit: a sentence added
    edited = replace(story, paras=PARAS + ["On Wednesday the White House said the exercises would be suspended."])
    s = step(edited, 2, 2, "version", 2)
    # a headline change on the edited text
    retitled = replace(edited, title="Trump says Kim will denuclearize after Singapore summit")
    step(retitled, 3, 3, "version", 3)
    # A -> B -> A: the page goes back to version 2 (text and title): a sighting, no version, v3 stays current
    step(edited, 3, 3, "flipflop", 2)
    step(retitled, 3, 3, "unchanged", 3)
    # a collapsed extraction: one short paragraph where the article was
    collapsed = replace(retitled, paras=["Subscribe to continue reading."])
    s = step(collapsed, 3, 3, "suspect", None)
    assert s["suspect"] == 1
    step(retitled, 3, 3, "unchanged", 3)

    # the same story under a new GUID and a new headline-derived URL, whose page carries a
    # canonical link to the original URL: the same article, no new version
    moved = replace(retitled, canonical="/2018/06/12/trump-kim-sign-statement.html")
    site.pages["/2018/06/12/trump-says-kim-will-denuclearize.html"] = moved
    site.entries = [("story-1-updated", "/2018/06/12/trump-says-kim-will-denuclearize.html", retitled.title)]
    s = step(None, 3, 3, "unchanged", 3)
    assert s["sighting"][2:] == ("story-1-updated", site.url("/2018/06/12/trump-says-kim-will-denuclearize.html"))

    # a new URL that redirects to the known final URL (no canonical link involved)
    site.pages["/s/abc123"] = "/2018/06/12/trump-kim-sign-statement.html"
    site.entries = [("story-1-short", "/s/abc123", retitled.title)]
    site.pages["/2018/06/12/trump-kim-sign-statement.html"] = replace(retitled, canonical="/elsewhere/none.html")
    step(None, 3, 3, "unchanged", 3)

    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT n, change, words_added, words_removed FROM versions ORDER BY n").fetchall()
    assert rows[0][:2] == (1, "first") and rows[0][2] > 100
    assert rows[1] == (2, "edit", 11, 0)
    assert rows[2] == (3, "title", 4, 4)  # the headline is the text's first line: 4 of its words changed
    # every poll left a sighting, with the GUID and entry title the feed gave
    outcomes = [r[0] for r in conn.execute("SELECT outcome FROM sightings ORDER BY id")]
    assert outcomes == ["new", "unchanged", "unchanged", "unchanged", "version", "version", "flipflop", "unchanged",
                        "suspect", "unchanged", "unchanged", "unchanged"]
    guids = {r[0] for r in conn.execute("SELECT guid FROM sightings")}
    assert guids == {"story-1", "story-1-updated", "story-1-short"}
    # one HTML blob per distinct page fetched (versions and the suspect page), none stored twice
    blobs = conn.execute("SELECT count(*), count(DISTINCT hash) FROM blobs").fetchone()
    assert blobs[0] == blobs[1]
    assert conn.execute("SELECT count(DISTINCT blob_hash) FROM versions").fetchone()[0] == 3
    # dates keep their source (the page's meta tag here) and are stored in UTC
    assert {r for r in conn.execute("SELECT published, date_source FROM versions")} == {
        ("2018-06-12T01:00:00+00:00", "meta")}
    conn.close()


def test_reused_guid_for_another_story_is_a_new_article(site, tmp_path):
    db = tmp_path / "news.db"
    cfg = load_config(write_config(tmp_path / "c.yaml", db, [site.feed_url], topics=[]))
    site.pages["/gas.html"] = Story(title="European gas prices fall", paras=[
        "European natural gas prices fell sharply on Monday as mild weather across the continent reduced heating "
        "demand and storage levels remained comfortably above their seasonal average, traders in Amsterdam said.",
        "Benchmark Dutch front-month contracts dropped to their lowest level since the spring, extending a slide "
        "that began when liquefied natural gas cargoes from the United States started arriving in larger numbers."])
    site.entries = [("WP-WSJ-1", "/gas.html", "European gas prices fall")]
    poll(cfg)
    # the feed re-uses the GUID for a different story at a different URL
    site.pages["/ski.html"] = Story(title="Fire at Swiss ski resort kills dozens", paras=[
        "A fire broke out overnight in a crowded bar at a Swiss ski resort in the canton of Valais, killing dozens "
        "of people celebrating the new year and injuring more than a hundred others, police said on Thursday.",
        "Rescue teams worked through the night while hospitals across the region took in the injured; several "
        "victims were flown by helicopter to burns units in Lausanne, Geneva and Zurich, the authorities added."])
    site.entries = [("WP-WSJ-1", "/ski.html", "Fire at Swiss ski resort kills dozens")]
    poll(cfg)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT url, versions FROM articles ORDER BY id").fetchall() == [
        (site.url("/gas.html"), 1), (site.url("/ski.html"), 1)]
    # the GUID now names the newer story
    assert conn.execute("SELECT a.url FROM url_keys k JOIN articles a ON a.id = k.article_id "
                        "WHERE k.key LIKE 'guid:%'").fetchone()[0] == site.url("/ski.html")
    conn.close()
