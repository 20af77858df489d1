"""`python -m eval prefilter`: the topic prefilter against extract-then-match, on real pages.

The prefilter (ingest/extract/prefilter.py) decides from a raw page whether it is extracted
at all, so a page it drops that the topic matcher would have kept after extraction is lost.
Reference: what ingest's worker does (`worker.extract_document`, then `TopicMatcher.match`
on title and text), on every page of ../shared/corpora (the 1,383 HTML pages of
`corpora.page_files`) plus the real article texts of helsinki2018-day1 (399 scraped pages
of three stories) and giveme5w1h-newscluster (383 articles of 69 events) built into pages
as the other evaluations build them (`versions.wrap`: nav, h1, article, footer).

For several topic configs (the default config.yaml topic, and topics of other stories in
these corpora), it prints recall (on-topic pages kept; target >= 99.5%), keep rate, precision
and the prefilter's time per page, and lists every page it would lose. Extraction results are
cached (~/.cache/ingest-eval, INGEST_EVAL_CACHE overrides). Exit 1 if recall is under target.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import html
import json
import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ingest.analyse.topics import TopicMatcher
from ingest.config import TopicConfig, load_config
from ingest.extract.prefilter import Prefilter

from .corpora import page_files, read_page, shared_dir

TARGET = 0.995
ROOT = Path(__file__).resolve().parent.parent

# Topics of other stories in these corpora (the default one is config.yaml's), written the way
# a user would: names and phrases, a few regexes.
TOPICS: dict[str, list[str]] = {
    "helsinki-summit": ["Putin", "Helsinki", "Kremlin"],
    "census-question": ["census", "citizenship question"],
    "spotify": ["Spotify"],
    "panama-papers": ["Panama Papers", "Mossack Fonseca"],
    "las-vegas-shooting": ["Las Vegas", "Mandalay Bay", "(Stephen )?Paddock"],
    "equifax-breach": ["Equifax", "data breach(es)?"],
    "north-korea-missiles": ["missiles?", "ICBMs?", "Hokkaido", "ballistic"],
    "space-launches": ["Falcon Heavy", "SpaceX", "Tiangong", "satellites?"],
    "crypto": ["bitcoins?", "cryptocurrenc(y|ies)", "blockchain"],
}


@dataclass(frozen=True)
class CorpusPage:
    """A page of the evaluation: a real HTML file (`path`) or a page built from a real text (`markup`)."""

    name: str
    kind: str  # "real" | "built"
    url: str
    path: str = ""
    markup: str = ""

    def body(self) -> bytes:
        return read_page(self.path) if self.path else self.markup.encode("utf-8")

    @property
    def content_type(self) -> str:
        return "text/html" if self.path else "text/html; charset=utf-8"


def wrap(title: str, body: str) -> str:
    """An article page around a body (eval/versions.py's layout: nav and footer are boilerplate)."""
    from .versions import wrap as versions_wrap

    return versions_wrap(title, body)


def _paragraphs(parts: list[str]) -> str:
    return "".join(f"<p>{html.escape(p.strip())}</p>" for p in parts if p.strip())


def built_pages(root: Path) -> list[CorpusPage]:
    """helsinki2018-day1 rows and giveme5w1h-newscluster articles as pages."""
    out: list[CorpusPage] = []
    data = root / "corpora" / "helsinki2018-day1" / "data"
    csv.field_size_limit(10_000_000)
    for f in sorted(data.glob("*.csv")) if data.is_dir() else []:
        with open(f, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                paras = [p.strip() for p in row["text"].split(" ### ") if p.strip()]
                if not paras:
                    continue
                title = next((p for p in paras[:6] if 20 <= len(p) <= 160), paras[0][:160])
                url = f"https://{row['publisher']}/{f.stem}/{row['id']}"
                out.append(CorpusPage(f"helsinki/{f.stem}/{row['id']}", "built", url,
                                      markup=wrap(title, _paragraphs(paras))))
    cluster = root / "corpora" / "giveme5w1h-newscluster" / "Giveme5W1H" / "examples" / "datasets" / "news_cluster" / "data"
    for f in sorted(cluster.glob("*.json")) if cluster.is_dir() else []:
        d = json.loads(f.read_text(encoding="utf-8"))
        text = d.get("text") or ""
        if not text.strip():
            continue
        paras = ([d["description"]] if d.get("description") else []) + text.split("\n")
        out.append(CorpusPage(f"giveme5w1h/{f.stem[:16]}", "built", d.get("url") or f"https://g5w1h.test/{f.stem}",
                              markup=wrap(d.get("title") or "", _paragraphs(paras))))
    return out


def corpus_pages() -> list[CorpusPage]:
    """Every page of the evaluation, real files first, in a fixed order."""
    root = shared_dir()
    if root is None:
        return []
    real = [CorpusPage(f"{p.parent.name}/{p.name}", "real", "http://127.0.0.1:8000/" + p.parent.name + "/" + p.name,
                       path=str(p)) for p in page_files()]
    return real + built_pages(root)


def _extract(page: CorpusPage) -> tuple[str, str] | None:
    """In a worker: what ingest's worker extracts (title, text), or None."""
    from ingest.extract.worker import extract_document
    from ingest.fetch.charset import decode

    decoded = decode(page.body(), page.content_type)
    try:
        doc = extract_document(decoded.text if decoded else "", page.url)
    except Exception:  # noqa: BLE001 - as worker.extract: an error is "nothing extracted"
        return None
    return (doc.title, doc.text) if doc is not None else None


def extracted(pages: list[CorpusPage], workers: int = 2) -> list[tuple[str, str] | None]:
    """(title, text) per page as ingest extracts it; cached per trafilatura version and page list."""
    import trafilatura

    ident = json.dumps([trafilatura.__version__, 2] + [(p.name, p.path and os.path.getsize(p.path), len(p.markup))
                                                       for p in pages])
    key = hashlib.sha1(ident.encode()).hexdigest()[:16]
    cache = Path(os.environ.get("INGEST_EVAL_CACHE", Path.home() / ".cache" / "ingest-eval")) / f"prefilter-{key}.json"
    if cache.exists():
        return [tuple(r) if r else None for r in json.loads(cache.read_text())]
    print(f"extracting {len(pages)} pages with ingest's worker (cached afterwards in {cache.parent}) ...",
          file=sys.stderr, flush=True)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver")) as ex:
        rows = list(ex.map(_extract, pages, chunksize=8))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(rows))
    return rows


def topic_configs() -> dict[str, list[TopicConfig]]:
    """config.yaml's topics, then one config per topic of TOPICS."""
    default = load_config(ROOT / "config.yaml").topics
    return {"config.yaml": default, **{name: [TopicConfig(name, kws)] for name, kws in TOPICS.items()}}


@dataclass
class Result:
    name: str
    pages: int
    on_topic: int
    kept: int
    kept_on_topic: int
    ms: list[float]
    lost: list[tuple[str, str]]  # (page name, topic keyword context)

    @property
    def recall(self) -> float:
        return self.kept_on_topic / self.on_topic if self.on_topic else 1.0

    @property
    def keep_rate(self) -> float:
        return self.kept / self.pages if self.pages else 0.0

    @property
    def precision(self) -> float:
        return self.kept_on_topic / self.kept if self.kept else 1.0


def _context(matcher: TopicMatcher, title: str, text: str) -> str:
    joined = f"{title}\n{text}"
    for _, pattern in matcher.patterns:
        m = pattern.search(joined)
        if m:
            return " ".join(joined[max(0, m.start() - 40):m.end() + 40].split())
    return ""


def evaluate(name: str, topics: list[TopicConfig], pages: list[CorpusPage], bodies: list[bytes],
             truth: list[tuple[str, str] | None]) -> Result:
    matcher = TopicMatcher.from_config(topics)
    prefilter = Prefilter.from_matcher(matcher)
    assert prefilter is not None
    res = Result(name, len(pages), 0, 0, 0, [], [])
    for page, body, doc in zip(pages, bodies, truth):
        t0 = time.perf_counter()
        keep = prefilter.keep(body, page.content_type)
        res.ms.append((time.perf_counter() - t0) * 1000)
        on = doc is not None and bool(matcher.match(*doc))
        res.on_topic += on
        res.kept += keep
        res.kept_on_topic += on and keep
        if on and not keep and doc is not None:
            res.lost.append((page.name, _context(matcher, *doc)))
    return res


def run(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval prefilter", description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="only the first N pages")
    ap.add_argument("--workers", type=int, default=2, help="extraction processes for the reference")
    args = ap.parse_args(argv)
    pages = corpus_pages()[: args.limit]
    if not pages:
        print("shared corpora not found (../shared/corpora); nothing to evaluate")
        return 0
    truth = extracted(pages, args.workers)
    bodies = [p.body() for p in pages]
    mb = sum(map(len, bodies)) / 1e6
    kinds = {k: sum(p.kind == k for p in pages) for k in ("real", "built")}
    print(f"{len(pages)} pages ({kinds['real']} real HTML files, {kinds['built']} built from real texts), {mb:.0f} MB; "
          f"{sum(t is None for t in truth)} with no extractable text")
    print(f"{'topics':<22} {'on topic':>8} {'kept':>6} {'recall':>8} {'keep rate':>9} {'precision':>9} "
          f"{'ms/page':>8} {'p99 ms':>7}")
    worst, failed = 1.0, []
    all_ms: list[float] = []
    for name, topics in topic_configs().items():
        r = evaluate(name, topics, pages, bodies, truth)
        all_ms += r.ms
        worst = min(worst, r.recall)
        print(f"{name:<22} {r.on_topic:>8} {r.kept:>6} {r.recall:>8.2%} {r.keep_rate:>9.2%} {r.precision:>9.2%} "
              f"{statistics.fmean(r.ms):>8.3f} {statistics.quantiles(r.ms, n=100)[98]:>7.2f}")
        for page_name, ctx in r.lost:
            print(f"    lost: {page_name}: ...{ctx}...")
        if r.recall < TARGET:
            failed.append(name)
    secs = sum(all_ms) / 1000
    print(f"prefilter time: {statistics.fmean(all_ms):.3f} ms/page mean over all configs "
          f"({mb * len(topic_configs()) / secs:.0f} MB/s); worst recall {worst:.2%} (target {TARGET:.1%})")
    if failed:
        print(f"FAIL: recall under {TARGET:.1%} for {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
