"""`python -m eval warc`: read every real WARC/ARC sample with warc_pages and report.

The samples (../shared/corpora/warc-samples, see its SOURCE.md) are the damaged and
quirky files real archives contain; the point is that none of them makes the
reader raise, and that what is skipped is skipped for a stated reason. Each file
is read twice -- FastWARC first (the default) and warcio alone -- to check that record
keys are stable and that both readers give the same records, pages and counts.
Exit 1 on a crash or a difference, else 0.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from ingest.sources.warc import WarcStats, warc_pages

from .corpora import shared_dir


def samples_dir() -> Path | None:
    shared = shared_dir()
    path = (shared / "corpora/warc-samples") if shared else None
    return path if path is not None and path.is_dir() else None


def run(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval warc", description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="show the reader's per-record warnings")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.ERROR, format="  %(levelname)s %(message)s")
    root = samples_dir()
    if root is None:
        print("warc-samples corpus not found (../shared/corpora/warc-samples); nothing to check")
        return 0
    files = sorted(p for p in root.rglob("*") if p.is_file() and (".warc" in p.name or p.name.endswith((".arc", ".arc.gz"))))
    crashed, total, unstable = [], WarcStats(), []
    print(f"{'file':<45} {'records':>7} {'html':>5} {'skipped':>7} {'fast':>5}  {'ms':>6}  reasons")
    for path in files:
        stats, slow_stats = WarcStats(), WarcStats()
        t0 = time.perf_counter()
        try:
            pairs = [(c.record_key, c.url, p.html) for c, p in warc_pages(path, stats=stats)]
            again = [(c.record_key, c.url, p.html) for c, p in warc_pages(path, stats=slow_stats, engine="warcio")]
        except Exception as e:  # noqa: BLE001 - the thing this eval exists to catch
            crashed.append(path.name)
            print(f"{path.relative_to(root)!s:<45} CRASH {type(e).__name__}: {e}")
            continue
        ms = (time.perf_counter() - t0) * 1000 / 2
        counts = (stats.records, stats.html, dict(stats.skipped), stats.bad)
        if pairs != again or counts != (slow_stats.records, slow_stats.html, dict(slow_stats.skipped), slow_stats.bad):
            unstable.append(path.name)
        reasons = ", ".join(f"{r} {n}" for r, n in stats.skipped.most_common())
        print(f"{path.relative_to(root)!s:<45} {stats.records:>7} {stats.html:>5} {sum(stats.skipped.values()):>7} "
              f"{stats.fast:>5}  {ms:>6.1f}  {reasons}")
        total.add(stats)
    print(f"total: {len(files)} files, {total}; {total.bad} damaged records; {total.fast} records read by FastWARC")
    if unstable:
        print(f"FAIL: record keys, pages or counts differ between FastWARC-first and warcio: {', '.join(unstable)}")
    if crashed:
        print(f"FAIL: warc_pages raised on {len(crashed)} file(s): {', '.join(crashed)}")
    return 1 if crashed or unstable else 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
