"""The page metadata ingest stores (title, author, canonical URL, site name, htmldate's date),
computed with trafilatura's own functions, in trafilatura's order.

Why not `bare_extraction(with_metadata=True)`: trafilatura's `extract_metadata` also finds
categories, tags and the licence, which ingest does not store, and always runs htmldate,
whose answer ingest only uses when neither the feed/sitemap nor the page's JSON-LD/meta
tags give the date (ingest/extract/dates.py). On the 1,383 benchmark pages that is 3.7 ms
of a worker's ~31 ms per page (docs/performance.md). This module is `extract_metadata`
minus those steps; the fields it does compute are trafilatura's, value for value
(tests/test_extract_metadata.py compares them).
"""
from __future__ import annotations

from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document as TrafilaturaDocument
from trafilatura.settings import set_date_params


def page_metadata(tree: HtmlElement, url: str, with_date: bool) -> TrafilaturaDocument:
    """trafilatura's metadata for `tree` (not modified); `date` only when `with_date`."""
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:  # as trafilatura: a one-word author is a handle
        meta.author = None
    try:
        meta = extract_meta_json(tree, meta)
    except Exception:  # as trafilatura: its JSON-LD reader has bugs on odd markup
        pass
    meta.title = meta.title or extract_title(tree)
    meta.author = meta.author or extract_author(tree)
    meta.url = meta.url or extract_url(tree, url)
    if with_date:  # trafilatura's default date search (extensive), as bare_extraction runs it
        meta.date = find_date(tree, **{**set_date_params(True), "url": meta.url})
    meta.sitename = _sitename(meta.sitename or extract_sitename(tree), meta.url)
    meta.clean_and_trim()
    return meta


def _sitename(name: str | None, url: str | None) -> str | None:
    """trafilatura's clean-up: no Twitter "@", capitalised unless a domain; else the URL's host."""
    if name:
        name = name.lstrip("@")
        if name and "." not in name and not name[0].isupper():
            name = name.title()
        return name
    if url and (m := META_URL.match(url)):
        return m[1]
    return name
