"""`python -m eval coverage`: duplicate and garble verdicts on real coverage of one story.

The corpora are real same-story coverage (../shared/corpora, read at run time, never copied):
- helsinki2018-day1: 331 pages of the Trump-Putin Helsinki summit (2018-07-15) from 65
  outlets, with page chrome, wire write-thrus, roundups, galleries and aggregator pages; plus
  two small one-story sets (census, spotify) in the same format;
- giveme5w1h-newscluster: 383 extracted articles in 69 event clusters from many outlets.

Each row becomes an HTML page (paragraphs as <p>, the headline as <title>) and goes through
the real pipeline (worker processes, the store, the judge) in time order, as a WARC backfill
of a day's crawl would. The verdicts are then read back through the read API and scored
against the hand labels in eval/labels/ (ids and verdicts only; eval/labels/*.md say how they
were made). Tuned on helsinki2018-day1; giveme5w1h-newscluster and the census/spotify sets
are checked only (docs/analysis.md has the figures of both).
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import html
import json
import logging
import sqlite3
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.analyse.encoding import fix_encoding
from ingest.config import Config
from ingest.records import Candidate, Page
from ingest.run.pipeline import Pipeline
from ingest.store import open_store
from ingest.text import normalise_lines, shingles, split_sentences, words
from ingest.times import parse

from .corpora import shared_dir

LABELS = Path(__file__).resolve().parent / "labels"
HELSINKI_FILES = {"helsinki": "helsinki_articles_2018-07-15.csv", "census": "census_articles.csv",
                  "spotify": "spotify_articles.csv"}
TARGETS = {"newsroom_patchwork_max": 0.01, "clean_flagged_max": 0.03, "bad_of_max": 0, "copy_pairs_min": 0.95}
# What each duplicate kind claims about a copy and its `of` (5-gram shingles of the texts, as the judge compares):
KIND_FLOOR = {"exact": ("jaccard", 0.9), "near": ("jaccard", 0.8), "syndicated": ("either", 0.5),
              "subset": ("containment", 0.8)}


@dataclass
class Row:
    corpus: str
    id: str
    site: str
    url: str
    when: datetime
    title: str
    paragraphs: list[str]
    label: dict[str, str] = field(default_factory=dict)
    published: datetime | None = None  # declared in the page (article:published_time) when known


def _labels(name: str) -> dict[tuple[str, str], dict[str, str]]:
    with open(LABELS / name, newline="", encoding="utf-8") as f:
        return {(r["corpus"], r["id"]): r for r in csv.DictReader(f)}


def helsinki_rows(root: Path) -> list[Row]:
    """Rows of the three one-story sets: the headline is the first short paragraph."""
    csv.field_size_limit(1 << 30)
    labels = _labels("helsinki2018-day1.csv")
    out = []
    for corpus, name in HELSINKI_FILES.items():
        with open(root / "corpora" / "helsinki2018-day1" / "data" / name, newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                paras = [p.strip() for p in r["text"].split(" ### ") if p.strip()]
                title = next((p for p in paras[:6] if 3 <= len(p.split()) <= 25), paras[0] if paras else "")
                host = r["publisher"].split("/")[0]
                when = parse(r["scrape_time"])
                assert when is not None
                out.append(Row(corpus, r["id"], host, f"https://www.{host}/{corpus}/{r['id']}", when, title, paras,
                               labels.get((corpus, r["id"]), {})))
    return out


def giveme_rows(root: Path) -> list[Row]:
    labels = _labels("giveme5w1h-newscluster.csv")
    data = root / "corpora" / "giveme5w1h-newscluster" / "Giveme5W1H" / "examples" / "datasets" / "news_cluster" / "data"
    out = []
    for path in sorted(data.glob("*.json")):
        d = json.loads(path.read_text(encoding="utf-8"))
        did = d.get("dId") or path.stem
        published = parse(d.get("date_publish"))
        when = published or datetime(2017, 1, 1, tzinfo=UTC)
        paras = [p.strip() for p in (d.get("text") or "").split("\n") if p.strip()]
        out.append(Row("giveme5w1h", did, d["source_domain"], d["url"], when, d.get("title") or "", paras,
                       labels.get(("giveme5w1h", did), {}), published))
    return out


def page_of(row: Row) -> Page:
    body = "".join(f"<p>{html.escape(p)}</p>\n" for p in row.paragraphs)
    date = (f"<meta property='article:published_time' content='{row.published.isoformat()}'>"
            if row.published else "")
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(row.title)}</title>{date}</head>"
           f"<body><article>{body}</article></body></html>")
    return Page(row.url, row.url, 200, {"content-type": "text/html; charset=utf-8"}, doc.encode(), doc, "utf-8",
                "header", False, row.when)


async def ingest(rows: list[Row], db: str) -> dict[str, float]:
    """Every row through the real pipeline, in time order; seconds taken."""
    cfg = Config(database=db, workers=2)
    logging.disable(logging.WARNING)
    try:
        t0 = datetime.now()
        async with open_store(cfg) as store, Pipeline(cfg, store) as pipe:
            for row in sorted(rows, key=lambda r: (r.when, r.id)):
                await pipe.submit(Candidate(url=row.url, source="warc", record_key=f"{row.corpus}:{row.id}"),
                                  page_of(row))
            await pipe.drain()
        return {"seconds": (datetime.now() - t0).total_seconds(), **pipe.tally.counts}
    finally:
        logging.disable(logging.NOTSET)


@dataclass
class Verdicts:
    """What the store says about each row: current text, flags, cluster root."""

    text: dict[str, str]
    dup: dict[str, dict[str, Any]]  # row id -> {"of": row id, "kind", "similarity", "evidence"}
    garbled: dict[str, dict[str, Any]]  # row id -> {"score", "reasons", "detail"}
    root: dict[str, str]  # row id -> its cluster root row id (itself when in no cluster)
    page_kind: dict[str, str]


def read_verdicts(db: str, rows: list[Row]) -> Verdicts:
    by_url = {r.url: r.id for r in rows}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    ids = {aid: by_url[url] for aid, url in conn.execute("SELECT id, url FROM articles")}
    text, dup, garbled, page_kind = {}, {}, {}, {}
    cols = {r[1] for r in conn.execute("PRAGMA table_info(latest)")}
    kind_col = "page_kind" if "page_kind" in cols else "NULL"
    for aid, t, of_id, kind, sim, score, pk in conn.execute(
            f"SELECT id, text, duplicate_of_id, duplicate_kind, duplicate_similarity, garbled_score, {kind_col} "
            "FROM latest"):
        rid = ids[aid]
        text[rid] = t
        page_kind[rid] = pk or ""
        if kind:
            dup[rid] = {"of": ids.get(of_id), "kind": kind, "similarity": sim}
        if score is not None:
            detail = json.loads(conn.execute(
                "SELECT detail FROM flags WHERE article_id = ? AND kind = 'garbled' ORDER BY id DESC LIMIT 1",
                (aid,)).fetchone()[0])
            garbled[rid] = {"score": score, "reasons": [r["name"] for r in detail["reasons"]], "detail": detail}
    root = {rid: rid for rid in text}
    for a, o in conn.execute("SELECT article_id, of_id FROM dup_edges"):
        root[ids[a]] = ids[o]
    conn.close()
    return Verdicts(text, dup, garbled, root, page_kind)


def _shingles(text: str) -> set[str]:
    """5-gram shingles of a text with its encoding repaired (a mojibake copy is the same text)."""
    return shingles(words(" ".join(split_sentences(normalise_lines(fix_encoding(text))))))


def overlap(a: str, b: str) -> tuple[float, float]:
    """(Jaccard, containment of the smaller in the other) of two texts' 5-gram shingles."""
    sa, sb = _shingles(a), _shingles(b)
    if not sa or not sb:
        return 0.0, 0.0
    inter = len(sa & sb)
    return inter / len(sa | sb), inter / min(len(sa), len(sb))


def bad_of(v: Verdicts) -> list[tuple[str, str, str, float, float]]:
    """Duplicate verdicts whose `of` shares less with the copy than the kind claims."""
    bad = []
    for rid, d in v.dup.items():
        if d["of"] is None or d["of"] not in v.text:
            bad.append((rid, d["kind"], str(d["of"]), 0.0, 0.0))
            continue
        j, c = overlap(v.text[rid], v.text[d["of"]])
        measure, floor = KIND_FLOOR[d["kind"]]
        ok = {"jaccard": j >= floor, "containment": c >= floor, "either": j >= floor or c >= 0.8}[measure]
        if not ok:
            bad.append((rid, d["kind"], d["of"], round(j, 3), round(c, 3)))
    return bad


def copy_pairs(rows: list[Row], v: Verdicts) -> tuple[int, int, list[tuple[str, str]]]:
    """Cross-site pairs with 5-gram Jaccard >= 0.9: how many, how many in one cluster, the others."""
    sh = {r.id: _shingles(v.text[r.id]) for r in rows if r.id in v.text}
    site = {r.id: r.site for r in rows}
    index: dict[str, set[str]] = defaultdict(set)
    for rid, s in sh.items():
        for g in list(s)[:: max(1, len(s) // 20)]:  # a sample of shingles finds every candidate of J >= 0.9
            index[g].add(rid)
    pairs, together, apart = 0, 0, []
    seen: set[tuple[str, str]] = set()
    for rid, s in sh.items():
        cands = {o for g in s if g in index for o in index[g]} - {rid}
        for o in cands:
            key = (min(rid, o), max(rid, o))
            if key in seen or site[rid] == site[o] or not s or not sh[o]:
                continue
            seen.add(key)
            j = len(s & sh[o]) / len(s | sh[o])
            if j >= 0.9 and len(s) >= 20:
                pairs += 1
                if v.root[rid] == v.root[o]:
                    together += 1
                else:
                    apart.append(key)
    return pairs, together, apart


def score(rows: list[Row], v: Verdicts) -> dict[str, Any]:
    lab = {r.id: r.label for r in rows}
    newsroom = [r.id for r in rows if lab[r.id].get("outlet") == "newsroom" and r.id in v.text]
    patch = [rid for rid in newsroom if "patchwork" in v.garbled.get(rid, {}).get("reasons", [])]
    clean = [r.id for r in rows if lab[r.id].get("page_kind") == "article" and not lab[r.id].get("copy_of")
             and not lab[r.id].get("garbled") and r.id in v.text]
    def same_story(rid: str) -> bool:
        """The duplicate verdict links two pages of one labelled story: a true copy relation whose
        direction (which one is the original) the labels cannot know: they order by scrape time,
        the judge by declared publication time."""
        of = v.dup[rid]["of"]
        return of is not None and lab.get(of, {}).get("story") == lab[rid].get("story")

    flagged = [rid for rid in clean if (rid in v.dup and not same_story(rid)) or rid in v.garbled]
    reversed_pairs = [rid for rid in clean if rid in v.dup and same_story(rid)]
    why: Counter[str] = Counter()
    for rid in flagged:
        if rid in v.dup:
            why[f"duplicate:{v.dup[rid]['kind']}"] += 1
        for reason in v.garbled.get(rid, {}).get("reasons", []):
            why[reason] += 1
    copies = [r.id for r in rows if lab[r.id].get("copy_of") and r.id in v.text]
    found = [rid for rid in copies if rid in v.dup]
    by_kind = {k: (sum(1 for rid in found if lab[rid]["copy_kind"] == k),
                   sum(1 for rid in copies if lab[rid]["copy_kind"] == k)) for k in ("exact", "subset", "version")}
    false_dup = [rid for rid in v.dup if not lab[rid].get("copy_of") and not same_story(rid)]
    pairs, together, apart = copy_pairs(rows, v)
    bad = bad_of(v)
    kinds = [r.id for r in rows if lab[r.id].get("page_kind") and r.id in v.text]
    kind_ok = sum(1 for rid in kinds if v.page_kind.get(rid, "") == lab[rid]["page_kind"])
    return {
        "pages": len(v.text),
        "newsroom_patchwork": (len(patch), len(newsroom)),
        "clean_flagged": (len(flagged), len(clean)),
        "clean_flagged_why": dict(why.most_common()),
        "labelled_copies_found": (len(found), len(copies)),
        "labelled_copies_found_by_kind": by_kind,
        "originals_named_copies_of_their_copy": len(reversed_pairs),
        "duplicate_verdicts_on_uncopied": (len(false_dup), len(v.dup)),
        "bad_of": bad,
        "copy_pairs_in_one_cluster": (together, pairs),
        "copy_pairs_apart": apart[:10],
        "page_kind_agreement": (kind_ok, len(kinds)),
        "flagged_clean_examples": [(rid, lab[rid].get("publisher") or lab[rid].get("source_domain"),
                                    v.dup.get(rid, {}).get("kind"), v.garbled.get(rid, {}).get("reasons"))
                                   for rid in flagged[:40]],
        "patchwork_examples": patch[:20],
    }


def _rate(pair: tuple[int, int]) -> float:
    return pair[0] / pair[1] if pair[1] else 0.0


def check(name: str, s: dict[str, Any]) -> list[str]:
    misses = []
    if _rate(s["newsroom_patchwork"]) > TARGETS["newsroom_patchwork_max"]:
        misses.append(f"{name}: newsroom pages flagged patchwork {_rate(s['newsroom_patchwork']):.1%}")
    if _rate(s["clean_flagged"]) > TARGETS["clean_flagged_max"]:
        misses.append(f"{name}: articles that copy nothing flagged {_rate(s['clean_flagged']):.1%}")
    if len(s["bad_of"]) > TARGETS["bad_of_max"]:
        misses.append(f"{name}: {len(s['bad_of'])} duplicate verdicts whose `of` shares less than the kind claims")
    pairs = s["copy_pairs_in_one_cluster"]
    if pairs[1] and _rate(pairs) < TARGETS["copy_pairs_min"]:
        misses.append(f"{name}: cross-site copy pairs in one cluster {_rate(pairs):.1%}")
    return misses


def report(name: str, s: dict[str, Any], ingest_counts: dict[str, float], verbose: bool) -> None:
    def pct(pair: tuple[int, int]) -> str:
        return f"{pair[0]}/{pair[1]} = {_rate(pair):.1%}"

    print(f"== {name}: {s['pages']} pages stored ({ingest_counts})")
    print(f"  newsroom pages flagged patchwork        {pct(s['newsroom_patchwork'])}  (target <= 1%)")
    print(f"  articles that copy nothing, flagged     {pct(s['clean_flagged'])}  (target <= 3%)  {s['clean_flagged_why']}")
    print(f"  duplicate `of` sharing less than claimed {len(s['bad_of'])}  (target 0)  {s['bad_of'][:5]}")
    print(f"  cross-site copy pairs in one cluster    {pct(s['copy_pairs_in_one_cluster'])}  (target >= 95%)")
    print(f"  labelled copies flagged duplicate       {pct(s['labelled_copies_found'])}  by kind "
          f"{ {k: f'{a}/{b}' for k, (a, b) in s['labelled_copies_found_by_kind'].items()} }")
    print(f"  duplicate verdicts linking two stories  {pct(s['duplicate_verdicts_on_uncopied'])}")
    print(f"  labelled originals judged a copy of their own copy (publication time before scrape order): "
          f"{s['originals_named_copies_of_their_copy']}")
    print(f"  page kind agrees with the label          {pct(s['page_kind_agreement'])}")
    if verbose:
        for ex in s["flagged_clean_examples"]:
            print("    flagged clean:", ex)
        print("    patchwork on newsroom pages:", s["patchwork_examples"])
        print("    copy pairs apart:", s["copy_pairs_apart"])


def run(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval coverage")
    ap.add_argument("--corpus", choices=["helsinki", "giveme5w1h", "all"], default="all")
    ap.add_argument("--keep-db", metavar="DIR", help="keep the databases in DIR")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    root = shared_dir()
    if root is None:
        print("eval coverage: skipped (../shared/corpora not found; set INGEST_SHARED)")
        return 0
    sets: dict[str, list[Row]] = {}
    if args.corpus in ("helsinki", "all"):
        rows = helsinki_rows(root)
        for corpus in HELSINKI_FILES:
            sets[corpus] = [r for r in rows if r.corpus == corpus]
    if args.corpus in ("giveme5w1h", "all"):
        sets["giveme5w1h"] = giveme_rows(root)
    misses: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(args.keep_db or tmp)
        where.mkdir(parents=True, exist_ok=True)
        for name, rows in sets.items():
            db = str(where / f"{name}.db")
            Path(db).unlink(missing_ok=True)
            counts = asyncio.run(ingest(rows, db))
            s = score(rows, read_verdicts(db, rows))
            report(name, s, counts, args.verbose)
            misses += check(name, s)
    for m in misses:
        print("MISSED", m)
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(run())
