"""The `ingest` command: a thin layer over the library functions of each stage.

Commands live by what they drive: cli/run.py (run, backfill, reextract, demo), cli/read.py
(export, serve, stats, history, explain, health), cli/admin.py (config check, check, db copy). Each
imports its stage only when it runs, so `ingest run` reaches its forkserver and first fetch
without loading what other commands need. Exit codes: cli/common.py.
"""
from __future__ import annotations

import signal
import sys


def _start_forkserver_early(argv: list[str]) -> None:
    """`run`, `backfill` and `reextract` extract in a pool of forkserver processes: its server is
    started here, before the commands' own imports, so the workers' imports (trafilatura, lxml,
    the analysis libraries) run on the other core meanwhile and the first page is extracted
    sooner (docs/performance.md). Not for help, dry runs or a cluster (extraction elsewhere)."""
    if argv[:1] in (["run"], ["backfill"], ["reextract"]) and not {"-h", "--help", "--dry-run", "--cluster"} & {
            a.split("=")[0] for a in argv}:
        from ingest.extract import forkserver

        forkserver.start()


_start_forkserver_early(sys.argv[1:])

import click  # noqa: E402 - after the forkserver has started

from . import admin, read, run  # noqa: E402
from .common import fail  # noqa: E402

SECTIONS = {
    "Collect": ("run", "backfill", "reextract", "demo"),
    "Read": ("export", "stats", "history", "explain", "serve", "health"),
    "Maintain": ("config", "check", "db"),
}


class Group(click.Group):
    """Commands listed by what they are for (the sections above), not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for names in SECTIONS.values() for name in names if name in self.commands]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        for section, names in SECTIONS.items():
            rows = [(n, self.commands[n].get_short_help_str(80)) for n in names if n in self.commands]
            with formatter.section(section):
                formatter.write_dl(rows)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ingest")
def cli() -> None:
    """Collect news coverage of a story from feeds, keep every version of every article, flag copies.

    \b
    Start with:
      ingest demo                      # a generated news world, offline, in 20 seconds
      ingest run                       # the daemon on ./config.yaml (database ingest.db)
      ingest stats                     # what is stored, and how each feed is doing
    """


for command in (run.run, run.backfill, run.reextract, run.demo, read.export_cmd, read.stats, read.history_cmd,
                read.explain_cmd, read.serve_cmd, read.health, admin.config, admin.check, admin.db):
    cli.add_command(command)


def main() -> None:
    """The console entry point: click's, with Ctrl-C at any moment one line and exit 130."""
    try:
        code = cli.main(prog_name="ingest", standalone_mode=False)  # "ingest", also under `python -m ingest`
    except (KeyboardInterrupt, click.exceptions.Abort):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # decided: a second ^C cannot turn exit 130 into a kill
        fail("interrupted by SIGINT; everything stored so far is kept (run again to continue)", 130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
