"""Commands that maintain: config check, check (the database's integrity), db copy."""
from __future__ import annotations

import json
import sys

import click
import yaml

from ingest.config import Config, describe
from ingest.logs import say

from .common import STORAGE, USAGE, command_options, fail


@click.group()
def config() -> None:
    """The configuration: check it and show what it comes to.

    \b
    Example:
      ingest config check --config my.yaml --format json
    """


@config.command("check")
@command_options
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def config_check(cfg: Config, fmt: str) -> None:
    """Validate the config (exit 2 with the key at fault) and print the effective config, defaults filled in.

    \b
    Example:
      ingest config check --config /etc/ingest/config.yaml
    """
    data = describe(cfg)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)
    say(f"config ok: {len(cfg.feeds)} feeds, {len(cfg.topics)} topics, database {cfg.database}")


@click.command()
@command_options
def check(cfg: Config) -> None:
    """Check the whole database for damage (SQLite's integrity_check). Exit 3 when damaged.

    The daemon and every writing command run the quick check at start; this is the full one,
    and it may take minutes on a large database. Read-only: it runs beside the daemon.

    \b
    Example:
      ingest check --db ingest.db
    """
    from ingest.read.query import integrity_problems
    from ingest.store import is_postgres

    if is_postgres(cfg.database):
        fail("ingest check is SQLite's integrity check; PostgreSQL checks its own pages (pg_amcheck)", USAGE)
    problems = integrity_problems(cfg.database)
    if problems != ["ok"]:
        for p in problems[:20]:
            click.echo(p, err=True)
        n = len(problems)
        fail(f"{cfg.database} is damaged: {n} problem{'s' * (n != 1)} (first: {problems[0]})", STORAGE)
    say(f"{cfg.database}: ok")
    sys.exit(0)


@click.group()
def db() -> None:
    """The database itself: move a corpus between SQLite and PostgreSQL."""


@db.command("copy")
@command_options
@click.argument("src")
@click.argument("dst")
def db_copy(cfg: Config, src: str, dst: str) -> None:
    """Copy the corpus at SRC into the new database DST (SQLite file or postgresql:// URL, either way).

    Every table with its ids, from one consistent read of SRC, in one transaction on DST; DST
    must hold no corpus yet. Read-only on SRC: it can run beside the daemon.

    \b
    Examples:
      ingest db copy ingest.db postgresql://ingest@db.example/news     # a team outgrows one file
      ingest db copy postgresql://analyst@db.example/news snapshot.db  # a snapshot to serve or mail
    """
    from ingest.store.copy import copy_corpus

    report = copy_corpus(src, dst)
    say(report.summary(), counts=report.rows)
