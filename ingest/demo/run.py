"""`ingest demo`: the whole pipeline on a generated news world, no network needed."""
from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import click

from ingest.config import parse_config
from ingest.daemon import run_once
from ingest.store.db import connect

from .site import NewsWorld

TOPICS = [{"name": "trump-kim-summit",
           "keywords": ["summit", "Kim Jong[ -]?Un", "North Korea", "Pyongyang", "Singapore", "denucleari[sz]ation"]}]

_REPORT_SQL = """
SELECT a.id, a.url, a.site, v.title, a.current_version,
       (SELECT json_group_array(f.kind || ':' || COALESCE(f.subkind, '') ||
               COALESCE(' of #' || f.other_article_id, '') || ' (' || round(f.score, 2) || ')')
          FROM flags f WHERE f.article_id = a.id AND f.version_n = a.current_version) AS flags
FROM articles a JOIN versions v ON v.article_id = a.id AND v.n = a.current_version ORDER BY a.id
"""


def _report(db: str) -> None:
    conn = connect(db, readonly=True)
    try:
        for aid, url, site, title, version, flags in conn.execute(_REPORT_SQL):
            marks = json.loads(flags)
            click.echo(f"#{aid:<3} v{version}  {site:<16} {title[:48]:<48}  {', '.join(marks) if marks else 'clean'}")
    finally:
        conn.close()


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


def demo(db_path: str | None) -> int:
    db = db_path or str(Path(tempfile.mkdtemp(prefix="ingest-demo-")) / "demo.db")
    return asyncio.run(_demo(db))
