"""Article identity keys: URL folding, key priority, and what is never taken as identity."""
from __future__ import annotations

import pytest

from ingest.store.identity import Identity, identify, identity_keys, url_key

STORY = "example.com/news/a-story?a=1&b=2"


@pytest.mark.parametrize("url", [
    "https://www.example.com/news/a-story?utm_source=x&b=2&a=1#frag",
    "http://m.example.com/news/a-story/?b=2&a=1",
    "https://example.com/news/a-story.amp?amp=1&a=1&b=2",
    "https://example.com/news/a-story?outputType=amp&a=1&b=2&fbclid=abc",
    "https://EXAMPLE.com/news/a-story/amp?a=1&b=2",
])
def test_url_variants_fold_to_one_key(url):
    assert url_key(url) == STORY


def test_different_articles_keep_different_keys():
    assert url_key("https://example.com/news/a-story?id=1") != url_key("https://example.com/news/a-story?id=2")
    assert url_key("https://example.com/news/a-story") != url_key("https://example.com/news/b-story")
    assert url_key("https://example.com/a") != url_key("https://example.org/a")


def test_keys_by_kind_and_priority():
    ident = identify("https://example.com/s/abc", "https://www.example.com/2018/story?utm_medium=rss",
                     "https://example.com/2018/story-original", guid="  g-1 ", feed_url="https://feeds.example.com/rss")
    assert ident == Identity(url="example.com/s/abc", final="example.com/2018/story",
                             canonical="example.com/2018/story-original", guid="guid:feeds.example.com:g-1")
    # the canonical URL is the strongest name, the GUID the weakest
    assert [kind for kind, _ in ident.ordered()] == ["canonical", "final", "url", "guid"]
    # the listed URL's key comes first in keys() (it is articles.url_key of a new article)
    assert ident.keys()[0] == "example.com/s/abc"
    assert identity_keys("https://example.com/a", "https://example.com/a") == ["example.com/a"]


def test_canonical_on_another_site_or_front_page_is_ignored():
    assert identify("https://copies.net/x", canonical_url="https://example.com/original").canonical is None
    assert identify("https://example.com/x", canonical_url="https://www.example.com/").canonical is None
    assert identify("https://example.com/x", canonical_url="https://example.com/index.html").canonical is None
    assert identify("https://example.com/x", canonical_url="/relative/path").canonical is None
    assert identify("https://example.com/x", canonical_url="https://m.example.com/y").canonical == "example.com/y"


def test_guid_needs_its_feed():
    assert identify("https://example.com/x", guid="g").guid is None
    assert identify("https://example.com/x", guid="  ", feed_url="https://example.com/rss").guid is None
