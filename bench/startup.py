"""`python -m bench.startup`: how soon after the process starts the first page is extracted.

The demo's news world (ingest/demo: several outlets, a feed each) is served on 127.0.0.1; the
real CLI runs in a subprocess on a fresh database with JSON log lines and `-v`, and the times
of its lines are read against the moment the subprocess was started (before `exec`):

  first extracted   the extraction pool's "first page extracted" debug line (a worker has
                    returned its first page)
  first stored      the first article stored (its "new" line)
  exit              the process has exited

for `ingest run --once` (feeds polled, then the articles) and `ingest backfill URL...` (the same
articles listed). Median and range of `--repeat` runs (default 5), interleaved.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

from ingest.demo.site import NewsWorld

ROOT = Path(__file__).resolve().parent.parent


def one_run(args: list[str], work: Path, code: str | None = None) -> dict[str, float]:
    """Seconds from process start to each event, for one CLI run (of the ingest in `code` if given)."""
    for p in work.glob("startup.db*"):
        p.unlink()
    env = dict(os.environ, PYTHONUNBUFFERED="1", **({"PYTHONPATH": code} if code else {}))
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "ingest", *args, "--log-format", "json", "-v"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    end = time.time() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} exited {proc.returncode}: {proc.stderr[-2000:]}")
    out = {"exit": end}
    for line in proc.stderr.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        at = datetime.fromisoformat(event["ts"]).timestamp() - t0
        if event.get("outcome") == "first_extracted":
            out.setdefault("first extracted", at)
        elif event.get("outcome") == "new":
            out.setdefault("first stored", at)
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.startup", description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--against", metavar="DIR", default=None,
                    help="also run the ingest checked out in DIR (e.g. a worktree of main), interleaved")
    args = ap.parse_args(argv)
    codes = {"": None} | ({f" [{args.against}]": args.against} if args.against else {})
    work = Path(tempfile.mkdtemp(prefix="ingest-bench-startup-"))
    results: dict[str, list[dict[str, float]]] = {}
    with NewsWorld.threaded() as world:
        cfg = work / "startup.yaml"
        cfg.write_text(yaml.safe_dump({
            "database": str(work / "startup.db"), "topics": [], "workers": 2,
            "feeds": [{"url": u} for u in world.feed_urls],
            "fetch": {"allow_private_addresses": True, "per_host_delay": 0.0, "retries": 0}}))
        urls = [o.url(slug) for o in world.outlets.values() for slug in o.stories]
        commands = {"run --once": ["run", "--once", "--config", str(cfg)],
                    "backfill URLs": ["backfill", "--config", str(cfg), *urls]}
        for _ in range(args.repeat):
            for name, cmd in commands.items():
                for label, code in codes.items():
                    results.setdefault(name + label, []).append(one_run(cmd, work, code))
    print(f"python -m bench.startup --repeat {args.repeat}  ({datetime.now():%Y-%m-%d %H:%M}, load "
          f"{os.getloadavg()[0]:.1f}, {os.cpu_count()} cores; {len(urls)} pages)")
    for name, runs in results.items():
        cells = []
        for key in ("first extracted", "first stored", "exit"):
            xs = [r[key] for r in runs if key in r]
            cells.append(f"{key} {statistics.median(xs):.2f} s ({min(xs):.2f}-{max(xs):.2f})" if xs else f"{key} -")
        print(f"  {name} " + ", ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
