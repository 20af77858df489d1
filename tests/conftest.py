"""Shared fixtures: a generated news world on 127.0.0.1 and configs pointing at it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml

from ingest.demo.site import NewsWorld

TOPICS = [{"name": "trump-kim-summit",
           "keywords": ["summit", "Kim Jong[ -]?Un", "North Korea", "Pyongyang", "Singapore", "denucleari[sz]ation"]}]


@pytest.fixture
def world():
    with NewsWorld.threaded() as w:
        yield w


def write_config(path: Path, db: Path, feeds: list[str], topics=TOPICS, **fetch) -> Path:
    data = {"database": str(db), "feeds": [{"url": u} for u in feeds], "topics": topics,
            "fetch": {"allow_private_addresses": True, "per_host_delay": 0.0, "retries": 0, "timeout": 10, **fetch},
            "workers": 2}
    path.write_text(yaml.safe_dump(data))
    return path


def ingest_cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess (`python -m ingest ...`)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "ingest", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=env)


def parse_cli(args: list[str]) -> click.Context:
    """Parse `ingest ARGS` the way the CLI would, validating every option, without running it."""
    from ingest.cli import cli

    command: click.Command = cli
    name, rest = "ingest", list(args)
    while isinstance(command, click.Group):
        assert rest, f"no command after {name}"
        sub = command.get_command(click.Context(command), rest[0])
        assert sub is not None, f"{name} has no command {rest[0]!r}"
        command, name, rest = sub, f"{name} {rest[0]}", rest[1:]
    return command.make_context(name, rest)


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server the tests start themselves (tests/pgserver.py); skipped only when
    the server binaries (Debian: postgresql-15) are not installed."""
    from pgserver import PgServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries are not installed (apt-get install postgresql-15)")
    pytest.importorskip("psycopg")
    server = PgServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_url(pg_server) -> str:
    """A fresh, empty PostgreSQL database for one test: its postgresql:// URL."""
    return pg_server.database()
