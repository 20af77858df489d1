"""`python -m eval extraction`: ingest's extraction against trafilatura's own, field by field.

ingest does not call `bare_extraction(with_metadata=True)`: it parses the page once, computes
only the metadata it stores with trafilatura's functions (ingest/extract/metadata.py) and gives
trafilatura's parser lxml's C-level element classes (ingest/extract/worker.py). Neither is
meant to change anything. On every HTML page of the shared corpora, decoded as the fetcher
decodes it, this compares `worker.extract_document` (no feed date, so htmldate runs where
ingest would run it) with trafilatura's `bare_extraction(with_metadata=True)` run in processes
that never import the worker: text, title, author, site name, canonical URL, and the date
where ingest takes htmldate's. It also prints the CPU per page of each. Exit 1 on a difference.
"""
from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC

from .corpora import page_files, read_page

FIELDS = ("text", "title", "author", "sitename", "url", "date")


def _reference(path: str) -> tuple[tuple | None, float]:
    """trafilatura's own extraction with metadata (its default date search), and its CPU seconds."""
    import trafilatura  # noqa: PLC0415

    from ingest.fetch.charset import decode  # noqa: PLC0415

    html = decode(read_page(path), "text/html").text
    t0 = time.process_time()
    doc = trafilatura.bare_extraction(html, url=_url(path), with_metadata=True, deduplicate=False,
                                      include_comments=False, include_tables=True)
    cpu = time.process_time() - t0
    if doc is None or not (doc.text or "").strip():
        return None, cpu
    return (doc.text.strip(), (doc.title or "").strip(), doc.author or None, doc.sitename or None, doc.url or None,
            doc.date), cpu


def _ingest(path: str) -> tuple[tuple | None, float, float]:
    """ingest's extraction step on the same text (date: htmldate's only where ingest uses it),
    its CPU seconds, and its CPU seconds when the feed gave the date (the common case)."""
    from datetime import datetime  # noqa: PLC0415

    from ingest.extract.worker import extract_document  # noqa: PLC0415
    from ingest.fetch.charset import decode  # noqa: PLC0415
    from ingest.records import Candidate  # noqa: PLC0415

    html, url = decode(read_page(path), "text/html").text, _url(path)
    t0 = time.process_time()
    doc = extract_document(html, url)
    cpu = time.process_time() - t0
    feed = Candidate(url=url, source="feed", published=datetime(2018, 6, 12, tzinfo=UTC))
    t0 = time.process_time()
    extract_document(html, url, feed)
    cpu_feed_dated = time.process_time() - t0
    if doc is None:
        return None, cpu, cpu_feed_dated
    # htmldate gives a day ("2018-06-12"), which the record holds as midnight UTC of that day
    date = (doc.published.date().isoformat() if doc.date_source == "htmldate" and doc.published
            else "(from the page's markup)")
    return (doc.text, doc.title, doc.author, doc.sitename, doc.canonical_url, date), cpu, cpu_feed_dated


def _url(path: str) -> str:
    return "http://127.0.0.1:8000/" + path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1]


def _all(fn, files: list[str], workers: int) -> list[tuple]:
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters: the reference never sees the worker module
    with ProcessPoolExecutor(workers, mp_context=ctx) as ex:
        return list(ex.map(fn, files, chunksize=4))


def run(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval extraction", description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, help="pages at most (default: all)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    files = [str(f) for f in page_files(args.limit)]
    if not files:
        print("shared corpora not found (../shared/corpora); nothing to compare")
        return 0
    t0 = time.perf_counter()
    ref = _all(_reference, files, args.workers)
    ours = _all(_ingest, files, args.workers)
    differ: dict[str, list[str]] = {f: [] for f in FIELDS}
    same_dates = dated = 0
    for path, (r, _), (o, *_) in zip(files, ref, ours):
        if (r is None) != (o is None):
            differ["text"].append(path)
            continue
        if r is None:
            continue
        for name, a, b in zip(FIELDS, r, o):
            if name == "date" and b == "(from the page's markup)":
                continue
            dated += name == "date"
            if a != b:
                differ[name].append(path)
            else:
                same_dates += name == "date"
    extracted = sum(1 for r, _ in ref if r is not None)
    cpu_ref = 1000 * sum(c for _, c in ref) / len(files)
    cpu_ours = 1000 * sum(c for _, c, _ in ours) / len(files)
    cpu_dated = 1000 * sum(c for _, _, c in ours) / len(files)
    print(f"{len(files)} pages, {extracted} with text for trafilatura, {sum(1 for o, *_ in ours if o is not None)} for ingest "
          f"({time.perf_counter() - t0:.0f} s)")
    for name in FIELDS:
        extra = f" (htmldate's date on the {dated} pages where ingest uses it: {same_dates} equal)" if name == "date" else ""
        print(f"  {name:9} differs on {len(differ[name])} pages{extra}")
        for path in differ[name][:5]:
            print(f"      {path}")
    print(f"CPU per page: trafilatura bare_extraction(with_metadata=True) {cpu_ref:.1f} ms, "
          f"ingest's extract_document {cpu_ours:.1f} ms ({cpu_ours / cpu_ref - 1:+.0%}), "
          f"{cpu_dated:.1f} ms when the feed gives the date ({cpu_dated / cpu_ref - 1:+.0%})")
    bad = sum(len(v) for v in differ.values())
    print("OK: identical fields" if not bad else f"FAIL: {bad} differences")
    return 1 if bad else 0
