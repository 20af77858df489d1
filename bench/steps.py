"""`python -m bench.steps`: CPU per page of each step of ingest's per-page work, in one process.

The throughput benchmark (bench/throughput.py) says *whether* ingest keeps up with the
ceiling; this says *where* the CPU goes, so a change can be measured step by step on real
pages before the (noisy, 7-minute) end-to-end run. On the same corpus pages as the
throughput benchmark (every k-th page, so all corpora are represented), each step is timed
with `time.process_time` (CPU of this process only: immune to the other jobs of a shared
machine, as long as they leave a core free):

  ceiling         trafilatura.bare_extraction on the bytes, the throughput ceiling's options
                  (bench/throughput.py; here with the worker's C-level lxml class lookup, which
                  importing ingest/extract/worker.py sets for the whole process)
  decode          ingest/fetch/charset.decode (on the event loop in the pipeline)
  worker task     ingest/extract/worker.run on the decoded page, pickling of its answer included,
                  then its parts: page_dates, lxml parse, page_metadata, trafilatura on the
                  parsed tree, fingerprint and its parts
  writer          Writer.store_many in batches of 32 on a fresh database (the writer thread)

Each step runs `--repeat` times per page and the fastest is kept (less scheduler noise).
"""
from __future__ import annotations

import argparse
import importlib
import pickle
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from eval.corpora import page_files, read_page

BATCH = 32


def _forget_pages() -> None:
    """Empty the caches of trafilatura and htmldate that hold per-page strings.

    Not trafilatura.meta.reset_caches: it also reloads justext's stop lists and runs
    gc.collect(), which makes a 100-page run five times longer and is not per-page work.
    """
    from htmldate.meta import reset_caches as htmldate_caches  # noqa: PLC0415
    from trafilatura.deduplication import LRU_TEST  # noqa: PLC0415
    from trafilatura.utils import line_processing, return_printables_and_spaces, trim  # noqa: PLC0415

    htmldate_caches()
    for cached in (line_processing, return_printables_and_spaces, trim):
        cached.cache_clear()
    LRU_TEST.clear()


def timed(fn, *args, repeat: int = 1):
    """(result, fastest CPU seconds of `repeat` calls).

    trafilatura's and htmldate's LRU caches are emptied before each call: a step must not
    profit from an earlier step (or run) having seen the same page, as no page is seen twice
    in a real run.
    """
    best = float("inf")
    for _ in range(repeat):
        _forget_pages()
        t0 = time.process_time()
        out = fn(*args)
        best = min(best, time.process_time() - t0)
    return out, best


def fingerprint_parts(title: str, text: str, acc: dict, repeat: int) -> None:
    """The fingerprint's own steps, in the order fingerprint() runs them (same functions)."""
    fpmod = importlib.import_module("ingest.analyse.fingerprint")  # the module (the package exports the function)
    from ingest.analyse.checks import checks_of_normalised  # noqa: PLC0415
    from ingest.analyse.encoding import fix_encoding  # noqa: PLC0415
    from ingest.text import (  # noqa: PLC0415
        collapse_lines,
        indexed_tokenised_sentences,
        normalise_lines,
        normalised_hash,
        shingles,
        text_hash,
        tokenised_lines,
    )

    fixed, acc["  fp: fix_encoding (ftfy when needed)"] = timed(fix_encoding, text, repeat=repeat)
    lines_norm, acc["  fp: normalise (NFKC, quotes, spaces)"] = timed(normalise_lines, fixed, repeat=repeat)
    norm = collapse_lines(lines_norm)
    lines, acc["  fp: tokenise (lines, sentences, words)"] = timed(tokenised_lines, lines_norm, repeat=repeat)
    line_tokens = [[t for _, sentence in line for t in sentence] for line in lines]
    toks = [t for line in line_tokens for t in line]
    sh, acc["  fp: shingles"] = timed(shingles, toks, repeat=repeat)
    if len(sh) >= fpmod.MIN_LSH_SHINGLES:
        _, acc["  fp: minhash + bands"] = timed(lambda: fpmod.band_keys(fpmod.minhash(sh)), repeat=repeat)
    _, acc["  fp: sentence hashes"] = timed(indexed_tokenised_sentences, lines, repeat=repeat)
    keys = [" ".join(t) for t in line_tokens]
    _, acc["  fp: garble checks"] = timed(checks_of_normalised, title, text, fixed, lines_norm, toks, keys,
                                          repeat=repeat)
    _, acc["  fp: text hashes"] = timed(lambda: (normalised_hash(norm), text_hash(title)), repeat=repeat)


def page_steps(path: Path, url: str, repeat: int) -> tuple[dict, tuple | None]:
    """CPU seconds per step for one page, and the (candidate, Extracted) for the writer step."""
    import trafilatura  # noqa: PLC0415
    from trafilatura.utils import load_html  # noqa: PLC0415

    from ingest.analyse.fingerprint import fingerprint  # noqa: PLC0415
    from ingest.extract import worker  # noqa: PLC0415
    from ingest.extract.dates import page_dates  # noqa: PLC0415
    from ingest.extract.metadata import page_metadata  # noqa: PLC0415
    from ingest.fetch import charset  # noqa: PLC0415
    from ingest.records import Candidate, Extracted, Page, Skipped  # noqa: PLC0415

    acc: dict[str, float] = {}
    body = read_page(path)
    opts = dict(deduplicate=False, include_comments=False, include_tables=True)
    quick_dates = {"extensive_search": False, "original_date": True}  # the throughput ceiling's options
    _, acc["ceiling: trafilatura on bytes"] = timed(
        lambda: trafilatura.bare_extraction(body, url=url, with_metadata=True, date_extraction_params=quick_dates,
                                            **opts), repeat=repeat)
    decoded, acc["decode (event loop)"] = timed(charset.decode, body, "text/html", repeat=repeat)
    page = Page(url=url, final_url=url, status=200, headers={"content-type": "text/html"}, body=b"", html=decoded.text,
                charset=decoded.charset, charset_source=decoded.source, charset_mismatch=decoded.mismatch,
                fetched_at=datetime.now(UTC))
    cand = Candidate(url=url, source="feed", feed_url=None, guid=url, title="Page",
                     published=datetime(2018, 6, 12, tzinfo=UTC))
    answer, acc["worker task (run + pickle)"] = timed(lambda: pickle.dumps(worker.run(page, cand)), repeat=repeat)
    _, acc["  page_dates"] = timed(page_dates, decoded.text, repeat=repeat)
    tree, acc["  load_html (lxml parse)"] = timed(load_html, decoded.text, repeat=repeat)
    if tree is None:
        return acc, None
    _, acc["  page_metadata"] = timed(page_metadata, tree, url, False, repeat=repeat)
    _, acc["  trafilatura on the tree"] = timed(lambda: trafilatura.bare_extraction(tree, url=url, **opts),
                                                repeat=repeat)
    _, result = pickle.loads(answer)
    if isinstance(result, Skipped):
        return acc, None
    doc, fp, topics = result
    _, acc["  fingerprint"] = timed(fingerprint, doc.title, doc.text, repeat=repeat)
    fingerprint_parts(doc.title, doc.text, acc, repeat)
    full = Page(**{**page.__dict__, "body": body})
    return acc, (cand, Extracted(page=full, document=doc, fingerprint=fp, topics=topics))


def writer_step(items: list) -> float:
    """CPU seconds of Writer.store_many over all items, in batches, on a fresh database."""
    from ingest.config import Config  # noqa: PLC0415
    from ingest.store.sqlite.writer import Writer  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "steps.db")
        writer = Writer.open(path, Config(database=path))
        total = 0.0
        for k in range(0, len(items), BATCH):
            _, cpu = timed(writer.store_many, [(c, ex, None) for c, ex in items[k:k + BATCH]])
            total += cpu
        writer.conn.close()
    return total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.steps", description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=100, help="pages measured (every k-th page of the corpus)")
    ap.add_argument("--repeat", type=int, default=2, help="runs per step and page; the fastest is kept")
    a = ap.parse_args(argv)
    files = page_files()
    if not files:
        print("bench.steps: ../shared/corpora not found (set INGEST_SHARED); nothing measured.")
        return 0
    step = max(1, len(files) // a.pages)
    chosen = files[::step][:a.pages]
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    items = []
    for i, f in enumerate(chosen):
        acc, item = page_steps(f, f"http://127.0.0.1:8000/p/{i}.html", a.repeat)
        for k, v in acc.items():
            sums[k] += v
            counts[k] += 1
        if item is not None:
            items.append(item)
    sums["writer: store_many, batches of 32"] = writer_step(items)
    counts["writer: store_many, batches of 32"] = len(items)
    print(f"{len(chosen)} pages ({len(items)} extracted), CPU ms per page (process_time, best of {a.repeat}):")
    for k, v in sums.items():
        print(f"  {k:42} {1000 * v / len(chosen):7.2f}   (per page it ran on: {1000 * v / max(1, counts[k]):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
