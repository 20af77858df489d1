"""Work done in a worker process for one page: extraction, topic match, fingerprint.

All of it is CPU-bound and corpus-independent, so it runs off the event loop and off
the writer; the writer only does SQLite look-ups and inserts.
"""
from __future__ import annotations

import gc
import os
import select
import signal
import threading
import time
from dataclasses import replace
from datetime import datetime
from importlib.metadata import version

import trafilatura
import zstandard
from lxml.etree import ElementDefaultClassLookup
from lxml.html import HtmlComment, HtmlElement, HtmlEntity, HtmlProcessingInstruction
from trafilatura.meta import reset_caches
from trafilatura.settings import Document as TrafilaturaDocument
from trafilatura.utils import HTML_PARSER, load_html

from ingest.analyse.fingerprint import fingerprint, permutations
from ingest.analyse.topics import TopicMatcher
from ingest.records import Candidate, DateSource, Document, Extracted, Fingerprint, Page, ReextractJob, Skipped
from ingest.times import parse

from .dates import page_dates
from .language import detect_language
from .metadata import page_metadata

__all__ = ["EXTRACTOR", "extract", "extract_counted", "extract_document", "reextract", "run",
           "run_with"]

EXTRACTOR = f"trafilatura {version('trafilatura')}"
permutations()  # drawn now: in the forkserver (which preloads this module), once for all workers

# lxml.html's parser chooses the Python class of every element trafilatura touches by calling
# back into Python (HtmlElementClassLookup.lookup: ~5,000 calls per page). lxml's C-level
# default lookup gives the same classes, except that form controls become plain HtmlElement
# (trafilatura uses none of their extras): ~1 ms less per page, identical output on the
# 1,383 benchmark pages (docs/performance.md). This is trafilatura's parser, in this process.
HTML_CLASS_LOOKUP = ElementDefaultClassLookup(element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction,
                                              entity=HtmlEntity)
HTML_PARSER.set_element_class_lookup(HTML_CLASS_LOOKUP)



def extract_document(html: str, url: str, candidate: Candidate | None = None) -> Document | None:
    """trafilatura's text and metadata; deduplicate=False (a repeated paragraph is evidence, not noise)."""
    # A feed's or sitemap's date has a time and a zone; so do the publisher's JSON-LD and meta
    # tags (ingest/extract/dates.py); htmldate's is a guess and often a bare day, and costs
    # ~1.3 ms per page even in its quick mode: it only runs when nothing better is known.
    declared = page_dates(html)
    feed_date = candidate is not None and candidate.published is not None
    tree = load_html(html)  # parsed once: the metadata reads it, bare_extraction works on its own copy
    if tree is None:
        return None
    meta = page_metadata(tree, url, with_date=not (feed_date or declared.published))
    doc = trafilatura.bare_extraction(tree, url=url, deduplicate=False, include_comments=False, include_tables=True)
    if not isinstance(doc, TrafilaturaDocument) or not doc.text or not doc.text.strip():
        return None
    published, date_source = _published(candidate, declared.published, declared.published_source, meta.date)
    title = (meta.title or (candidate.title if candidate else None) or "").strip()
    return Document(
        title=title,
        text=doc.text.strip(),
        author=meta.author or None,
        published=published,
        modified=parse(declared.modified),
        language=doc.language or detect_language(doc.text),
        sitename=meta.sitename or None,
        canonical_url=meta.url or None,
        date_source=date_source,
        extractor=EXTRACTOR,
    )


def _published(candidate: Candidate | None, declared: str | None, declared_source: str | None,
               guessed: str | None) -> tuple[datetime | None, DateSource | None]:
    """The best publication date and where it came from: the feed's or sitemap's, the page's
    JSON-LD or meta tags, htmldate's guess."""
    if candidate is not None and candidate.published is not None:
        return candidate.published, "sitemap" if candidate.source == "sitemap" else "feed"
    if declared and (when := parse(declared)):
        return when, "jsonld" if declared_source == "jsonld" else "meta"
    when = parse(guessed)
    return when, "htmldate" if when else None


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

    Also starts the watch on the main process (see `exit_with`), and ignores SIGINT: a Ctrl-C in
    a terminal reaches the whole process group, and the main process, not each worker, decides
    what an interrupt means (it shuts the workers down; a worker's own KeyboardInterrupt would
    only print a traceback).
    """
    global _MATCHER
    _MATCHER = matcher
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked from birth (forkserver.py)
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


def reextract(job: ReextractJob) -> tuple[int, Extracted | Skipped]:
    """One stored page extracted again: decompress, decode as it was decoded, extract. A date
    that came from the feed or sitemap (not in the HTML) is kept."""
    if job.compressed is None:
        return os.getpid(), Skipped(job.url, "error", "the stored page is missing")
    body = zstandard.ZstdDecompressor().decompress(job.compressed)
    try:
        html = body.decode(job.charset or "utf-8", errors="replace")
    except LookupError:
        html = body.decode("utf-8", errors="replace")
    page = Page(url=job.url, final_url=job.final_url, status=job.status, headers={}, body=body, html=html,
                charset=job.charset, charset_source=job.charset_source, charset_mismatch=False,
                fetched_at=job.fetched_at)
    result = extract(page, Candidate(url=job.url, source="reextract"), TopicMatcher(()))
    if isinstance(result, Extracted) and job.date_source in ("feed", "sitemap"):
        result = replace(result, document=replace(result.document, published=job.published,
                                                  date_source=job.date_source))
    return os.getpid(), result


def run(page: Page, candidate: Candidate) -> tuple[int, Skipped | tuple[Document, Fingerprint, tuple[str, ...]]]:
    """One task: (worker pid, Skipped | (document, fingerprint, topics)). The page is not sent back."""
    return os.getpid(), run_with(page, candidate, _MATCHER if _MATCHER is not None else TopicMatcher(()))


def run_with(page: Page, candidate: Candidate, matcher: TopicMatcher
             ) -> Skipped | tuple[Document, Fingerprint, tuple[str, ...]]:
    """`run` with the matcher given (a cluster worker has no pool initializer), without the pid."""
    result = extract_counted(page, candidate, matcher)
    if isinstance(result, Extracted):
        return result.document, result.fingerprint, result.topics
    return result


def extract_counted(page: Page, candidate: Candidate, matcher: TopicMatcher) -> Extracted | Skipped:
    """`extract`, with trafilatura's caches reset every RESET_CACHES_EVERY pages: what a
    long-lived worker process (the pool's, or a cluster's) runs."""
    global _done
    result = extract(page, candidate, matcher)
    _done += 1
    if _done % RESET_CACHES_EVERY == 0:
        try:
            reset_caches()
        except Exception:  # pragma: no cover - best effort
            pass
    return result


def _warm_up() -> None:
    """Extract and fingerprint a small page once, where the forkserver preloads this module.

    trafilatura compiles some of its regular expressions on first use, and py3langid and the
    fingerprint build first-call state (~15 ms): done here, every worker inherits them instead of
    paying for them on its first real page."""
    paragraph = ("<p>This paragraph is here so that the extractor has a few sentences to read and the "
                 "language detector has enough words to decide on an answer.</p>")
    doc = extract_document(f"<html><head><title>Warm-up</title></head><body><article><h1>Warm-up</h1>"
                           f"{paragraph * 3}</article></body></html>", "http://localhost/warm-up.html")
    if doc is not None:
        fingerprint(doc.title, doc.text)


_warm_up()

# The forkserver imports this module before it forks the workers: the ~90,000 objects of the
# libraries above are never garbage, so they go to the permanent generation and the workers'
# collections never walk them again (gc time per page 0.22 -> 0.06 ms; the Python docs'
# advice for pre-fork servers).
gc.freeze()
