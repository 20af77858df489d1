"""The `ingest` command: a thin layer over the library functions of each stage.

Exit codes: 0 success, 2 bad usage or config, 1 any other failure.
"""
from __future__ import annotations

import asyncio
import json
import sys

import click

from .clikit import config_options, fail


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ingest")
def main():
    """Collect news coverage from feeds into SQLite, keep every version, flag copies."""


@main.command()
@config_options
@click.option("--once", is_flag=True, help="Poll every feed once, finish all resulting work, exit.")
def run(cfg, once):
    """Run the daemon (or one pass with --once) on the configured feeds."""
    from .daemon import AlreadyRunning, Daemon, DaemonLock, run_once

    if not cfg.feeds:
        click.echo("ingest: no feeds configured (add some under `feeds:` in the config)", err=True)
    try:
        with DaemonLock(cfg.database):
            if once:
                pipe = asyncio.run(run_once(cfg))
                click.echo(_summary(pipe.tally.counts), err=True)
            else:
                asyncio.run(Daemon(cfg).run())
    except AlreadyRunning as e:
        fail(str(e), 1)


@main.command()
@config_options
@click.argument("urls", nargs=-1)
@click.option("--urls", "url_file", type=click.Path(dir_okay=False), help="File with one URL per line.")
@click.option("--dry-run", is_flag=True, help="List what would be fetched; change nothing.")
def backfill(cfg, urls, url_file, dry_run):
    """Fetch and store articles from URLs given as arguments or in a file."""
    from .backfill import backfill as run_backfill
    from .sources.urls import read_url_file, url_candidates

    todo = list(urls)
    if url_file:
        try:
            todo += read_url_file(url_file)
        except OSError as e:
            fail(f"cannot read URL file: {e.strerror or e}: {url_file}", 1)
    if not todo:
        raise click.UsageError("give URLs as arguments or --urls FILE")
    report = asyncio.run(run_backfill(cfg, url_candidates(todo), dry_run=dry_run))
    for url in report.planned:
        click.echo(url)
    click.echo(_summary(report.counts), err=True)


@main.command()
@config_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def stats(cfg, as_json):
    """What is stored and flagged, and the health of each feed."""
    import os

    from .read.stats import collect, render

    if not os.path.exists(cfg.database):
        fail(f"no database at {cfg.database}", 1)
    s = collect(cfg.database)
    click.echo(json.dumps(s.as_dict(), indent=2) if as_json else render(s))


@main.command()
@click.option("--db", "db_path", default=None, metavar="PATH", help="Keep the demo database here (default: a temp dir).")
def demo(db_path):
    """Serve a generated news world on 127.0.0.1, ingest it, show what was stored and flagged."""
    from .demo.run import demo as run_demo

    sys.exit(run_demo(db_path))


def _summary(counts) -> str:
    return "done: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing to do")


def _register_optional() -> None:
    """Commands that live beside their stage."""
    from .read.commands import export_cmd, serve_cmd

    main.add_command(export_cmd)
    main.add_command(serve_cmd)


try:
    _register_optional()
except ImportError:  # pragma: no cover - the read side is being built
    pass
