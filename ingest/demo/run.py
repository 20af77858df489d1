"""`ingest demo`: the whole pipeline on a small news world served on 127.0.0.1, no network needed.

It tells a story a newcomer can follow: four named outlets (demo/newsroom.py), what was kept
and why, each copy with what it copies and the evidence in one line, the garbled page with
its reasons, the story left out as off topic, an edited article becoming a second version,
and then the commands to look closer, printed so that they run as they are.
"""
from __future__ import annotations

import shlex
import tempfile
import textwrap
from pathlib import Path

import click

from ingest.config import parse_config
from ingest.read.api import Reader
from ingest.records import Article
from ingest.run.daemon import run_once

from .newsroom import OUTLETS, edited_cost, newsroom
from .site import NewsWorld

TOPIC = {"name": "trump-kim-summit",
         "keywords": ["summit", "Kim Jong[ -]?Un", "North Korea", "Pyongyang", "Singapore", "denucleari[sz]ation"]}
WIDTH = 100


def outlet(site_or_url: str) -> str:
    """"Harbour Times" for harbour-times.example:PORT (or a URL on it)."""
    host = site_or_url.split("://")[-1].split("/")[0].split(":")[0]
    return OUTLETS.get(host.removesuffix(".example"), host)


def _say(text: str = "", indent: int = 0) -> None:
    if not text:
        click.echo()
        return
    pad = " " * indent
    click.echo(textwrap.fill(text, WIDTH, initial_indent=pad, subsequent_indent=pad + "  "))


def verdict(a: Article, by_url: dict[str, Article]) -> str:
    """What ingest decided about `a`, with the reason in one line."""
    parts = []
    if a.duplicate:
        d = a.duplicate
        of = by_url.get(d.of or "")
        source = f'{outlet(d.of)}\'s "{of.title}"' if of and d.of else (d.of or "an earlier article")
        parts.append(f"COPY ({d.kind}) of {source}" + (f": {_reason(d.summary)}" if d.summary else ""))
    if a.garbled:
        g = a.garbled
        parts.append(f"GARBLED (score {g.score:.2f})" + (f": {g.summary}" if g.summary else ""))
    return "; ".join(parts) or "an original: neither a copy nor garbled"


def _reason(summary: str) -> str:
    """The evidence without its "<kind> copy of <url>: " opening (the report names the original)."""
    head, sep, rest = summary.partition(": ")
    return rest if sep and " copy of " in head else summary


def report(db: str, served: dict[str, str]) -> list[Article]:
    """Every stored article with its verdict; then what was served but not kept."""
    with Reader(db) as reader:
        articles = sorted(reader.articles(), key=lambda a: (a.published is None, a.published, a.id))
    by_url = {a.url: a for a in articles}
    for a in articles:
        when = f"{a.published:%H:%M} " if a.published else ""
        _say(f'{when}{outlet(a.site)}: "{a.title}"', 2)
        _say("-> " + verdict(a, by_url), 6)
    for url, title in served.items():
        if url not in by_url:
            _say(f'{outlet(url)}: "{title}"', 2)
            _say(f"-> NOT KEPT: off topic (no keyword of the topic {TOPIC['name']} in its title or text)", 6)
    return articles


async def demo(db_path: str | None, keep: bool = False) -> int:
    """Run the demonstration; `db_path` None: a temporary database (left in place with `keep`)."""
    if db_path:
        return await _demo(db_path, kept=True)
    if keep:
        return await _demo(str(Path(tempfile.mkdtemp(prefix="ingest-demo-")) / "demo.db"), kept=True)
    with tempfile.TemporaryDirectory(prefix="ingest-demo-") as tmp:
        return await _demo(str(Path(tmp) / "demo.db"), kept=False)


async def _demo(db: str, kept: bool) -> int:
    async with NewsWorld(newsroom(), named=True) as world:
        cfg = parse_config({"database": db, "feeds": [{"url": u} for u in world.feed_urls], "topics": [TOPIC],
                            "fetch": {"per_host_delay": 0.1}})
        served = {o.url(s.slug): s.title for o in world.outlets.values() for s in o.stories.values()}
        _say(f"Four news sites are served on this machine: {', '.join(OUTLETS.values())}. ingest reads their "
             f"feeds, keeps the articles about the topic {TOPIC['name']} and checks each one against the others.")
        _say(f"Database: {db}")
        _say()
        pipe = await run_once(cfg, hosts=world.pins)
        _say(f"First pass: {pipe.tally.summary()}. Times are UTC.")
        articles = report(db, served)

        cost = world.outlets["harbour-times"].stories["singapore-counts-the-cost"]
        world.edit("harbour-times", cost.slug, title=edited_cost().title, text=edited_cost().text)
        _say()
        _say(f'The Harbour Times adds a paragraph to "{cost.title}".')
        pipe = await run_once(cfg, hosts=world.pins)
        _say(f"Second pass: {pipe.tally.summary()}.")
        with Reader(db) as reader:
            edited = next(a for a in reader.articles() if a.url == world.outlets["harbour-times"].url(cost.slug))
        _say(f'{outlet(edited.site)}: "{edited.title}" is now version {edited.version} of {edited.versions}; '
             "the first version is kept.", 2)
    _closing(db, kept, articles, edited)
    return 0


def _closing(db: str, kept: bool, articles: list[Article], edited: Article) -> None:
    """The commands to look closer, runnable as printed (the database must still be there)."""
    _say()
    if not kept:
        _say("The database was temporary and is gone. To keep it and look closer:")
        click.echo("  ingest demo --db demo.db")
        return
    copy = next((a for a in articles if a.duplicate and not a.garbled), None)
    garbled = next((a for a in articles if a.garbled), None)
    quoted = shlex.quote(db)
    _say("Look closer:")
    lines = [(f"ingest stats --db {quoted}", "what is stored and flagged, per feed")]
    if copy:
        lines.append((f"ingest explain --db {quoted} {copy.url}", "why it is a copy, sentence by sentence"))
    if garbled:
        lines.append((f"ingest explain --db {quoted} {garbled.url}", "why it is garbled"))
    lines.append((f"ingest history --db {quoted} {edited.url}", "its two versions, with a word diff"))
    lines.append((f"ingest serve --db {quoted}", "all of it in Datasette, in a browser"))
    for command, why in lines:
        click.echo(f"  {command}    # {why}")

