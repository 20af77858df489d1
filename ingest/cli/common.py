"""Shared pieces of the command line: config options, one-line errors, exit codes.

The commands live in ingest/cli/ (run.py-style groups by stage) and are registered in ingest/cli/__init__.py.
Exit codes: 0 success, 2 bad usage or config, 1 any other failure, 128 + signal number
when a signal stopped a one-shot command (130 for Ctrl-C, 143 for SIGTERM).
"""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import sys

import click

from ingest.config import Config, ConfigError, load_config
from ingest.logs import setup_logging

DEFAULT_CONFIG = "config.yaml"


def config_options(f):
    """Add --config, --db and --log-format to a command; pass a loaded `cfg` instead."""

    @click.option("--config", "config_path", default=None, metavar="FILE",
                  help=f"YAML config (default: ./{DEFAULT_CONFIG} if present, else built-in defaults).")
    @click.option("--db", "db_path", default=None, metavar="PATH", help="SQLite database file (overrides `database`).")
    @click.option("--log-format", type=click.Choice(["text", "json"]), default=None, help="Log line format.")
    @click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
    @functools.wraps(f)
    def wrapper(config_path, db_path, log_format, verbose, **kwargs):
        cfg = load_or_exit(config_path, db_path)
        if log_format:
            cfg.log_format = log_format
        setup_logging(cfg.log_format, logging.DEBUG if verbose else logging.INFO)
        try:
            return f(cfg=cfg, **kwargs)
        except ConfigError as e:
            fail(str(e), 2)

    return wrapper


def load_or_exit(config_path: str | None, db_path: str | None) -> Config:
    import os

    if config_path is None and os.path.exists(DEFAULT_CONFIG):
        config_path = DEFAULT_CONFIG
    try:
        return load_config(config_path, db_path)
    except ConfigError as e:
        fail(f"config error: {e}", 2)


def fail(message: str, code: int = 1):
    """Print one line to stderr and exit."""
    click.echo(f"ingest: {message}", err=True)
    sys.exit(code)


class Interrupted(Exception):
    """A one-shot command was stopped by SIGINT or SIGTERM (the signal's number is `args[0]`)."""


def run_interruptible(coro):
    """asyncio.run(coro) for one-shot commands (`run --once`, `backfill`), stoppable by a signal.

    The first SIGINT/SIGTERM cancels the command: in-flight articles are abandoned (each
    article is one transaction, so the database holds whole articles only; a rerun picks up
    the rest), the worker pool and the database are closed, and `Interrupted` is raised.
    A second signal exits at once (exit 128 + signal), like the daemon's.
    """
    got: list[int] = []

    async def main():
        task = asyncio.ensure_future(coro)
        loop = asyncio.get_running_loop()

        def on_signal(signum: int) -> None:
            if got:
                os._exit(128 + signum)  # SQLite rolls back an interrupted transaction on the next open
            got.append(signum)
            task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        try:
            return await task
        except asyncio.CancelledError:
            if got:
                raise Interrupted(got[0]) from None
            raise

    return asyncio.run(main())


def interrupted_exit(e: Interrupted):
    """The one line and exit code (128 + signal, e.g. 130 for Ctrl-C) of an interrupted command."""
    signum = e.args[0]
    fail(f"interrupted by {signal.Signals(signum).name}; everything stored so far is kept (run again to continue)",
         128 + signum)
