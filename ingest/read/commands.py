"""`ingest export` and `ingest serve`: the read side on the command line.

Registered in ingest/cli.py (`LazyGroup.LAZY`).
Both open the database read-only and never create it: a mistyped --db is a one-line error
(exit 1), not a new empty database. Bad options exit 2 (click usage errors).
"""
from __future__ import annotations

import signal
import sys

import click

from .. import clikit
from ..config import Config
from .query import FLAG_KINDS, ExportFilters, ReadError, parse_bound


def _iso_bound(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
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
@click.option("--force", is_flag=True, help="Overwrite --output if it exists (otherwise an error).")
@click.option("--csv-raw", is_flag=True,
              help="CSV: write cells as stored. By default a cell starting with = + - @ tab or CR gets a leading "
                   "' so that a spreadsheet does not run it as a formula (see docs/reading.md).")
def export_cmd(cfg: Config, fmt: str, output: str, versions: bool, since: str | None, until: str | None,
               topic: str | None, site: str | None, clean: bool, flag: str | None, force: bool,
               csv_raw: bool) -> None:
    """Export articles (current versions) or all versions as JSON Lines, CSV or Parquet."""
    from .export import export

    if fmt == "parquet" and output == "-":
        raise click.UsageError("--format parquet needs --output FILE")
    if clean and flag in ("duplicate", "garbled", "exact", "near", "syndicated", "subset"):
        raise click.UsageError(f"--clean and --flag {flag} exclude each other")
    if csv_raw and fmt != "csv":
        raise click.UsageError("--csv-raw applies to --format csv only")
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
        clikit.fail(f"export interrupted by {signal.Signals(signum).name}"
                    + (f"; {output} not written" if output != "-" else ""), 128 + signum)
    except ReadError as e:
        clikit.fail(str(e), 1)
    except BrokenPipeError:  # `ingest export | head`: the reader left, that is not an error
        sys.stderr.close()
        sys.exit(0)
    except OSError as e:
        clikit.fail(f"export failed: {e}", 1)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if output != "-":
        click.echo(f"exported {n} {'versions' if versions else 'articles'} to {output}", err=True)


@click.command("serve")
@clikit.config_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="Port.")
@click.option("--open", "open_browser", is_flag=True, help="Open a browser on the database page.")
@click.option("--max-memory", type=click.IntRange(min=0), default=1024, show_default=True, metavar="MB",
              help="How much the server may grow once started (queries included); 0: no limit.")
def serve_cmd(cfg: Config, host: str, port: int, open_browser: bool, max_memory: int) -> None:
    """Browse the database read-only in Datasette (views, full-text search, canned queries)."""
    from .serve import MAX_VALUE_BYTES, serve

    # a stored value must fit under the per-value limit: texts and pages can be as large as a fetch
    max_value = max(MAX_VALUE_BYTES, 3 * cfg.fetch.max_bytes)
    try:
        serve(cfg.database, host=host, port=port, open_browser=open_browser, max_memory=max_memory * 2**20,
              max_value_bytes=max_value)
    except ReadError as e:
        clikit.fail(str(e), 1)
