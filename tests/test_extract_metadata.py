"""ingest's extraction equals trafilatura's own, field for field, while doing less work:
page_metadata (ingest/extract/metadata.py) against trafilatura's extract_metadata, and the
worker's C-level lxml class lookup against lxml.html's Python one."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import trafilatura
from lxml.etree import tostring
from lxml.html import HtmlElementClassLookup
from trafilatura.metadata import extract_metadata
from trafilatura.utils import HTML_PARSER, load_html

from ingest.extract import worker
from ingest.extract.metadata import page_metadata
from ingest.records import Candidate
from ingest.times import parse

STORY = "".join(f"<p>Paragraph {i}: the leaders met in Singapore on Tuesday for talks about the peninsula, "
                f"officials said, and the statement was signed after four hours.</p>" for i in range(8))
HEADS = {
    "opengraph": '<meta property="og:title" content="Summit ends"><meta property="og:site_name" content="@wirenews">'
                 '<meta name="author" content="Jane Roe"><link rel="canonical" href="https://news.example/a/1">',
    "jsonld": '<title>Summit | Paper</title><script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle", '
              '"headline": "Leaders meet", "author": {"@type": "Person", "name": "Kim Lee"}, '
              '"publisher": {"@type": "Organization", "name": "the daily paper"}}</script>',
    "one-word author, byline in the page": '<title>Talks</title><meta name="author" content="admin">',
    "nothing declared": "",
}
BYLINE = '<div class="byline">By Alex Smith and Sam Park</div>'
DATED = '<p class="date">Published 12 June 2018</p>'


def page(head: str, extra: str = "") -> str:
    return (f"<html><head>{head}</head><body><header><h1>Summit</h1>{BYLINE}</header>"
            f"<article>{extra}{STORY}</article><form><input name=q><label>Search</label></form></body></html>")


FIELDS = ("title", "author", "url", "sitename", "date")


@pytest.mark.parametrize("name", list(HEADS))
def test_page_metadata_equals_trafilatura_field_for_field(name):
    html, url = page(HEADS[name], DATED), "https://news.example/2018/06/12/summit.html"
    theirs = extract_metadata(load_html(html), url)
    tree = load_html(html)
    before = tostring(tree)
    ours = page_metadata(tree, url, with_date=True)
    assert [getattr(ours, f) for f in FIELDS] == [getattr(theirs, f) for f in FIELDS]
    assert ours.title and ours.author and ours.sitename  # each page exercises the fields
    assert tostring(tree) == before  # the tree is read, never changed: extraction runs on it next
    assert page_metadata(load_html(html), url, with_date=False).date is None  # no htmldate when the date is known


def test_extract_document_matches_trafilatura_with_metadata():
    url = "https://news.example/2018/06/12/summit.html"
    for head in HEADS.values():
        html = page(head, DATED)
        ref = trafilatura.bare_extraction(html, url=url, with_metadata=True, deduplicate=False,
                                          include_comments=False, include_tables=True)
        doc = worker.extract_document(html, url)
        assert (doc.text, doc.title, doc.author, doc.sitename, doc.canonical_url) == \
            (ref.text.strip(), ref.title, ref.author, ref.sitename, ref.url)
        # nothing better known: htmldate's date (a day: midnight UTC)
        assert (doc.published, doc.date_source) == (parse(ref.date), "htmldate")
        feed = Candidate(url=url, source="feed", published=datetime(2018, 6, 12, 1, tzinfo=UTC))
        assert worker.extract_document(html, url, feed).date_source == "feed"


def test_c_level_class_lookup_gives_the_same_extraction():
    """The worker swaps lxml.html's Python class lookup for the C one: same texts, and it is in place."""
    html = page(HEADS["opengraph"], "<table><tr><td>Votes</td><td>12</td></tr></table>"
                "<select><option>a</option></select><textarea>note</textarea>")
    url = "https://news.example/a/1"
    fast = worker.extract_document(html, url)
    HTML_PARSER.set_element_class_lookup(HtmlElementClassLookup())
    try:
        slow = worker.extract_document(html, url)
        assert type(load_html(html).find(".//input")).__name__ == "InputElement"
    finally:
        HTML_PARSER.set_element_class_lookup(worker.HTML_CLASS_LOOKUP)
    assert fast == slow and "Votes" in fast.text
    assert type(load_html(html).find(".//input")).__name__ == "HtmlElement"
