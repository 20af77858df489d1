"""The `ingest` command: a thin layer over the library functions of each stage.

Exit codes: 0 success, 2 bad usage or config, 1 any other failure, 128 + signal number
when a signal stopped a one-shot command (130 for Ctrl-C, 143 for SIGTERM).
"""
from __future__ import annotations

import asyncio
import importlib
import json
import sys
from typing import TYPE_CHECKING

import click

from .common import Interrupted, config_options, fail, interrupted_exit, run_interruptible

if TYPE_CHECKING:
    from datetime import datetime

    from ingest.config import Config


class LazyGroup(click.Group):
    """A group whose commands that live beside their stage are imported only when used.

    They import the store (sqlite_utils, which imports pandas: ~0.35 s); loaded eagerly,
    that would delay `ingest run` starting its forkserver (docs/performance.md).
    This is click's documented lazy-loading pattern.
    """

    LAZY = {
        "export": "ingest.cli.read:export_cmd",
        "serve": "ingest.cli.read:serve_cmd",
        "history": "ingest.cli.read:history_cmd",
        "explain": "ingest.cli.read:explain_cmd",
        "reextract": "ingest.cli.read:reextract_cmd",
    }

    def list_commands(self, ctx):
        return sorted([*super().list_commands(ctx), *self.LAZY])

    def get_command(self, ctx, name):
        if name in self.LAZY:
            module, attr = self.LAZY[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ingest")
def main():
    """Collect news coverage from feeds into SQLite, keep every version, flag copies."""


def _archive_option(f):
    return click.option("--archive", nargs=2, type=(click.Choice(["warc"]), click.Path(file_okay=False)), default=None,
                        metavar="warc DIR", help="Also keep every fetched response as WARC files in DIR.")(f)


def _open_archive(archive):
    if not archive:
        return None
    from ingest.run.archive import WarcArchive

    return WarcArchive(archive[1])


@main.command()
@config_options
@click.option("--once", is_flag=True, help="Poll every feed once, finish all resulting work, exit.")
@click.option("--grace", type=click.FloatRange(min=0), default=20.0, show_default=True, metavar="SECONDS",
              help="On SIGTERM/SIGINT, time in-flight work gets before it is abandoned.")
@_archive_option
def run(cfg, once, grace, archive):
    """Run the daemon (or one pass with --once) on the configured feeds."""
    from ingest.extract.pool import start_forkserver

    start_forkserver()  # the workers' imports then overlap ours (docs/performance.md); no socket is open yet
    from ingest.run.daemon import AlreadyRunning, Daemon, DaemonLock, run_once

    if not cfg.feeds:
        click.echo("ingest: no feeds configured (add some under `feeds:` in the config)", err=True)
    store = _open_archive(archive)
    try:
        with DaemonLock(cfg.database):
            if once:
                pipe = run_interruptible(run_once(cfg, archive=store))
                click.echo(_summary(pipe.tally.counts), err=True)
            else:
                asyncio.run(Daemon(cfg, grace=grace, archive=store).run())
    except AlreadyRunning as e:
        fail(str(e), 1)
    except Interrupted as e:
        interrupted_exit(e)
    finally:
        if store is not None:
            store.close()


def _when(value: str | None, option: str):
    """An ISO date or datetime; naive values are UTC."""
    if value is None:
        return None
    from datetime import datetime, timezone

    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected an ISO date like 2018-06-01, got {value!r}", param_hint=option) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


@main.command()
@config_options
@click.argument("urls", nargs=-1)
@click.option("--urls", "url_file", type=click.Path(dir_okay=False), help="File with one URL per line.")
@click.option("--sitemap", "sitemaps", multiple=True, metavar="URL",
              help="A sitemap, sitemap index or site URL (robots.txt discovery). Repeatable.")
@click.option("--warc", "warcs", multiple=True, metavar="FILE|GLOB|URL",
              help="A WARC/ARC file (gzip'd or not): a path, a glob ('crawl/*.warc.gz'), an http(s):// or s3:// "
                   "URL (streamed, never copied to disk). Repeatable.")
@click.option("--cc-news", "cc_news", is_flag=False, flag_value="", default=None, metavar="[YYYY-MM[-DD]]",
              help="Common Crawl's CC-NEWS files of a month or a day (their names carry the date), or of "
                   "--since/--until, from cc_news.base_url.")
@click.option("--since", default=None, help="Sitemaps: only pages published/modified on or after this date. "
                                            "CC-NEWS: files from this date on.")
@click.option("--until", default=None, help="Sitemaps: only pages published/modified before this date. "
                                            "CC-NEWS: files up to this date (a day: the whole day).")
@click.option("--dry-run", is_flag=True, help="List what would be fetched or stored; change nothing.")
@_archive_option
def backfill(cfg, urls, url_file, sitemaps, warcs, cc_news, since, until, dry_run, archive):
    """Store articles from URLs, a URL file, sitemaps, WARC files or CC-NEWS. Reruns skip what is done."""
    from ingest.run import backfill as bf
    from ingest.sources.sitemap import SitemapStats
    from ingest.sources.urls import read_url_file
    from ingest.sources.warc import WarcStats

    todo = list(urls)
    if url_file:
        try:
            todo += read_url_file(url_file)
        except OSError as e:
            fail(f"cannot read URL file: {e.strerror or e}: {url_file}", 1)
    if not (todo or sitemaps or warcs or cc_news is not None):
        raise click.UsageError("give URLs, --urls FILE, --sitemap URL, --warc FILE or --cc-news [MONTH|DAY]")
    since_dt, until_dt = _when(since, "--since"), _when(until, "--until")
    warc_files = _warc_inputs(list(warcs)) + (_cc_news_files(cfg, cc_news, until, since_dt, until_dt)
                                              if cc_news is not None else [])
    sm_stats, warc_stats = SitemapStats(), WarcStats()
    sources = ([bf.from_urls(todo)] if todo else []) + ([bf.from_sitemaps(list(sitemaps), since_dt, until_dt, sm_stats)]
                                                        if sitemaps else []) + ([bf.from_warcs(warc_files, warc_stats)]
                                                                                if warc_files else [])
    store = _open_archive(archive)
    try:
        for source in sources:
            report = run_interruptible(bf.backfill(cfg, source, dry_run=dry_run, archive=store))
            for url in report.planned:
                click.echo(url)
            click.echo(_summary(report.counts), err=True)
    except Interrupted as e:
        interrupted_exit(e)
    finally:
        if store is not None:
            store.close()
    if sitemaps:
        click.echo(f"sitemaps: {sm_stats}", err=True)
    if warc_files:
        click.echo(f"warc: {warc_stats}", err=True)


def _warc_inputs(values: list[str]) -> list[str]:
    """--warc values as files and URLs: globs expanded, local files checked; one-line errors."""
    from ingest.sources.remote import expand

    try:
        return expand(values)
    except OSError as e:  # FileNotFoundError, RemoteError (s3fs missing, bad scheme)
        fail(str(e), 1)
        raise  # (fail exits)


def _cc_news_files(cfg: Config, value: str, until: str | None, since_dt: datetime | None,
                   until_dt: datetime | None) -> list[str]:
    """The CC-NEWS file URLs of --cc-news [MONTH|DAY] and --since/--until (a bare date: that whole day)."""
    from datetime import UTC, datetime, timedelta

    from ingest.sources.ccnews import CCNewsError, cc_news_files, period

    try:
        if value:
            start, end = period(value)
        elif since_dt is None and until_dt is None:
            raise CCNewsError("--cc-news needs a month (2018-06), a day (2018-06-12) or --since/--until")
        else:
            start, end = datetime(2016, 8, 1, tzinfo=UTC), datetime.now(UTC)
        if since_dt is not None:
            start = max(start, since_dt)
        if until_dt is not None:
            whole_day = until is not None and len(until.strip()) == 10  # a bare date: that whole day
            end = min(end, until_dt + (timedelta(days=1) if whole_day else timedelta(seconds=1)))
        files = cc_news_files(cfg.cc_news.base_url, start, end, user_agent=cfg.fetch.user_agent,
                              timeout=cfg.fetch.timeout)
    except (CCNewsError, OSError) as e:
        fail(str(e), 1)
    if not files:
        fail(f"no CC-NEWS file from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC", 1)
    return files


@main.command()
@config_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def stats(cfg, as_json):
    """What is stored and flagged, and the health of each feed."""
    import os

    from dataclasses import asdict

    from ingest.read.stats import collect, render

    if not os.path.exists(cfg.database):
        fail(f"no database at {cfg.database}", 1)
    s = collect(cfg.database)
    click.echo(json.dumps(asdict(s), indent=2) if as_json else render(s))


@main.command()
@click.option("--db", "db_path", default=None, metavar="PATH", help="Keep the demo database here (default: a temp dir).")
def demo(db_path):
    """Serve a generated news world on 127.0.0.1, ingest it, show what was stored and flagged."""
    from ingest.demo.run import demo as run_demo

    sys.exit(run_demo(db_path))


def _summary(counts) -> str:
    return "done: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing to do")
