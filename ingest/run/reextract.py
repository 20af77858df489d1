"""`ingest reextract`: rebuild article text from the stored HTML with the installed extractor.

After a trafilatura upgrade (or a fix to extraction) the stored texts may differ from
what the extractor now makes of the same bytes. Re-extraction reads each article's
current HTML from the store in batches, extracts it in the worker processes (all cores),
and the store records a different result as a version with change "reextract", never as
a publisher edit (the root cause of diffengine#7 and newsdiffs#50 in the prior-art notes).
A collapsed extraction is flagged `extraction_suspect` and not stored, as for fetches.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

from ingest.analyse.topics import TopicMatcher
from ingest.config import Config
from ingest.extract import ExtractPool
from ingest.progress import progress as progress_line
from ingest.records import Extracted, ReextractJob, Skipped
from ingest.store import open_store
from ingest.store.protocol import ReextractStore

BATCH = 64  # pages read from the store and extracted per round: memory stays flat


@dataclass
class ReextractReport:
    counts: Counter[str] = field(default_factory=Counter)  # checked, unchanged, changed, suspect, failed
    changed: list[tuple[str, int, int, int]] = field(default_factory=list)  # (url, version, +words, -words)

    def summary(self) -> str:
        c = self.counts
        return (f"reextract: checked {c['checked']}, unchanged {c['unchanged']}, changed {c['changed']}, "
                f"suspect {c['suspect']}, failed {c['failed']}")


async def reextract(cfg: Config, since: str | None = None, progress: bool = False) -> ReextractReport:
    """Re-extract the current version of every article fetched since `since` (ISO, default: all)."""
    report = ReextractReport()
    pool = ExtractPool(cfg.workers, TopicMatcher(()), timeout=cfg.extract_timeout).start()
    try:
        async with open_store(cfg) as store:
            total = await store.reextract.count(since)
            with progress_line("re-extracting", total, "articles", enabled=None if progress else False) as bar:
                async for jobs in store.reextract.pages(since, BATCH):
                    results = await asyncio.gather(*(pool.reextract(job) for job in jobs))
                    for job, ex in zip(jobs, results):
                        report.counts["checked"] += 1
                        bar.advance()
                        await _record(store.reextract, job, ex, report)
    finally:
        pool.close()
    return report


async def _record(store: ReextractStore, job: ReextractJob, ex: Extracted | Skipped, report: ReextractReport) -> None:
    if not isinstance(ex, Extracted):
        report.counts["failed"] += 1
        return
    stored = await store.store(job, ex)
    if stored.outcome == "version":
        report.counts["changed"] += 1
        added, removed = stored.words or (0, 0)
        report.changed.append((job.url, stored.version, added, removed))
    else:
        report.counts[stored.outcome] += 1
