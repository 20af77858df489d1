"""Work done in a worker process for one page: extraction, topic match, fingerprint.

All of it is CPU-bound and corpus-independent, so it runs off the event loop and off
the writer; the writer only does SQLite look-ups and inserts.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version

import trafilatura

from ingest.analyse import fingerprint
from ingest.records import Candidate, Document, Extracted, Page
from ingest.topics import TopicMatcher

EXTRACTOR = f"trafilatura {version('trafilatura')}"


@dataclass(frozen=True)
class Skipped:
    """The page yielded nothing worth storing (empty extraction, or off topic)."""

    url: str
    reason: str  # "empty" | "off_topic" | "error"
    message: str = ""


def extract_document(html: str, url: str, candidate: Candidate | None = None) -> Document | None:
    """trafilatura with metadata; deduplicate=False (a repeated paragraph is evidence, not noise)."""
    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, deduplicate=False,
                                      include_comments=False, include_tables=True)
    if doc is None or not (doc.text or "").strip():
        return None
    # A feed's or sitemap's date has a time and a zone; htmldate's is often a bare day.
    if candidate is not None and candidate.published is not None:
        published, date_source = candidate.published.isoformat(), candidate.source
    else:
        published, date_source = doc.date, "htmldate" if doc.date else None
    title = (doc.title or (candidate.title if candidate else None) or "").strip()
    return Document(
        title=title,
        text=doc.text.strip(),
        author=doc.author or None,
        published=published,
        modified=None,
        language=doc.language or None,
        sitename=doc.sitename or None,
        canonical_url=doc.url if doc.url and doc.url != url else (doc.url or None),
        date_source=date_source,
        extractor=EXTRACTOR,
    )


def extract(page: Page, candidate: Candidate, matcher: TopicMatcher) -> Extracted | Skipped:
    """Page -> Extracted, or Skipped with the reason. Never raises (a bad page is one log line)."""
    try:
        doc = extract_document(page.html, page.final_url, candidate)
    except Exception as e:  # lxml and trafilatura can fail on hostile markup
        return Skipped(page.url, "error", f"{type(e).__name__}: {e}".splitlines()[0][:200])
    if doc is None:
        return Skipped(page.url, "empty", "no article text found")
    topics = tuple(dict.fromkeys(candidate.topics + matcher.match(doc.title, doc.text)))
    if not matcher.keeps_everything and not topics:
        return Skipped(page.url, "off_topic")
    return Extracted(page=page, document=doc, fingerprint=fingerprint(doc.title, doc.text), topics=topics)
