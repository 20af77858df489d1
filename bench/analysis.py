"""`python -m bench.analysis`: analysis cost per article and index size at 1k, 10k, 100k articles.

The corpus is filled in bulk (indexed without judging, batched transactions, WAL) with synthetic
fingerprints: random band keys and sentence hashes, which is what a large corpus of
distinct articles looks like to the B-trees; every 50th filler is a real generated
article (text stored) so near-copies in the sample exercise verification. At each
size a sample of new articles (80% fresh, 20% near-copies of stored ones) is timed
through fingerprint -> judge -> record, one transaction per 50 articles.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from eval.harness import IndexedCorpus
from ingest.analyse.fingerprint import BANDS, fingerprint
from ingest.analyse.synth import article
from ingest.config import AnalysisConfig
from ingest.records import Fingerprint

INDEX_TABLES = ("analysis_docs", "analysis_docs_exact", "lsh_bands", "sentences", "dup_edges", "dup_edges_of")
REAL_EVERY = 50
BATCH = 1000


def _fake(rng: random.Random) -> Fingerprint:
    n_sent = rng.randint(15, 35)
    return Fingerprint(
        text_hash="", title_hash="", n_words=rng.randint(300, 900),
        band_keys=tuple((b << 56) | rng.getrandbits(56) for b in range(BANDS)),
        sentences=tuple((rng.getrandbits(63), pos) for pos in range(n_sent)),
        exact_key=rng.getrandbits(63),
    )


class Bench(IndexedCorpus):
    def __init__(self, path: str):
        super().__init__(path, AnalysisConfig(), cache_kb=65_536)  # 64 MB, as the writer's
        self.real: list[tuple[int, str, str]] = []  # (id, title, text) of stored real articles
        self.rng = random.Random(1)

    def fill(self, upto: int) -> float:
        t0 = time.perf_counter()
        c = self.conn
        while self.n < upto:
            c.execute("BEGIN")
            for _ in range(min(BATCH, upto - self.n)):
                site = f"site{self.rng.randrange(500)}.example"
                if (self.n + 1) % REAL_EVERY == 0:
                    title, text = article(10_000_000 + self.n, paragraphs=self.rng.randint(6, 14))
                    aid = self.index_only(site, title, text, fingerprint(title, text))
                    self.real.append((aid, title, text))
                else:
                    self.index_only(site, "", "", _fake(self.rng))
            c.execute("COMMIT")
        return time.perf_counter() - t0

    def sample(self, n: int) -> dict:
        """Time fingerprint + judge + add for n new articles; returns ms lists."""
        total, judge_add, cands = [], [], []
        c = self.conn
        for i in range(n):
            if i % 50 == 0:
                c.execute("BEGIN")
            if i % 5 == 4 and self.real:
                _, title, text = self.rng.choice(self.real)
                paras = text.split("\n\n")
                text = "\n\n".join(paras[:-1]) + "\n\nThe council said more details would follow next week."
            else:
                title, text = article(20_000_000 + self.n, paragraphs=self.rng.randint(6, 14))
            site = f"site{self.rng.randrange(500)}.example"
            t0 = time.perf_counter()
            fp = fingerprint(title, text)
            t1 = time.perf_counter()
            _, judgement = self.put(site, title, text, fp)
            t2 = time.perf_counter()
            total.append((t2 - t0) * 1000)
            judge_add.append((t2 - t1) * 1000)
            cands.append(judgement.candidates)
            if i % 50 == 49 or i == n - 1:
                c.execute("COMMIT")
        return {"total": total, "judge_add": judge_add, "candidates": cands}

    def index_bytes(self) -> int:
        marks = ",".join("?" * len(INDEX_TABLES))
        return self.conn.execute(f"SELECT SUM(pgsize) FROM dbstat WHERE name IN ({marks})", INDEX_TABLES).fetchone()[0]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.analysis")
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--sample", type=int, default=300, help="articles timed at each size")
    ap.add_argument("--db", help="database path (default: a temporary file)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or str(Path(tmp) / "bench.db")
        if os.path.exists(path):
            os.unlink(path)
        b = Bench(path)
        print("size     fill_s  total_ms p50   p99  | judge+add_ms p50   p99  | cand_mean | index B/article")
        rows = []
        for size in sizes:
            fill_s = b.fill(size)
            b.sample(20)  # warm the statement cache and page cache
            s = b.sample(args.sample)
            per = b.index_bytes() / b.n
            row = (size, fill_s, pct(s["total"], 50), pct(s["total"], 99), pct(s["judge_add"], 50),
                   pct(s["judge_add"], 99), statistics.mean(s["candidates"]), per)
            rows.append(row)
            print(f"{size:7d} {fill_s:7.1f}  {row[2]:10.2f} {row[3]:6.2f} | {row[4]:12.2f} {row[5]:6.2f} | "
                  f"{row[6]:9.2f} | {per:8.0f}", flush=True)
    first, last = rows[0], rows[-1]
    ratio = last[2] / first[2]
    print(f"p50 total at {last[0]} / at {first[0]}: {ratio:.2f}x (target <= 1.5x); p50 target <= 10 ms")
    return 0 if last[2] <= 10 and ratio <= 1.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
