"""Commands that read: export, stats, history, explain, serve, health.

They open the database read-only and never create it: a mistyped --db is a one-line error
(exit 2), not a new empty database; they run beside the daemon.
"""
from __future__ import annotations

import json
import signal
import sys
from dataclasses import asdict
from pathlib import Path

import click

from ingest.config import Config
from ingest.logs import say
from ingest.read.query import FLAG_KINDS, ExportFilters, ReadError, parse_bound

from .common import FAILED, USAGE, command_options, fail


def _iso_bound(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parse_bound(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date or datetime (e.g. 2026-11-01 or 2026-11-01T08:00)") from None
    return value


@click.command("export")
@command_options
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
@click.option("--force", is_flag=True, help="Overwrite --output if it exists (otherwise an error).")
@click.option("--csv-raw", is_flag=True,
              help="CSV: write cells as stored. By default a cell starting with = + - @ tab or CR gets a leading "
                   "' so that a spreadsheet does not run it as a formula (see docs/reading.md).")
def export_cmd(cfg: Config, fmt: str, output: str, versions: bool, since: str | None, until: str | None,
               topic: str | None, site: str | None, clean: bool, flag: str | None, force: bool,
               csv_raw: bool) -> None:
    """Export articles (current versions) or every version as JSON Lines, CSV or Parquet.

    \b
    Examples:
      ingest export --format jsonl --output articles.jsonl
      ingest export --format parquet --output summit.parquet --topic trump-kim-summit --clean
      ingest export --format csv --versions > versions.csv
    """
    from ingest.read.export import export

    if fmt == "parquet" and output == "-":
        raise click.UsageError("--format parquet needs --output FILE")
    if clean and flag in ("duplicate", "garbled", "exact", "near", "syndicated", "subset"):
        raise click.UsageError(f"--clean and --flag {flag} exclude each other")
    if csv_raw and fmt != "csv":
        raise click.UsageError("--csv-raw applies to --format csv only")
    if output != "-" and not Path(output).absolute().parent.is_dir():
        fail(f"no folder {Path(output).absolute().parent} for {output} (create it first)", USAGE)
    filters = ExportFilters(since=since, until=until, topic=topic, site=site, clean=clean, flag=flag)
    stopped: list[int] = []

    def stop(signum: int, frame: object) -> None:
        stopped.append(signum)
        raise KeyboardInterrupt  # unwinds the export, which removes its temporary file

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        n = export(cfg.database, output, fmt, versions=versions, filters=filters, csv_raw=csv_raw, force=force)
    except KeyboardInterrupt:
        signum = stopped[0] if stopped else signal.SIGINT
        fail(f"export interrupted by {signal.Signals(signum).name}"
             + (f"; {output} not written" if output != "-" else ""), 128 + signum)
    except ReadError as e:
        fail(str(e), FAILED)
    except BrokenPipeError:  # `ingest export | head`: the reader left, that is not an error
        sys.stderr.close()
        sys.exit(0)
    except OSError as e:
        fail(f"export failed: {e}", FAILED)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if output != "-":
        say(f"exported {n} {'versions' if versions else 'articles'} to {output}", rows=n)


@click.command()
@command_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def stats(cfg: Config, as_json: bool) -> None:
    """What is stored and flagged, how each feed is doing, and what WARC backfills read (records
    scanned, pages prefiltered and kept). Exits 1 when every feed is failing.

    \b
    Examples:
      ingest stats
      ingest stats --json | jq '.feeds[] | select(.failures > 0)'
      ingest stats --json | jq '.warc_files[] | {location, records, prefiltered}'
    """
    from ingest.read.stats import collect, render

    s = collect(cfg.database)
    click.echo(json.dumps(asdict(s), indent=2) if as_json else render(s))
    if s.feeds and all(f.status == "failing" for f in s.feeds):
        fail(f"all {len(s.feeds)} feeds are failing", FAILED)


@click.command("history")
@command_options
@click.argument("url")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def history_cmd(cfg: Config, url: str, fmt: str) -> None:
    """The versions of the article at URL (any form of it), with a word diff between consecutive ones.

    \b
    Example:
      ingest history https://example.com/news/summit-1 --format json
    """
    from ingest.read.history import as_json, find_article, load_history, render_text
    from ingest.read.query import open_readonly

    conn = open_readonly(cfg.database)
    try:
        article_id = find_article(conn, url)
        if article_id is None:
            fail(f"no article stored under {url}", FAILED)
        h = load_history(conn, article_id)
    finally:
        conn.close()
    click.echo(as_json(h) if fmt == "json" else render_text(h))


@click.command("explain")
@command_options
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

    with Reader(cfg.database) as reader:
        e = explain(reader, url)
    if e is None:
        fail(f"no article stored under {url}", FAILED)
    click.echo(as_json(e) if fmt == "json" else render_text(e))


@click.command("serve")
@command_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0: any free port; the URL is printed).")
@click.option("--open", "open_browser", is_flag=True, help="Open a browser on the database page.")
@click.option("--max-memory", type=click.IntRange(min=0), default=1024, show_default=True, metavar="MB",
              help="How much the server may grow once started (queries included); 0: no limit.")
def serve_cmd(cfg: Config, host: str, port: int, open_browser: bool, max_memory: int) -> None:
    """Browse the database read-only in Datasette: the analyst views, full-text search, canned queries.

    \b
    Example:
      ingest serve --port 8001     # then open the printed URL
    """
    from ingest.read.serve import MAX_VALUE_BYTES, PortBusy, serve
    from ingest.store import is_postgres

    if is_postgres(cfg.database):
        fail("ingest serve needs an SQLite file (Datasette reads SQLite only): on PostgreSQL, query the views with "
             "psql or any PostgreSQL client under a read-only role, or `ingest db copy` the corpus to SQLite and "
             "serve the copy (docs/postgres.md)", USAGE)
    # a stored value must fit under the per-value limit: texts and pages can be as large as a fetch
    max_value = max(MAX_VALUE_BYTES, 3 * cfg.fetch.max_bytes)
    try:
        serve(cfg.database, host=host, port=port, open_browser=open_browser, max_memory=max_memory * 2**20,
              max_value_bytes=max_value)
    except PortBusy as e:
        fail(str(e), USAGE)


@click.command()
@command_options
@click.option("--max-poll-age", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="Unhealthy when no feed was read successfully for this long (default: 2 x max_interval).")
@click.option("--max-failing", type=click.FloatRange(0, 1), default=0.5, show_default=True, metavar="SHARE",
              help="Unhealthy when more than this share of the feeds is failing.")
@click.option("--max-lag", type=click.FloatRange(min=0), default=30.0, show_default=True, metavar="SECONDS",
              help="Unhealthy when the writer took longer than this for a no-op.")
def health(cfg: Config, max_poll_age: float | None, max_failing: float, max_lag: float) -> None:
    """Exit 0 if the daemon on this database is alive and well, else 1 with the reason (one line).

    For service managers and containers: the daemon holds its lock, its status file is fresh, a
    feed was read recently, not too many feeds fail, and its writer answers.

    \b
    Example (a container HEALTHCHECK, a systemd watchdog script):
      ingest health --config /etc/ingest/config.yaml
    """
    from ingest.read.health import check_health

    verdict = check_health(cfg, max_poll_age=max_poll_age, max_failing=max_failing, max_lag=max_lag)
    if not verdict.ok:
        fail(f"unhealthy: {verdict.reason}", FAILED)
    say(f"healthy: {verdict.reason}")


