"""`ingest export`, `serve`, `history` and `reextract`: commands that are loaded on use.

Registered in ingest/cli/__init__.py (`LazyGroup.LAZY`). The read commands open the
database read-only and never create it: a mistyped --db is a one-line error (exit 1), not
a new empty database. Bad options exit 2 (click usage errors).
"""
from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from pathlib import Path

import click

from ingest.config import Config
from ingest.read.query import FLAG_KINDS, ExportFilters, ReadError, parse_bound

from . import common as clikit


def _iso_bound(ctx, param, value):
    if value is None:
        return None
    try:
        parse_bound(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date or datetime (e.g. 2026-11-01 or 2026-11-01T08:00)")
    return value


@click.command("export")
@clikit.config_options
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "parquet"]), default="jsonl", show_default=True,
              help="Output format.")
@click.option("-o", "--output", default="-", metavar="FILE",
              help="Output file (default: stdout; parquet requires a file).")
@click.option("--versions", is_flag=True, help="One row per stored version instead of per article.")
@click.option("--since", callback=_iso_bound, metavar="DATE", help="Published (else first seen) at or after.")
@click.option("--until", callback=_iso_bound, metavar="DATE",
              help="Published (else first seen) at or before (a date includes the whole day).")
@click.option("--topic", help="Only articles with this topic.")
@click.option("--site", help="Only articles from this site (host name as stored).")
@click.option("--clean", is_flag=True, help="Leave out articles currently flagged duplicate or garbled.")
@click.option("--flag", "flag", type=click.Choice(FLAG_KINDS), metavar="KIND",
              help="Only articles with this current flag: duplicate, garbled, extraction_suspect, a duplicate "
                   "kind (exact, near, syndicated, subset) or a garble reason (patchwork, mojibake, ...).")
def export_cmd(cfg, fmt, output, versions, since, until, topic, site, clean, flag):
    """Export articles (current versions) or all versions as JSON Lines, CSV or Parquet."""
    from ingest.read.export import export

    if fmt == "parquet" and output == "-":
        raise click.UsageError("--format parquet needs --output FILE")
    if clean and flag in ("duplicate", "garbled", "exact", "near", "syndicated", "subset"):
        raise click.UsageError(f"--clean and --flag {flag} exclude each other")
    filters = ExportFilters(since=since, until=until, topic=topic, site=site, clean=clean, flag=flag)
    try:
        n = export(cfg.database, output, fmt, versions=versions, filters=filters)
    except ReadError as e:
        clikit.fail(str(e), 1)
    except BrokenPipeError:  # `ingest export | head`: the reader left, that is not an error
        sys.stderr.close()
        sys.exit(0)
    except OSError as e:
        clikit.fail(f"export failed: {e}", 1)
    if output != "-":
        click.echo(f"exported {n} {'versions' if versions else 'articles'} to {output}", err=True)


@click.command("serve")
@clikit.config_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="Port.")
@click.option("--open", "open_browser", is_flag=True, help="Open a browser on the database page.")
def serve_cmd(cfg, host, port, open_browser):
    """Browse the database read-only in Datasette (views, full-text search, canned queries)."""
    from ingest.read.serve import serve

    try:
        serve(cfg.database, host=host, port=port, open_browser=open_browser)
    except ReadError as e:
        clikit.fail(str(e), 1)


@click.command("history")
@clikit.config_options
@click.argument("url")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def history_cmd(cfg: Config, url: str, fmt: str) -> None:
    """The versions of the article at URL, with a word diff between consecutive versions."""
    from ingest.read.history import as_json, find_article, load_history, render_text
    from ingest.store.sqlite.connection import connect

    if not Path(cfg.database).is_file():
        clikit.fail(f"no database at {cfg.database}", 1)
    conn = connect(cfg.database, readonly=True)
    try:
        article_id = find_article(conn, url)
        if article_id is None:
            clikit.fail(f"no article stored under {url}", 1)
        h = load_history(conn, article_id)
    finally:
        conn.close()
    click.echo(as_json(h) if fmt == "json" else render_text(h))


@click.command("reextract")
@clikit.config_options
@click.option("--since", default=None, metavar="DATE",
              help="Only articles whose current version was fetched on or after this ISO date.")
def reextract_cmd(cfg: Config, since: str | None) -> None:
    """Re-extract stored HTML with the installed extractor; a changed text becomes a "reextract" version."""
    from ingest.run.reextract import reextract

    if since is not None:
        try:
            datetime.fromisoformat(since)
        except ValueError:
            raise click.BadParameter(f"expected an ISO date like 2018-06-01, got {since!r}", param_hint="--since")
    if not Path(cfg.database).is_file():
        clikit.fail(f"no database at {cfg.database}", 1)
    report = asyncio.run(reextract(cfg, since, progress=True))
    for url, n, added, removed in report.changed:
        click.echo(f"changed {url} v{n} +{added} -{removed}")
    click.echo(report.summary())


@click.command("explain")
@clikit.config_options
@click.argument("url")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def explain_cmd(cfg: Config, url: str, fmt: str) -> None:
    """Why the article at URL is (or is not) a copy or garbled: its verdicts with the aligned text.

    \b
    Example:
      ingest explain https://example.com/news/summit-copy
    """
    from ingest.read.api import Reader
    from ingest.read.explain import as_json, explain, render_text

    try:
        with Reader(cfg.database) as reader:
            e = explain(reader, url)
    except ReadError as err:
        clikit.fail(str(err), 1)
    if e is None:
        clikit.fail(f"no article stored under {url}", 1)
    click.echo(as_json(e) if fmt == "json" else render_text(e))
