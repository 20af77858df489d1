"""`ingest history URL`: versions with word diffs, found by any URL form, text and JSON."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
from conftest import ingest_cli
from versions_site import PARAS, Site, Story, replay

from ingest.read.history import hunks
from ingest.store.versions import word_ops

ADDED = "On Wednesday the White House said the exercises would be suspended."


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("history")
    with Site.threaded() as site:
        first = Story()
        edited = replace(first, paras=PARAS + [ADDED])
        retitled = replace(edited, title="Trump says Kim will denuclearize after Singapore summit")
        cfg, db = replay(site, tmp, [first, edited, edited, retitled, edited])
        yield site, cfg


def test_history_text(stored):
    site, cfg = stored
    url = site.url("/2018/06/12/story.html")
    r = ingest_cli("history", "--config", str(cfg), url)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.splitlines()[0] == url
    assert "3 version(s), current v3" in out
    assert "sightings: flipflop 1, new 1, unchanged 1, version 2" in out
    assert " v1  " in out and " v2  " in out and "*v3  " in out
    assert "edit  +11 -0" in out and f"{{+{ADDED}+}}" in out
    assert "title: [-Trump and Kim sign statement at Singapore summit-] " \
           "{+Trump says Kim will denuclearize after Singapore summit+}" in out


def test_history_json_and_url_variants(stored):
    site, cfg = stored
    variant = site.url("/2018/06/12/story.html/?utm_source=rss&utm_medium=feed#comments")
    r = ingest_cli("history", "--config", str(cfg), "--format", "json", variant)
    assert r.returncode == 0, r.stderr
    h = json.loads(r.stdout)
    assert [(v["n"], v["change"], v["current"]) for v in h["versions"]] == [
        (1, "first", False), (2, "edit", False), (3, "title", True)]
    assert h["versions"][0]["diff"] == []
    assert ["add", ADDED] in h["versions"][1]["diff"]
    assert h["versions"][1]["words_added"] == 11 and h["versions"][1]["fetched_at"]
    assert h["sightings"]["flipflop"] == 1


def test_history_unknown_url_and_missing_db(stored, tmp_path):
    site, cfg = stored
    r = ingest_cli("history", "--config", str(cfg), site.url("/never-stored.html"))
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "no article stored under" in r.stderr
    r = ingest_cli("history", "--db", str(tmp_path / "none.db"), "http://example.com/a")
    assert r.returncode == 2 and "no database" in r.stderr
    r = ingest_cli("history", "--config", str(cfg), "--format", "xml", "http://example.com/a")
    assert r.returncode == 2


def test_hunks_keep_changes_with_context():
    old = " ".join(f"w{i}" for i in range(40))
    new = old.replace("w5 ", "w5 NEW ").replace("w30", "W30")
    lines = hunks(word_ops(old, new), context=3)
    assert lines == ["... w3 w4 w5 {+NEW+} w6 w7 w8 ...", "... w27 w28 w29 [-w30-] {+W30+} w31 w32 w33 ..."]
    assert hunks(word_ops(old, old)) == []
