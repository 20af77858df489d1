"""Work done in a worker process for one page: extraction, topic match, fingerprint.

All of it is CPU-bound and corpus-independent, so it runs off the event loop and off
the writer; the writer only does SQLite look-ups and inserts.
"""
from __future__ import annotations

import os
import select
import threading
import time
from importlib.metadata import version

import trafilatura
from trafilatura.meta import reset_caches

from ingest.analyse import fingerprint
from ingest.analyse.fingerprint import minhash_template
from ingest.records import Candidate, Document, Extracted, Page
from ingest.topics import TopicMatcher

from .dates import page_dates
from .skipped import Skipped  # re-exported: callers import it from here too

__all__ = ["EXTRACTOR", "Skipped", "extract", "extract_document", "run"]

EXTRACTOR = f"trafilatura {version('trafilatura')}"
minhash_template()  # imports datasketch now: in the forkserver (which preloads this module), once for all workers


# htmldate's extensive search (every date-like string of the page) is a third of trafilatura's
# time on a news page (docs/performance.md). It is only worth it when htmldate's answer is
# used: when neither the feed/sitemap nor the page's JSON-LD/meta tags give the date.
QUICK_DATES = {"extensive_search": False, "original_date": True}


def date_params(candidate: Candidate | None, declared) -> dict | None:
    """htmldate parameters: trafilatura's defaults when its date is needed, the quick search otherwise."""
    if (candidate is not None and candidate.published is not None) or declared.published:
        return dict(QUICK_DATES)
    return None


def extract_document(html: str, url: str, candidate: Candidate | None = None) -> Document | None:
    """trafilatura with metadata; deduplicate=False (a repeated paragraph is evidence, not noise)."""
    # A feed's or sitemap's date has a time and a zone; so do the publisher's JSON-LD and meta
    # tags (ingest/extract/dates.py); htmldate's is a guess and often a bare day.
    declared = page_dates(html)
    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, deduplicate=False,
                                      include_comments=False, include_tables=True,
                                      date_extraction_params=date_params(candidate, declared))
    if doc is None or not (doc.text or "").strip():
        return None
    if candidate is not None and candidate.published is not None:
        published, date_source = candidate.published.isoformat(), candidate.source
    elif declared.published:
        published, date_source = declared.published, declared.published_source
    else:
        published, date_source = doc.date, "htmldate" if doc.date else None
    title = (doc.title or (candidate.title if candidate else None) or "").strip()
    return Document(
        title=title,
        text=doc.text.strip(),
        author=doc.author or None,
        published=published,
        modified=declared.modified,
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


# --- the process-pool side (pool.py) -------------------------------------------------------
_MATCHER: TopicMatcher | None = None
RESET_CACHES_EVERY = 1000  # pages; trafilatura/htmldate keep LRU caches that otherwise grow with the run
_done = 0


def init_worker(matcher: TopicMatcher, main_pid: int) -> None:
    """ProcessPoolExecutor initializer: the matcher is sent once per worker, not per page.

    Also starts the watch on the main process: see `exit_with`.
    """
    global _MATCHER
    _MATCHER = matcher
    threading.Thread(target=exit_with, args=(main_pid,), name="exit-with-main", daemon=True).start()


def exit_with(main_pid: int) -> None:
    """Exit as soon as the main process is gone, however it went (kill -9 included).

    A worker's parent is the forkserver, not the main process, and neither of them notices
    the main process dying: without this, the workers of a killed daemon would live on
    (and keep the forkserver and resource tracker alive through the descriptors they hold).
    A pidfd becomes readable when its process exits; polling is the fallback where pidfds
    are not available (Linux < 5.3, other systems).
    """
    try:
        fd = os.pidfd_open(main_pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        select.select([fd], [], [])
    else:
        while _alive(main_pid):
            time.sleep(1.0)
    os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:  # no such process, or a reused pid owned by someone else
        return False
    return True


def warm() -> int:
    return os.getpid()


def run(page: Page, candidate: Candidate):
    """One task: (worker pid, Skipped | (document, fingerprint, topics)). The page is not sent back."""
    global _done
    result = extract(page, candidate, _MATCHER if _MATCHER is not None else TopicMatcher(()))
    _done += 1
    if _done % RESET_CACHES_EVERY == 0:
        try:
            reset_caches()
        except Exception:  # pragma: no cover - best effort
            pass
    if isinstance(result, Extracted):
        return os.getpid(), (result.document, result.fingerprint, result.topics)
    return os.getpid(), result
