"""Every command's --help: an example that is a real command line, and the shared options.

Walks the click tree, so a command added later is held to the same rule: its help shows at
least one `ingest ...` example (as sqlite-utils' do), every example parses with the CLI's
own parser (no renamed option or command survives in a help text), and every command takes
--config, --db, --log-format, --log-file, -q/--quiet and -v/-vv.
"""
from __future__ import annotations

import shlex

import click
import pytest
from click.testing import CliRunner
from conftest import ingest_cli, parse_cli

from ingest.cli import cli

SHARED = {"--config", "--db", "--log-format", "--log-file", "--quiet", "-q", "--verbose", "-v"}


def walk(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    out = [(path, command)]
    if isinstance(command, click.Group):
        for name in command.list_commands(click.Context(command)):
            sub = command.get_command(click.Context(command), name)
            assert sub is not None
            out += walk(sub, (*path, name))
    return out


COMMANDS = walk(cli)
LEAVES = [(path, c) for path, c in COMMANDS if not isinstance(c, click.Group)]


def help_text(path: tuple[str, ...]) -> str:
    r = CliRunner().invoke(cli, [*path, "--help"], prog_name="ingest", terminal_width=200)
    assert r.exit_code == 0, r.output
    return r.output


def examples(text: str) -> list[list[str]]:
    """The `ingest ...` command lines in a help text; pipes, `&&`, redirections and comments cut off."""
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("ingest "):
            continue
        lexer = shlex.shlex(line.split("  #", 1)[0], posix=True, punctuation_chars="|&;<>")
        lexer.whitespace_split = True
        words, part = list(lexer), []
        for word in [*words, "|"]:
            if word and set(word) <= set("|&;<>"):
                if part and part[0] == "ingest":
                    found.append(part[1:])
                part = []
            else:
                part.append(word)
    return found


def test_the_walk_finds_every_command():
    names = {" ".join(path) for path, _ in LEAVES}
    assert {"run", "backfill", "reextract", "demo", "export", "stats", "history", "explain", "serve", "health",
            "config check", "check"} <= names


@pytest.mark.parametrize("path", [(), *(path for path, _ in LEAVES)], ids=lambda p: " ".join(p) or "ingest")
def test_help_has_a_runnable_example(path):
    """`ingest --help` and every command's (a group such as `config` lists its commands, each with theirs)."""
    text = help_text(path)
    assert "Example" in text or "Start with" in text, text
    lines = examples(text)
    assert lines, f"no `ingest ...` example in the help of {' '.join(('ingest', *path))}"
    assert any(line[:len(path)] == list(path) for line in lines), "no example of the command itself"
    for line in lines:
        parse_cli(line)  # a click.UsageError here: the example names an option or command that is gone


@pytest.mark.parametrize("path", [path for path, _ in LEAVES], ids=lambda p: " ".join(p))
def test_every_command_takes_the_shared_options(path):
    command = dict(COMMANDS)[path]
    flags = {flag for p in command.params for flag in (*p.opts, *p.secondary_opts)}
    assert SHARED <= flags, SHARED - flags
    verbose = next(p for p in command.params if "--verbose" in p.opts)
    assert isinstance(verbose, click.Option) and verbose.count  # -v and -vv
    required = {("history",): ["URL"], ("explain",): ["URL"], ("db", "copy"): ["a.db", "b.db"]}
    ctx = parse_cli([*path, *required.get(path, []), "-vv", "-q", "--log-file", "x.log"])
    assert ctx.params["verbose"] == 2 and ctx.params["quiet"] and ctx.params["log_file"] == "x.log"


def test_the_shared_options_work(tmp_path):
    """-q keeps the summary only, -v adds debug lines, --log-file takes the log off stderr."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("feeds: []\ntopics: []\n")
    plain = ingest_cli("config", "check", "--config", str(cfg), "--format", "json")
    assert plain.returncode == 0 and plain.stderr.startswith("config ok: 0 feeds"), plain.stderr
    log = tmp_path / "ingest.log"
    db = str(tmp_path / "none.db")
    r = ingest_cli("stats", "--db", db, "--log-file", str(log), "-v")
    assert r.returncode == 2 and r.stderr.startswith("ingest: ") and len(r.stderr.splitlines()) == 1, r.stderr
    r = ingest_cli("health", "--db", db, "-q", "--log-format", "json")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and '"level": "error"' in r.stderr, r.stderr
