"""`ingest demo`: the whole pipeline on a generated news world, no network needed."""
from __future__ import annotations

import tempfile
from pathlib import Path

import click

from ingest.config import Config, parse_config
from ingest.read.api import Reader
from ingest.run.daemon import run_once

from .site import NewsWorld

TOPICS = [{"name": "trump-kim-summit",
           "keywords": ["summit", "Kim Jong[ -]?Un", "North Korea", "Pyongyang", "Singapore", "denucleari[sz]ation"]}]

def _report(db: str) -> None:
    with Reader(db) as reader:
        for a in reader.articles():
            marks = []
            if a.duplicate:
                marks.append(f"duplicate:{a.duplicate.kind} of {a.duplicate.of} ({a.duplicate.similarity})")
            if a.garbled:
                marks.append(f"garbled:{'+'.join(a.garbled.reasons)} ({a.garbled.score:.2f})")
            click.echo(f"#{a.id:<3} v{a.version}  {a.site:<16} {a.title[:48]:<48}  {', '.join(marks) or 'clean'}")


async def demo(db_path: str | None, keep: bool = False, cfg: Config | None = None) -> int:
    """Run the demonstration; `db_path` None: a temporary database (kept with `keep`)."""
    tmp = None if db_path else tempfile.TemporaryDirectory(prefix="ingest-demo-")
    db = db_path or str(Path(tmp.name if tmp else ".") / "demo.db")
    try:
        return await _demo(db)
    finally:
        if tmp is not None and not keep:
            tmp.cleanup()


async def _demo(db: str) -> int:
    async with NewsWorld() as world:
        cfg = parse_config({"database": db, "feeds": [{"url": u} for u in world.feed_urls], "topics": TOPICS,
                            "fetch": {"allow_private_addresses": True, "per_host_delay": 0.1}})
        click.echo(f"Serving {len(world.outlets)} outlets on 127.0.0.1; ingesting into {db}\n")
        pipe = await run_once(cfg)
        click.echo(f"First pass: {dict(pipe.tally.counts)}")
        _report(db)
        story = world.outlets["harbour-times"].stories["summit-1"]
        world.edit("harbour-times", "summit-1", title=story.title + " (updated)",
                   text=story.text + "\n\nThis article was updated with reaction from Seoul.")
        click.echo("\nThe Harbour Times edits one story; second pass:")
        pipe = await run_once(cfg)
        click.echo(f"Second pass: {dict(pipe.tally.counts)}")
        _report(db)
    click.echo(f"\nExplore: ingest export --db {db} --format jsonl | ingest stats --db {db}")
    return 0

