"""Dates with their source (ingest/extract/dates.py) as extract_document records them."""
from __future__ import annotations

from datetime import UTC, datetime

from ingest.extract.dates import page_dates
from ingest.extract.worker import extract_document
from ingest.records import Candidate

BODY = ("<body><article><h1>Summit</h1><p>" + "The leaders met in Singapore on Tuesday for talks. " * 8
        + "</p></article></body></html>")


def test_jsonld_then_meta_then_nothing():
    jsonld = ('<script type="application/ld+json">{"@graph": [{"@type": "WebPage"}, {"@type": "NewsArticle", '
              '"datePublished": "2018-06-12T09:00:00+08:00", "dateModified": "2018-06-12T11:30:00+08:00"}]}</script>')
    meta = '<meta property="article:published_time" content="2018-06-11T20:00:00Z">'
    d = page_dates(f"<html><head>{jsonld}{meta}</head>")
    assert (d.published, d.published_source, d.modified, d.modified_source) == (
        "2018-06-12T09:00:00+08:00", "jsonld", "2018-06-12T11:30:00+08:00", "jsonld")
    d = page_dates(f"<html><head>{meta}<meta name='last-modified' content='2018-06-13'></head>")
    assert (d.published, d.published_source, d.modified, d.modified_source) == (
        "2018-06-11T20:00:00Z", "meta", "2018-06-13", "meta")
    assert page_dates('<meta name="date" content="last Tuesday"><script type="application/ld+json">{bad</script>') \
        == page_dates("")


def test_extract_document_prefers_the_feed_date_then_the_page():
    html = ('<html><head><title>Summit</title><meta property="article:published_time" '
            'content="2018-06-12T09:00:00+08:00"></head>' + BODY)
    doc = extract_document(html, "https://example.com/a")
    # stored in UTC whatever offset the page gave (ingest/times.py)
    assert (doc.published, doc.date_source) == (datetime(2018, 6, 12, 1, tzinfo=UTC), "meta")
    feed = Candidate(url="https://example.com/a", source="feed", published=datetime(2018, 6, 12, 1, tzinfo=UTC))
    doc = extract_document(html, "https://example.com/a", feed)
    assert (doc.published, doc.date_source) == (datetime(2018, 6, 12, 1, tzinfo=UTC), "feed")
