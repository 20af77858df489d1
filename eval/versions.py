"""`python -m eval versions`: versions kept against distinct edits, on real version histories.

Three parts, all through the real extraction (`ingest.extract.worker.extract`, in worker
processes) and the real writer (`Writer.store_many` of ingest/store/sqlite/writer.py, a temporary SQLite file):

1. NewsEdits sample (../shared/corpora/copietje-newsedits-neardup): 75 real versions of 22
   articles. Each version's body is wrapped in a page (nav, h1, article, footer) and stored
   in order under one URL. Reference: distinct (title, text) states per article, with the
   text taken from the HTML independently of trafilatura and normalised like the store does.
2. Feed history (../shared/corpora/rss-arch-feed-history): 620 real polls of 5 feeds in
   January 2026, parsed by the real feed parser; each entry becomes a page of its headline
   and description, stored at the poll time. Reference: distinct (headline, description)
   states per GUID.
3. Storage per version on real pages (Mozilla Readability test pages, newspaper4k pages):
   bytes of text, raw HTML and zstd-compressed HTML per stored version.

Prints figures (docs/versions.md has them); exits 0, also when ../shared is absent.
"""
from __future__ import annotations

import argparse
import gzip
import html
import json
import multiprocessing
import re
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ingest.analyse.topics import TopicMatcher
from ingest.config import load_config
from ingest.extract.worker import extract
from ingest.records import Candidate, Extracted, Page, Skipped
from ingest.sources.feeds import parse_feed
from ingest.store.sqlite.tables import ZSTD_LEVEL
from ingest.store.sqlite.writer import Writer
from ingest.text import normalise_text

from .corpora import html_to_text, shared_dir

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ARCHIVE_PREFIX = "https://archive.is/newest/"


# --- shared helpers -----------------------------------------------------------------------
def make_page(url: str, body_html: str, fetched_at: datetime) -> Page:
    body = body_html.encode("utf-8")
    return Page(url=url, final_url=url, status=200, headers={}, body=body, html=body_html, charset="utf-8",
                charset_source="header", charset_mismatch=False, fetched_at=fetched_at)


def wrap(title: str, body: str) -> str:
    """An article page around a body: the navigation and footer are boilerplate extraction drops."""
    t = html.escape(title)
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{t}</title></head><body>'
            f"<nav><a href='/'>Home</a> | <a href='/news'>News</a> | <a href='/sport'>Sport</a></nav>"
            f"<main><article><h1>{t}</h1>{body}</article></main>"
            f"<footer><p>Copyright. All rights reserved.</p></footer></body></html>")


def _extract_one(item: tuple[Page, Candidate]):
    page, cand = item
    return extract(page, cand, TopicMatcher(()))


def extract_all(items: list[tuple[Page, Candidate]], workers: int) -> list[Extracted | Skipped]:
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        return list(pool.map(_extract_one, items, chunksize=8))


def new_writer(tmp: Path, name: str) -> Writer:
    cfg = load_config(None, str(tmp / f"{name}.db"))
    cfg.topics = []
    return Writer.open(cfg.database, cfg)


def text_of(fragment: str) -> str:
    """Paragraph text of an HTML fragment (block ends become breaks, as an extractor makes them)."""
    return html_to_text(fragment) if fragment.strip() else ""


def state(title: str, text: str) -> tuple[str, str]:
    return normalise_text(title or ""), normalise_text(text or "")


@dataclass
class Result:
    name: str
    articles_ref: int = 0  # articles (or GUIDs) in the reference
    observations: int = 0  # versions in the sample, or entry sightings in the polls
    distinct: int = 0  # distinct states summed over articles: what a perfect store keeps
    returns: int = 0  # observations that went back to an earlier, different state (flip-flops)
    articles: int = 0  # articles stored
    versions: int = 0  # versions stored
    outcomes: Counter = field(default_factory=Counter)
    changes: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def reference(states_by_key: dict[str, list[tuple[str, str]]], res: Result) -> None:
    for seq in states_by_key.values():
        res.articles_ref += 1
        res.observations += len(seq)
        seen: list[tuple[str, str]] = []
        for i, s in enumerate(seq):
            if s not in seen:
                seen.append(s)
            elif i and s != seq[i - 1]:
                res.returns += 1
        res.distinct += len(seen)


def tally_db(w: Writer, res: Result) -> None:
    c = w.conn
    res.articles = c.execute("SELECT count(*) FROM articles").fetchone()[0]
    res.versions = c.execute("SELECT count(*) FROM versions").fetchone()[0]
    res.changes.update(dict(c.execute("SELECT change, count(*) FROM versions GROUP BY 1").fetchall()))


# --- 1. NewsEdits ---------------------------------------------------------------------------
def newsedits(root: Path, tmp: Path, workers: int) -> Result | None:
    path = root / "corpora/copietje-newsedits-neardup/article_versions.jsonl"
    if not path.is_file():
        return None
    started = time.monotonic()
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows.sort(key=lambda r: (r["original_db"], str(r["entry_id"]), float(r["version"])))
    res = Result("NewsEdits sample (copietje)")
    states: dict[str, list] = defaultdict(list)
    items = []
    for i, r in enumerate(rows):
        key = f"{r['original_db']}/{r['entry_id']}"
        url = f"https://www.{r['original_db']}.example/news/{r['entry_id']}"
        states[key].append(state(r["title"], text_of(r["summary"])))
        page = make_page(url, wrap(r["title"], r["summary"]), T0 + timedelta(hours=i))
        items.append((page, Candidate(url=url, source="urls")))
    reference(states, res)
    w = new_writer(tmp, "newsedits")
    per_article: dict[str, list[str]] = defaultdict(list)
    for (_page, cand), ex in zip(items, extract_all(items, workers)):
        if isinstance(ex, Skipped):
            res.outcomes[f"skipped:{ex.reason}"] += 1
            continue
        stored = w.store_many([(cand, ex, None)])[0]
        res.outcomes[stored.outcome] += 1
        per_article[cand.url].append(stored.outcome)
    tally_db(w, res)
    for key, seq in states.items():
        url = f"https://www.{key.split('/')[0]}.example/news/{key.split('/')[1]}"
        kept = w.conn.execute("SELECT versions FROM articles WHERE url = ?", (url,)).fetchone()
        ref = len(set(seq))
        if kept is None or kept[0] != ref:
            why = " - a collapsed extraction held back" if "suspect" in per_article[url] else ""
            res.notes.append(f"{key}: {ref} distinct states, {kept[0] if kept else 0} versions kept "
                             f"({' '.join(per_article[url])}){why}")
    w.conn.close()
    res.seconds = time.monotonic() - started
    return res


# --- 2. feed history ------------------------------------------------------------------------
_POLL_TIME = re.compile(r"^(\d{8}T\d{6}Z)_")


def feed_history(root: Path, tmp: Path, workers: int, max_polls: int | None) -> list[Result]:
    base = root / "corpora/rss-arch-feed-history"
    if not base.is_dir():
        return []
    out = []
    for feed_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        started = time.monotonic()
        feed_url = f"https://feeds.example/{feed_dir.name}.xml"
        polls = []
        for f in sorted(feed_dir.glob("*.xml.gz"))[:max_polls]:
            at = datetime.strptime(_POLL_TIME.match(f.name).group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            try:
                parsed = parse_feed(gzip.decompress(f.read_bytes()), feed_url)
            except Exception:  # an empty snapshot: no entries this poll
                polls.append((at, []))
                continue
            cands = [replace(c, url=c.url.removeprefix(ARCHIVE_PREFIX)) for c in parsed.candidates if c.guid]
            polls.append((at, cands))
        res = Result(f"feed {feed_dir.name}")
        states: dict[str, list] = defaultdict(list)
        pages: dict[tuple, tuple[Page, Candidate]] = {}
        for at, cands in polls:
            for c in cands:
                states[c.guid].append(state(c.title, c.summary))
                key = (c.url, c.title or "", c.summary or "")
                if key not in pages:
                    body = f"<p>{html.escape(c.summary)}</p>" if c.summary else ""
                    pages[key] = (make_page(c.url, wrap(c.title or "", body), at), c)
        reference(states, res)
        keys = list(pages)
        extracted = dict(zip(keys, extract_all([pages[k] for k in keys], workers)))
        w = new_writer(tmp, feed_dir.name)
        articles_of_guid: dict[str, set[int]] = defaultdict(set)
        for at, cands in polls:
            batch = []
            for c in cands:
                ex = extracted[(c.url, c.title or "", c.summary or "")]
                if isinstance(ex, Skipped):
                    res.outcomes[f"skipped:{ex.reason}"] += 1
                    continue
                batch.append((c, replace(ex, page=replace(ex.page, fetched_at=at))))
            for (c, _), stored in zip(batch, w.store_many([(c, ex, None) for c, ex in batch])):
                res.outcomes[stored.outcome] += 1
                articles_of_guid[c.guid].add(stored.article_id)
        tally_db(w, res)
        split = sum(1 for ids in articles_of_guid.values() if len(ids) > 1)
        shared = len({a for ids in articles_of_guid.values() for a in ids}) < len(articles_of_guid)
        res.notes.append(f"{split} GUID(s) re-used for another story (stored as separate articles)")
        if shared:
            res.notes.append("some articles were reached through several GUIDs (same URL or canonical)")
        w.conn.close()
        res.seconds = time.monotonic() - started
        out.append(res)
    return out


# --- 3. storage per version -----------------------------------------------------------------
@dataclass
class Storage:
    pages: int
    versions: int
    text_bytes: list[int]
    html_bytes: list[int]
    zstd_bytes: list[int]
    db_bytes: int


def storage(root: Path, tmp: Path, workers: int) -> Storage | None:
    corpora = root / "corpora"
    files = sorted((corpora / "mozilla-readability-testpages/test-pages").glob("*/source.html"))
    files += sorted((corpora / "newspaper4k-tests/current/html").glob("*.html"))
    if not files:
        return None
    items = []
    for i, f in enumerate(files):
        url = f"https://{f.parent.name if f.name == 'source.html' else f.stem}.example/article"
        items.append((make_page(url, f.read_text(errors="replace"), T0 + timedelta(minutes=i)),
                      Candidate(url=url, source="urls")))
    w = new_writer(tmp, "storage")
    for (_page, cand), ex in zip(items, extract_all(items, workers)):
        if isinstance(ex, Extracted):
            w.store_many([(cand, ex, None)])
    c = w.conn
    rows = c.execute("SELECT length(CAST(v.text AS BLOB)), b.size, length(b.data) FROM versions v "
                     "JOIN blobs b ON b.hash = v.blob_hash").fetchall()
    c.execute("VACUUM")
    db_bytes = c.execute("PRAGMA page_count").fetchone()[0] * c.execute("PRAGMA page_size").fetchone()[0]
    c.close()
    return Storage(len(files), len(rows), [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], db_bytes)


# --- report -------------------------------------------------------------------------------
def print_result(r: Result, verbose: bool) -> None:
    print(f"\n{r.name}  ({r.seconds:.1f} s)")
    print(f"  reference: {r.articles_ref} articles/GUIDs, {r.observations} observations, {r.distinct} distinct "
          f"states (= {r.distinct - r.articles_ref} edits), {r.returns} returns to an earlier state")
    print(f"  store:     {r.articles} articles, {r.versions} versions kept "
          f"({r.versions - r.articles} edits); versions/distinct = {r.versions / max(r.distinct, 1):.3f}")
    print("  outcomes:  " + ", ".join(f"{k} {v}" for k, v in sorted(r.outcomes.items())))
    print("  changes:   " + ", ".join(f"{k} {v}" for k, v in sorted(r.changes.items())))
    for note in r.notes if verbose else r.notes[:12]:
        print(f"    {note}")


def print_storage(s: Storage) -> None:
    def stats(xs):
        return f"mean {statistics.mean(xs):>9,.0f}  median {statistics.median(xs):>9,.0f}"

    print(f"\nStorage per version: {s.versions} real pages stored (of {s.pages}), one version each")
    print(f"  text (UTF-8)        {stats(s.text_bytes)} bytes")
    print(f"  raw HTML            {stats(s.html_bytes)} bytes")
    print(f"  HTML, zstd level {ZSTD_LEVEL:<2} {stats(s.zstd_bytes)} bytes  "
          f"(ratio {sum(s.html_bytes) / max(sum(s.zstd_bytes), 1):.1f}x)")
    print(f"  whole database      {s.db_bytes / max(s.versions, 1):>14,.0f} bytes per version after VACUUM "
          f"(text, HTML, FTS and analysis index)")


def run(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval versions", description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2, help="extraction processes (default 2)")
    ap.add_argument("--max-polls", type=int, default=None, help="only the first N polls of each feed")
    ap.add_argument("-v", "--verbose", action="store_true", help="every mismatch note")
    args = ap.parse_args(argv)
    root = shared_dir()
    if root is None:
        print("../shared/corpora not found: nothing to evaluate")
        return 0
    with tempfile.TemporaryDirectory(prefix="ingest-eval-versions-") as tmp:
        tmp = Path(tmp)
        ne = newsedits(root, tmp, args.workers)
        if ne:
            print_result(ne, args.verbose)
        feeds = feed_history(root, tmp, args.workers, args.max_polls)
        for r in feeds:
            print_result(r, args.verbose)
        if feeds:
            total = Result("feed history, all feeds")
            for r in feeds:
                for f in ("articles_ref", "observations", "distinct", "returns", "articles", "versions", "seconds"):
                    setattr(total, f, getattr(total, f) + getattr(r, f))
                total.outcomes.update(r.outcomes)
                total.changes.update(r.changes)
            print_result(total, False)
        st = storage(root, tmp, args.workers)
        if st:
            print_storage(st)
    return 0
