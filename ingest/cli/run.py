"""Commands that collect: run (the daemon, or one pass), backfill, reextract, demo."""
from __future__ import annotations

import asyncio
from collections import Counter
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from ingest.config import Config
from ingest.logs import say

from .common import FAILED, USAGE, command_options, fail, run_interruptible

if TYPE_CHECKING:
    from ingest.run.archive import WarcArchive
    from ingest.run.cluster import Cluster


def _archive_option(f: Any) -> Any:
    return click.option("--archive", nargs=2, type=(click.Choice(["warc"]), click.Path(file_okay=False)), default=None,
                        metavar="warc DIR", help="Also keep every fetched response as WARC files in DIR.")(f)


def _cluster_option(f: Any) -> Any:
    return click.option("--cluster", default=None, metavar="local:N|tcp://HOST:PORT",
                        help="Extract on a Dask cluster: N local worker processes, or a running scheduler "
                             "(docs/backfill.md).")(f)


def _start_cluster(cfg: Config, spec: str | None) -> Cluster | None:
    """The Dask cluster of --cluster, started or reached now; one-line errors."""
    if spec is None:
        return None
    from ingest.analyse.topics import TopicMatcher
    from ingest.run.cluster import Cluster, ClusterError, parse_spec

    try:
        parse_spec(spec)
    except ClusterError as e:
        fail(str(e), USAGE)
    try:
        return Cluster.start(spec, TopicMatcher.from_config(cfg.topics))
    except ClusterError as e:
        fail(str(e), FAILED)


def _open_archive(archive: tuple[str, str] | None) -> WarcArchive | None:
    if not archive:
        return None
    from pathlib import Path

    from ingest.run.archive import WarcArchive

    parent = Path(archive[1]).absolute().parent
    if not parent.is_dir():  # DIR itself is created; a mistyped path is not, with all its parents
        fail(f"no folder {parent} for the archive {archive[1]} (create it first)", USAGE)

    return WarcArchive(archive[1])


@click.command()
@command_options
@click.option("--once", is_flag=True, help="Poll every feed once, finish all resulting work, exit.")
@click.option("--grace", type=click.FloatRange(min=0), default=20.0, show_default=True, metavar="SECONDS",
              help="On SIGTERM/SIGINT, time in-flight work gets before it is abandoned.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None, metavar="PORT",
              help="Serve Prometheus metrics on this port (docs/deploy.md).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Interface for --metrics-port.")
@_archive_option
@_cluster_option
def run(cfg: Config, once: bool, grace: float, metrics_port: int | None, metrics_host: str,
        archive: tuple[str, str] | None, cluster: str | None) -> None:
    """Run the daemon on the configured feeds (or one pass with --once).

    Polls each feed on its own adaptive schedule and re-checks stored articles for edits, until
    SIGTERM or Ctrl-C (in-flight work gets --grace seconds). One daemon per database.

    \b
    Examples:
      ingest run                                 # ./config.yaml, database ingest.db
      ingest run --once --log-format json        # one pass, JSON log lines
      ingest run --metrics-port 9464             # with Prometheus metrics
    """
    if cluster is None:
        from ingest.extract import forkserver

        forkserver.start()  # the workers' imports then overlap ours (docs/performance.md); no socket is open yet
    from ingest.run.daemon import AlreadyRunning, Daemon, DaemonLock, run_once
    from ingest.store import check_database, is_postgres

    check_database(cfg.database, write=True)
    if not cfg.feeds:
        fail("no feeds configured: add some under `feeds:` in the config (see config.yaml)", USAGE)
    engine = _start_cluster(cfg, cluster)
    store = _open_archive(archive)
    try:
        # one daemon per SQLite file; on PostgreSQL any number share the corpus (docs/postgres.md)
        with nullcontext() if is_postgres(cfg.database) else DaemonLock(cfg.database):
            if once:
                pipe = run_interruptible(run_once(cfg, archive=store, engine=engine))
                say("done: " + pipe.tally.summary(), counts=dict(pipe.tally.counts))
                if pipe.polls and pipe.polls_failed == pipe.polls:
                    fail(f"none of the {pipe.polls} feeds could be read", FAILED)
            else:
                asyncio.run(Daemon(cfg, grace=grace, archive=store, metrics=(metrics_host, metrics_port)
                                   if metrics_port is not None else None, engine=engine).run())
    except AlreadyRunning as e:
        fail(str(e), FAILED)
    finally:
        if store is not None:
            store.close()
        if engine is not None:
            engine.close()


def _when(value: str | None, option: str) -> datetime | None:
    """An ISO date or datetime; naive values are UTC."""
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected an ISO date like 2018-06-01, got {value!r}", param_hint=option) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@click.command()
@command_options
@click.argument("urls", nargs=-1)
@click.option("--urls", "url_file", type=click.Path(dir_okay=False), help="File with one URL per line ('#' comments).")
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
@click.option("--dry-run", is_flag=True, help="List what would be fetched or stored; write nothing.")
@_archive_option
@_cluster_option
def backfill(cfg: Config, urls: tuple[str, ...], url_file: str | None, sitemaps: tuple[str, ...],
             warcs: tuple[str, ...], cc_news: str | None, since: str | None, until: str | None, dry_run: bool,
             archive: tuple[str, str] | None, cluster: str | None) -> None:
    """Store articles from URLs, a URL file, sitemaps, WARC files or CC-NEWS. Reruns skip what is done.

    Exits 1 when nothing could be read or stored (every URL failing, an unreadable sitemap or
    WARC file); it runs beside the daemon.

    \b
    Examples:
      ingest backfill https://example.com/news/summit-1 https://example.com/news/summit-2
      ingest backfill --urls urls.txt --db archive.db
      ingest backfill --sitemap https://www.example.com/ --since 2018-06-01 --until 2018-06-20
      ingest backfill --warc 'crawl/*.warc.gz' --dry-run
      ingest backfill --cc-news 2018-06-12
    """
    from ingest.run import backfill as bf
    from ingest.sources.urls import read_url_file
    from ingest.store import check_database

    todo = list(urls)
    if url_file:
        try:
            todo += read_url_file(url_file)
        except OSError as e:
            fail(f"cannot read the URL file {url_file}: {e.strerror or e}", USAGE)
    if not (todo or sitemaps or warcs or cc_news is not None):
        raise click.UsageError("give URLs, --urls FILE, --sitemap URL, --warc FILE or --cc-news [MONTH|DAY]")
    if not dry_run:
        check_database(cfg.database, write=True)
    since_dt, until_dt = _when(since, "--since"), _when(until, "--until")
    warc_files = (_warc_inputs(list(warcs)) if warcs else []) + (
        _cc_news_files(cfg, cc_news, until, since_dt, until_dt) if cc_news is not None else [])
    sources = [bf.from_urls(todo)] if todo else []
    if sitemaps:  # each kind of source imports its readers only when given (lxml, warcio: start-up)
        from ingest.sources.sitemap import SitemapStats

        sm_stats = SitemapStats()
        sources.append(bf.from_sitemaps(list(sitemaps), since_dt, until_dt, sm_stats))
    if warc_files:
        from ingest.sources.warc import WarcStats

        warc_stats = WarcStats()
        sources.append(bf.from_warcs(warc_files, warc_stats))
    engine = None if dry_run else _start_cluster(cfg, cluster)
    store = None if dry_run else _open_archive(archive)  # a dry run creates no folder either
    total: Counter[str] = Counter()
    try:
        for source in sources:
            report = run_interruptible(bf.backfill(cfg, source, dry_run=dry_run, archive=store, cluster=engine))
            for url in report.planned:
                click.echo(url)
            total.update(report.counts)
            if dry_run:
                total["would_fetch_or_store"] += len(report.planned)
    finally:
        if store is not None:
            store.close()
        if engine is not None:
            engine.close()
    if sitemaps:
        say(f"sitemaps: {sm_stats}")
    if warc_files:
        say(f"warc: {warc_stats}")
    from ingest.run.pipeline import Tally

    tally = Tally(total)
    say(("dry run: " if dry_run else "done: ") + tally.summary(), counts=dict(total))
    if not tally.achieved_anything():
        fail("nothing was read or stored" + (f" ({tally.failures()})" if tally.failures() else
                                             ": no page was found in what was given"), FAILED)


def _warc_inputs(values: list[str]) -> list[str]:
    """--warc values as files and URLs: globs expanded, local files checked; one-line errors."""
    from ingest.sources.remote import expand

    try:
        return expand(values)
    except OSError as e:  # FileNotFoundError, RemoteError (s3fs missing, bad scheme)
        fail(str(e), USAGE)


def _cc_news_files(cfg: Config, value: str, until: str | None, since_dt: datetime | None,
                   until_dt: datetime | None) -> list[str]:
    """The CC-NEWS file URLs of --cc-news [MONTH|DAY] and --since/--until (a bare date: that whole day)."""
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
        fail(str(e), FAILED)
    if not files:
        fail(f"no CC-NEWS file from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC", FAILED)
    return files


@click.command()
@command_options
@click.option("--since", default=None, metavar="DATE",
              help="Only articles whose current version was fetched on or after this ISO date.")
def reextract(cfg: Config, since: str | None) -> None:
    """Re-extract stored HTML with the installed extractor; a changed text becomes a "reextract" version.

    \b
    Example (after upgrading trafilatura):
      ingest reextract --since 2018-06-01
    """
    from ingest.run.reextract import reextract as run_reextract
    from ingest.store import check_database, is_postgres

    if since is not None:
        _when(since, "--since")
    check_database(cfg.database, write=True)
    from pathlib import Path

    if not is_postgres(cfg.database) and not Path(cfg.database).is_file():
        fail(f"no database at {cfg.database}", USAGE)
    report = run_interruptible(run_reextract(cfg, since, progress=True))
    for url, n, added, removed in report.changed:
        click.echo(f"changed {url} v{n} +{added} -{removed}")
    say(report.summary(), counts=dict(report.counts))


@click.command()
@command_options
@click.option("--keep", is_flag=True, help="Keep the demo database (its path is printed); default: a temp dir.")
def demo(cfg: Config, keep: bool) -> None:
    """Serve four made-up news sites on 127.0.0.1, ingest them, tell what was kept, copied and garbled.

    Needs no network. The story goes to stdout; the log of the two passes only with -v. `--db`
    (or --keep) keeps the database, and the commands printed at the end explore it.

    \b
    Example:
      ingest demo --db demo.db && ingest stats --db demo.db
    """
    import logging

    from ingest.demo.run import demo as run_demo

    if logging.getLogger().getEffectiveLevel() == logging.INFO:  # neither -v nor -q: the story, not the log
        logging.getLogger("ingest").setLevel(logging.WARNING)
    db = cfg.database if cfg.database != Config().database else None
    raise SystemExit(run_interruptible(run_demo(db, keep=keep)))
