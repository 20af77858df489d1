"""Shared pieces of the command line: config options, one-line errors, exit codes.

Every command lives next to the stage it drives and is registered in ingest/cli.py.
Exit codes: 0 success, 2 bad usage or config, 1 any other failure.
"""
from __future__ import annotations

import functools
import logging
import sys

import click

from .config import Config, ConfigError, load_config
from .logs import setup_logging

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
