"""`python -m bench.scale`: the whole store path's cost per article at 1k, 10k and 100k stored articles.

What the writer thread does for each extracted page, timed end to end: identity look-ups
(url_keys), the new article or version rows, the zstd blob, full-text index (FTS triggers),
duplicate/garble judgement against the corpus and the analysis index update, the sighting
and the commit: `Writer.store_many` in batches of 32, as the pipeline calls it, on a
connection opened as the store opens it (`ingest.store.sqlite.writer.Writer.open`). Fetching
and extraction are not included (the articles are pre-extracted synthetic pages,
ingest/analyse/synth.py; fingerprints computed beforehand, as the worker pool does).

The corpus is filled in bulk the way bench/analysis.py does (articles, versions, analysis
index; every 50th filler a real generated article), plus one url_keys row and one
sighting per article so every B-tree the store path touches has the corpus's size.
At each size the sample is 80% new articles, 10% near-copies of stored ones (the
expensive verification path) and 10% re-fetches of stored articles (unchanged).
Target: per-article p50 at 100k within 1.5x of the figure at 1k.

`--end-to-end` also times the whole ingest of the same kind of sample at each size: the
real Pipeline (2 extraction worker processes, the store's batching task and writer thread) given the
pages as a WARC backfill gives them (no HTTP: fetching costs the same at any corpus size),
wall time per article from the first submit to the last store, the pool already warm.
"""
from __future__ import annotations

import argparse
import asyncio
import html
import logging
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.analysis import Bench, pct
from ingest.analyse.fingerprint import fingerprint
from ingest.analyse.synth import article
from ingest.config import Config
from ingest.records import Candidate, Document, Extracted, Page
from ingest.run.pipeline import Pipeline
from ingest.store import open_store
from ingest.store.sqlite.writer import Writer

BATCH = 32
WARM = 100  # pages ingested before timing the end-to-end run


def page_for(url: str, title: str, text: str) -> Extracted:
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n"))
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
           f"<body><nav>Home | World</nav><article><h1>{html.escape(title)}</h1>{paras}</article>"
           f"<footer>(c) 2018</footer></body></html>")
    page = Page(url=url, final_url=url, status=200, headers={}, body=doc.encode(), html=doc, charset="utf-8",
                charset_source="header", charset_mismatch=False, fetched_at=datetime.now(UTC))
    document = Document(title=title, text=text, published=datetime(2018, 6, 12, 8, tzinfo=UTC),
                        language="en", extractor="bench")
    return Extracted(page=page, document=document, fingerprint=fingerprint(title, text))


class Scale:
    def __init__(self, path: str):
        self.path = path
        self.bench = Bench(path)  # bulk filler of bench/analysis.py
        self.rng = random.Random(7)
        self.stored: list[tuple[str, str, str]] = []  # (url, title, text) stored through the writer
        self.seq = 0

    def fill(self, upto: int) -> float:
        b = self.bench
        t0 = time.perf_counter()
        start = b.n
        b.fill(upto)
        c = b.conn
        c.execute("BEGIN")
        c.execute("INSERT OR IGNORE INTO url_keys (key, article_id) SELECT url_key, id FROM articles WHERE id > ?",
                  (start,))
        c.execute("INSERT INTO sightings (article_id, source, seen_at, url, outcome) "
                  "SELECT id, 'feed', first_seen, url, 'new' FROM articles WHERE id > ?", (start,))
        c.execute("COMMIT")
        return time.perf_counter() - t0

    def items(self, n: int) -> list[tuple[Candidate, Extracted]]:
        out = []
        for _ in range(n):
            r = self.rng.random()
            if r < 0.1 and self.stored:  # a re-fetch of a stored article, unchanged
                url, title, text = self.rng.choice(self.stored)
            elif r < 0.2 and self.bench.real:  # a near-copy of a stored article on another site
                _, title, text = self.rng.choice(self.bench.real)
                text = "\n\n".join(text.split("\n\n")[:-1]) + "\n\nThe council said more details would follow."
                self.seq += 1
                url = f"https://copy{self.seq % 50}.example/story/{self.seq}"
            else:
                self.seq += 1
                title, text = article(30_000_000 + self.seq, paragraphs=self.rng.randint(6, 14))
                url = f"https://site{self.seq % 500}.example/news/{self.seq}"
                self.stored.append((url, title, text))
            out.append((Candidate(url=url, source="feed", feed_url=None, guid=url), page_for(url, title, text)))
        return out

    def sample(self, writer: Writer, n: int) -> list[float]:
        """ms per article of store_many, batch by batch (each article gets its batch's mean)."""
        items = self.items(n)  # built (and fingerprinted) before timing
        per = []
        for k in range(0, n, BATCH):
            batch = items[k:k + BATCH]
            t0 = time.perf_counter()
            writer.store_many([(c, ex, None) for c, ex in batch])
            per += [(time.perf_counter() - t0) * 1000 / len(batch)] * len(batch)
        return per


async def _ingest(path: str, items: list[tuple[Candidate, Extracted]]) -> float:
    """Wall ms per article for the real pipeline to extract, analyse and store `items`' pages."""
    cfg = Config(database=path, workers=2)
    async with open_store(cfg) as store, Pipeline(cfg, store) as pipe:
        for cand, ex in items[:WARM]:  # warm the workers and the writer
            await pipe.submit(cand, ex.page)
        await pipe.drain()
        t0 = time.perf_counter()
        for cand, ex in items[WARM:]:
            await pipe.submit(cand, ex.page)
        await pipe.drain()
        return (time.perf_counter() - t0) * 1000 / (len(items) - WARM)


def end_to_end(s: Scale, n: int) -> float:
    logging.disable(logging.INFO)  # one log line per article would be timed too
    try:
        return asyncio.run(_ingest(s.path, s.items(n + WARM)))
    finally:
        logging.disable(logging.NOTSET)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--sample", type=int, default=640, help="articles stored and timed at each size")
    ap.add_argument("--db", help="database path (default: a temporary file)")
    ap.add_argument("--end-to-end", type=int, default=0, metavar="N",
                    help="also ingest N pages through the real pipeline at each size (wall ms per article)")
    a = ap.parse_args(argv)
    sizes = [int(s) for s in a.sizes.split(",")]
    print("stored   fill_s | store path ms/article: mean   p50   p90 | articles/s (writer thread alone)")
    rows, e2e = [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = a.db or str(Path(tmp) / "scale.db")
        s = Scale(path)
        for size in sizes:
            fill_s = s.fill(size)
            writer = Writer.open(path, Config(database=path))  # as the store opens it
            s.sample(writer, 64)  # warm caches and statements
            per = s.sample(writer, a.sample)
            writer.conn.close()
            mean = statistics.mean(per)
            rows.append((size, mean, pct(per, 50)))
            print(f"{size:7d} {fill_s:8.1f} | {mean:27.2f} {pct(per, 50):5.2f} {pct(per, 90):5.2f} | "
                  f"{1000 / mean:8.0f}", flush=True)
            if a.end_to_end:
                e2e.append((size, end_to_end(s, a.end_to_end)))
                print(f"{size:7d} end to end (extract + analyse + store, 2 workers): {e2e[-1][1]:.2f} ms/article "
                      f"({1000 / e2e[-1][1]:.0f} articles/s)", flush=True)
            s.bench.n = s.bench.conn.execute("SELECT max(id) FROM articles").fetchone()[0]
    first, last = rows[0], rows[-1]
    ratio = last[2] / first[2]
    print(f"p50 at {last[0]:,} / at {first[0]:,} stored articles: {ratio:.2f}x (target <= 1.5x)")
    if e2e:
        print(f"end to end at {e2e[-1][0]:,} / at {e2e[0][0]:,}: {e2e[-1][1] / e2e[0][1]:.2f}x (target <= 1.5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
