"""`ingest reextract`: stored HTML re-extracted with the installed extractor, recorded as such."""
from __future__ import annotations

import sqlite3

import pytest
from conftest import ingest_cli
from versions_site import Site, Story, replay

from ingest.text import text_hash


@pytest.fixture
def stored(tmp_path):
    with Site.threaded() as site:
        cfg, db = replay(site, tmp_path, [Story()])
        yield site, cfg, db


def age_extraction(db) -> str:
    """Make the stored text look like an older extractor's (a boilerplate line kept, another version)."""
    conn = sqlite3.connect(db)
    text = conn.execute("SELECT text FROM versions WHERE n = 1").fetchone()[0]
    old = text + "\nHome | World | Sport | Business"
    conn.execute("UPDATE versions SET text = ?, text_hash = ?, extractor = 'trafilatura 1.0.0' WHERE n = 1",
                 (old, text_hash(old)))
    conn.commit()
    conn.close()
    return text


def test_reextract_records_a_changed_extraction_once(stored):
    site, cfg, db = stored
    fresh = age_extraction(db)
    conn = sqlite3.connect(db)
    blobs = conn.execute("SELECT count(*) FROM blobs").fetchone()[0]
    sightings = conn.execute("SELECT count(*) FROM sightings").fetchone()[0]
    conn.close()

    r = ingest_cli("reextract", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "reextract: checked 1, unchanged 0, changed 1, suspect 0, failed 0" in r.stderr  # the summary
    assert f"changed {site.url('/2018/06/12/story.html')} v2 +0 -7" in r.stdout

    conn = sqlite3.connect(db)
    v1, v2 = conn.execute("SELECT n, change, blob_hash, fetched_at, text, extractor FROM versions ORDER BY n").fetchall()
    assert v2[1] == "reextract" and v2[4] == fresh and v2[5].startswith("trafilatura 2")
    assert v2[2] == v1[2] and v2[3] == v1[3]  # same HTML blob, same fetch time
    assert conn.execute("SELECT current_version, versions FROM articles").fetchone() == (2, 2)
    assert conn.execute("SELECT count(*) FROM blobs").fetchone()[0] == blobs  # nothing stored twice
    assert conn.execute("SELECT count(*) FROM sightings").fetchone()[0] == sightings  # nobody saw it again
    conn.close()

    r = ingest_cli("reextract", "--config", str(cfg))
    assert r.returncode == 0 and "checked 1, unchanged 1, changed 0" in r.stderr

    # a re-fetch of the same page afterwards is unchanged: the re-extraction is the current text
    r = ingest_cli("run", "--once", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT versions FROM articles").fetchone()[0] == 2
    assert conn.execute("SELECT outcome FROM sightings ORDER BY id DESC LIMIT 1").fetchone()[0] == "unchanged"
    conn.close()

    h = ingest_cli("history", "--config", str(cfg), site.url("/2018/06/12/story.html"))
    assert "*v2" in h.stdout and "reextract  +0 -7" in h.stdout


def test_reextract_since_and_usage(stored):
    site, cfg, db = stored
    age_extraction(db)
    r = ingest_cli("reextract", "--config", str(cfg), "--since", "2999-01-01")
    assert r.returncode == 0 and "checked 0" in r.stderr
    r = ingest_cli("reextract", "--config", str(cfg), "--since", "soon")
    assert r.returncode == 2
    r = ingest_cli("reextract", "--db", str(db.parent / "none.db"))
    assert r.returncode == 2 and "no database" in r.stderr
