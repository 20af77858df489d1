"""What every command shares: its options, its one-line errors, its exit codes, signals.

Exit codes (README "Exit codes"):
  0    success
  1    the command ran but did not do what it was asked (nothing stored, every feed failing,
       another daemon on the database)
  2    bad usage: an unknown option, a bad config, a bad path (`--db` a folder, not SQLite,
       missing, or in a missing folder; an output or archive in a missing folder), a busy port
  3    storage fault: the database cannot be used safely (read-only, disk full, corrupt)
  128+n  stopped by signal n (130 Ctrl-C, 143 SIGTERM); everything stored is kept
"""
from __future__ import annotations

import asyncio
import functools
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, TypeVar

import click

from ingest.config import Config, ConfigError, load_config
from ingest.logs import error, setup_logging
from ingest.store.errors import StoreError

OK, FAILED, USAGE, STORAGE = 0, 1, 2, 3
DEFAULT_CONFIG = "config.yaml"
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def command_options(f: F) -> F:
    """--config, --db, --log-format, --log-file, -v/-vv, -q on a command, which gets a loaded `cfg`.

    Errors that end a command (config, storage, a signal) become one line and their exit code.
    """

    @click.option("--config", "config_path", default=None, metavar="FILE",
                  help=f"YAML config (default: ./{DEFAULT_CONFIG} if present, else built-in defaults).")
    @click.option("--db", "db_path", default=None, metavar="PATH", help="Database file (overrides `database`).")
    @click.option("--log-format", type=click.Choice(["text", "json"]), default=None,
                  help="text, or one JSON object per line.")
    @click.option("--log-file", default=None, metavar="FILE", help="Append the log to FILE instead of stderr.")
    @click.option("-v", "--verbose", count=True, help="More detail: -v debug lines, -vv also the libraries'.")
    @click.option("-q", "--quiet", is_flag=True, help="Only warnings, errors and the final summary.")
    @functools.wraps(f)
    def wrapper(config_path: str | None, db_path: str | None, log_format: str | None, log_file: str | None,
                verbose: int, quiet: bool, **kwargs: Any) -> Any:
        cfg = load_or_exit(config_path, db_path)
        if log_format:
            cfg.log_format = log_format
        try:
            setup_logging(cfg.log_format, -1 if quiet else verbose, log_file)
        except OSError as e:
            fail(f"cannot write the log file {log_file}: {e.strerror}", USAGE)
        try:
            return f(cfg=cfg, **kwargs)
        except ConfigError as e:
            fail(str(e), USAGE)
        except StoreError as e:
            fail(str(e), e.code)
        except Interrupted as e:
            interrupted_exit(e)

    return wrapper  # type: ignore[return-value]


def load_or_exit(config_path: str | None, db_path: str | None) -> Config:
    if config_path is None and os.path.exists(DEFAULT_CONFIG):
        config_path = DEFAULT_CONFIG
    try:
        return load_config(config_path, db_path)
    except ConfigError as e:
        fail(f"config error: {e}", USAGE)


def fail(message: str, code: int = FAILED) -> NoReturn:
    """One line on stderr (a JSON object with --log-format json), then exit."""
    error(message, exit_code=code)
    sys.exit(code)


class Interrupted(Exception):
    """A command was stopped by SIGINT or SIGTERM (the signal's number is `args[0]`)."""


def interrupted_exit(e: Interrupted) -> NoReturn:
    """The one line and exit code (128 + signal, e.g. 130 for Ctrl-C) of an interrupted command."""
    signum = e.args[0]
    fail(f"interrupted by {signal.Signals(signum).name}; everything stored so far is kept (run again to continue)",
         128 + signum)


def run_interruptible(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(coro) for one-shot commands, stoppable by a signal.

    The first SIGINT/SIGTERM cancels the command: in-flight articles are abandoned (each
    article is one transaction, so the database holds whole articles only; a rerun picks up
    the rest), the worker pool and the database are closed, and `Interrupted` is raised.
    A second signal exits at once (exit 128 + signal), like the daemon's.
    """
    got: list[int] = []

    async def main() -> T:
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


def sigterm_interrupts() -> None:
    """Make SIGTERM stop a synchronous command the way Ctrl-C does (an exception, so `finally`
    blocks run: an export removes its temporary file), as `Interrupted(SIGTERM)`."""

    def handler(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    signal.signal(signal.SIGTERM, handler)
