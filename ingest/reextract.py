"""`ingest reextract`: rebuild article text from the stored HTML with the installed extractor.

After a trafilatura upgrade (or a fix to extraction) the stored texts may differ from
what the extractor now makes of the same bytes. Re-extraction reads each article's
current HTML from `blobs` (zstd), extracts it in worker processes (all cores), and
records a different result as a version with change "reextract", never as a publisher
edit (the root cause of diffengine#7 and newsdiffs#50 in the prior-art notes). A
collapsed extraction is flagged `extraction_suspect` and not stored, as for fetches.
"""
from __future__ import annotations

import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import click
import zstandard

from .clikit import config_options, fail
from .config import Config
from .progress import progress as progress_line
from .records import Candidate, Extracted, Page

BATCH = 64  # pages read from SQLite and extracted per round: memory stays flat
PAGE_DATE_SOURCES = ("jsonld", "meta", "htmldate")  # dates re-derived from the HTML; others (feed, sitemap) are kept


@dataclass(frozen=True)
class Job:
    """One stored page to re-extract (picklable: sent to a worker process)."""

    article_id: int
    url: str
    final_url: str
    status: int
    charset: str
    charset_source: str
    fetched_at: str
    compressed: bytes
    published: str | None
    date_source: str | None


@dataclass
class ReextractReport:
    counts: Counter = field(default_factory=Counter)  # checked, unchanged, changed, suspect, failed
    changed: list[tuple[str, int, int, int]] = field(default_factory=list)  # (url, version, +words, -words)

    def summary(self) -> str:
        c = self.counts
        return (f"reextract: checked {c['checked']}, unchanged {c['unchanged']}, changed {c['changed']}, "
                f"suspect {c['suspect']}, failed {c['failed']}")


def extract_job(job: Job):
    """In a worker: decompress, decode, extract and fingerprint. Returns Extracted, or a reason string."""
    from .extract.worker import Skipped, extract
    from .topics import TopicMatcher

    body = zstandard.ZstdDecompressor().decompress(job.compressed)
    try:
        html = body.decode(job.charset or "utf-8", errors="replace")
    except LookupError:
        html = body.decode("utf-8", errors="replace")
    page = Page(url=job.url, final_url=job.final_url or job.url, status=job.status or 200, headers={}, body=body,
                html=html, charset=job.charset or "utf-8", charset_source=job.charset_source or "default",
                charset_mismatch=False, fetched_at=datetime.fromisoformat(job.fetched_at))
    ex = extract(page, Candidate(url=job.url, source="reextract"), TopicMatcher(()))
    if isinstance(ex, Skipped):
        return ex.reason
    if job.date_source and job.date_source not in PAGE_DATE_SOURCES:  # a feed's date is not in the HTML
        ex = replace(ex, document=replace(ex.document, published=job.published, date_source=job.date_source))
    return ex


_SELECT = ("SELECT a.id, a.url, v.final_url, v.status, v.charset, v.charset_source, v.fetched_at, v.published, "
           "v.date_source, v.blob_hash FROM articles a JOIN versions v ON v.article_id = a.id AND v.n = a.current_version "
           "WHERE v.blob_hash IS NOT NULL AND v.fetched_at >= ? ORDER BY a.id")


def reextract(cfg: Config, since: str | None = None, progress: bool = False) -> ReextractReport:
    """Re-extract the current version of every article fetched since `since` (ISO, default: all)."""
    from .store import open_db
    from .store.writer import Writer

    report = ReextractReport()
    db = open_db(cfg.database)
    writer = Writer(db, cfg)
    conn = writer.conn
    todo = conn.execute(_SELECT, (since or "",)).fetchall()
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max(1, cfg.workers), mp_context=ctx) as pool, progress_line("re-extracting", len(todo), "articles", enabled=None if progress else False) as bar:
        for start in range(0, len(todo), BATCH):
            jobs = []
            for aid, url, final_url, status, charset, csrc, fetched_at, published, dsrc, blob in todo[start:start + BATCH]:
                data = conn.execute("SELECT data FROM blobs WHERE hash = ?", (blob,)).fetchone()
                if data is None:
                    report.counts["checked"] += 1
                    report.counts["failed"] += 1
                    continue
                jobs.append(Job(aid, url, final_url, status, charset, csrc, fetched_at, data[0], published, dsrc))
            for job, ex in zip(jobs, pool.map(extract_job, jobs, chunksize=4)):
                report.counts["checked"] += 1
                bar.advance()
                if not isinstance(ex, Extracted):
                    report.counts["failed"] += 1
                    continue
                stored = writer.store_reextract(job.article_id, ex)
                if stored.outcome == "version":
                    report.counts["changed"] += 1
                    added, removed = conn.execute("SELECT words_added, words_removed FROM versions WHERE article_id = ? "
                                                  "AND n = ?", (job.article_id, stored.version)).fetchone()
                    report.changed.append((job.url, stored.version, added, removed))
                else:
                    report.counts[stored.outcome] += 1
    conn.close()
    return report


@click.command("reextract")
@config_options
@click.option("--since", default=None, metavar="DATE",
              help="Only articles whose current version was fetched on or after this ISO date.")
def reextract_cmd(cfg, since):
    """Re-extract stored HTML with the installed extractor; a changed text becomes a "reextract" version."""
    if since is not None:
        try:
            datetime.fromisoformat(since)
        except ValueError:
            raise click.BadParameter(f"expected an ISO date like 2018-06-01, got {since!r}", param_hint="--since")
    if not Path(cfg.database).is_file():
        fail(f"no database at {cfg.database}", 1)
    report = reextract(cfg, since, progress=True)
    for url, n, added, removed in report.changed:
        click.echo(f"changed {url} v{n} +{added} -{removed}")
    click.echo(report.summary())
