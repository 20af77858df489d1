"""Feed parsing (feedparser) and the topic filter, on feeds we generate."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.analyse.topics import TopicMatcher
from ingest.config import TopicConfig
from ingest.demo.site import render_feed
from ingest.demo.stories import world
from ingest.sources.feeds import FeedError, parse_feed

MATCHER = TopicMatcher.from_config([TopicConfig("trump-kim-summit", ["summit", "Kim Jong[ -]?Un", "denucleari[sz]ation"])])
BASE = "http://news.test"


@pytest.mark.parametrize("kind", ["rss2", "atom", "rss1"])
def test_generated_feeds_parse(kind):
    stories = world()["harbour-times"]
    parsed = parse_feed(render_feed(kind, "harbour-times", BASE, stories).encode(), f"{BASE}/feed.xml", matcher=MATCHER)
    assert [c.url for c in parsed.candidates] == [f"{BASE}/{s.slug}.html" for s in stories]
    first = parsed.candidates[0]
    assert first.source == "feed" and first.feed_url == f"{BASE}/feed.xml"
    assert first.published == stories[0].published
    assert first.topics == ("trump-kim-summit",)
    assert parsed.candidates[-1].topics == ()  # the autumn fair
    assert parsed.ttl == (900.0 if kind == "rss2" else None)


def test_rss091_relative_links_and_entities():
    body = b"""<?xml version="1.0" encoding="iso-8859-1"?>
<rss version="0.91"><channel><title>Old feed</title><link>http://old.test/</link>
<item><title>Kim Jong Un arrives &amp; waves</title><link>/2018/06/kim.html</link>
<description>Caf\xe9 owners cheer the summit</description></item>
<item><title>No link here</title></item>
</channel></rss>"""
    parsed = parse_feed(body, "http://old.test/rss.xml", matcher=MATCHER)
    assert parsed.title == "Old feed"
    (c,) = parsed.candidates
    assert c.url == "http://old.test/2018/06/kim.html" and c.title == "Kim Jong Un arrives & waves"
    assert "Café" in c.summary and c.topics == ("trump-kim-summit",)


def test_summary_is_text_without_scripts_or_entities():
    """feedparser's sanitizer is off (speed), so the summary is reduced to text here: a script's
    body must not reach the topic match, and entities are decoded."""
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>Harbour news</title><link>http://t.test/a.html</link>
<description>&lt;p&gt;Don&amp;#39;t miss &lt;b&gt;the fair&lt;/b&gt;&lt;script&gt;var x = "summit";&lt;/script&gt;&lt;/p&gt;</description></item>
<item><title>Talks</title><link>http://t.test/b.html</link>
<description>&lt;style&gt;p{}&lt;/style&gt;Leaders meet at the &lt;i&gt;summit&lt;/i&gt; &amp;amp; talk</description></item>
</channel></rss>"""
    a, b = parse_feed(body, "http://t.test/rss.xml", matcher=MATCHER).candidates
    assert " ".join(a.summary.split()) == "Don't miss the fair"
    assert a.topics == ()  # "summit" only occurs inside the script
    assert " ".join(b.summary.split()) == "Leaders meet at the summit & talk"
    assert b.topics == ("trump-kim-summit",)


def test_atom_updated_date_and_guid():
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id><updated>2018-06-12T00:00:00Z</updated>
<entry><id>tag:a,2018:1</id><title>Denuclearisation talks</title><link rel="alternate" href="https://a.test/1"/>
<updated>2018-06-12T04:05:06+02:00</updated></entry></feed>"""
    (c,) = parse_feed(body, "https://a.test/atom").candidates
    assert c.guid == "tag:a,2018:1"
    assert c.published == datetime(2018, 6, 12, 2, 5, 6, tzinfo=UTC)


@pytest.mark.parametrize("body", [b"<html><body>not a feed</body></html>", b"<rss><channel><item>", b"\x89PNG\r\n\x1a\n", b""])
def test_not_a_feed_is_one_line_error(body):
    with pytest.raises(FeedError) as e:
        parse_feed(body, "https://x.test/feed")
    assert "\n" not in str(e.value)


def test_slightly_broken_feed_still_yields_entries():
    body = b"""<rss version="2.0"><channel><title>T</title>
<item><title>Summit & more</title><link>https://x.test/a</link></item></channel></rss>"""
    parsed = parse_feed(body, "https://x.test/feed")
    assert [c.url for c in parsed.candidates] == ["https://x.test/a"]
    assert parsed.warning


def test_topic_matcher_word_boundaries_and_regex():
    assert MATCHER.match("The SUMMIT opened") == ("trump-kim-summit",)
    assert MATCHER.match("Kim Jong-Un spoke") == ("trump-kim-summit",)
    assert MATCHER.match("complete denuclearisation") == ("trump-kim-summit",)
    assert MATCHER.match("summitry is not a word we match", None) == ()
    assert not MATCHER.keeps_everything and TopicMatcher.from_config([]).keeps_everything
