"""The documentation is tested against the code, as sqlite-utils' is.

- Every command in the README's command table runs, as documented, against a local news world
  (a row without a run here fails `test_every_readme_command_has_a_run`).
- Every SQL, Python and YAML example in README.md and docs/*.md runs against a database the real
  pipeline filled from that world. Python examples may use the names `EXAMPLE_NAMES` lists (a
  URL, a page, a config...); everything else they need they import themselves.
"""
from __future__ import annotations

import ast
import asyncio
import gzip
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import TOPICS, ingest_cli, write_config
from warcserver import WarcServer

from ingest.config import load_config, parse_config
from ingest.demo.site import NewsWorld

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.M | re.S)  # our own files, not fetched text

pytestmark = pytest.mark.timeout(300)


def examples(*langs: str) -> list:
    """(lang, "file:line", code) of every fenced block in the given languages, as test params."""
    out = []
    for path in DOCS:
        text = path.read_text()
        for m in FENCE.finditer(text):
            if m.group(1) in langs:
                line = text.count("\n", 0, m.start()) + 1
                where = f"{path.relative_to(ROOT)}:{line}"
                out.append(pytest.param(m.group(1), where, m.group(2), id=where))
    return out


@dataclass
class Corpus:
    world: NewsWorld
    dir: Path
    db: Path
    config: Path
    warcs: Path
    url: str  # an article stored in db


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A database the real pipeline filled from a local news world (kept as WARC too)."""
    d = tmp_path_factory.mktemp("docs")
    with NewsWorld.threaded() as world:
        db, warcs = d / "ingest.db", d / "warc"
        cfg = write_config(d / "config.yaml", db, world.feed_urls)
        r = ingest_cli("run", "--once", "--config", str(cfg), "--archive", "warc", str(warcs))
        assert r.returncode == 0, r.stderr
        url = sqlite3.connect(db).execute("SELECT url FROM articles ORDER BY id LIMIT 1").fetchone()[0]
        yield Corpus(world, d, db, cfg, warcs, url)


# --- SQL -----------------------------------------------------------------------------------------
def statements(code: str) -> list[str]:
    out, buf = [], ""
    for line in code.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    assert not buf.strip() or buf.strip().startswith("--"), f"unterminated statement: {buf!r}"
    return out


@pytest.mark.parametrize("lang, where, code", examples("sql"))
def test_sql_examples_run(corpus, lang, where, code):
    conn = sqlite3.connect(f"file:{corpus.db}?mode=ro", uri=True)
    try:
        for sql in statements(code):
            conn.execute(sql).fetchall()  # raises on a wrong table, column or function
    finally:
        conn.close()


# --- YAML ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang, where, code", examples("yaml"))
def test_yaml_examples_are_valid_configs(lang, where, code):
    parse_config(yaml.safe_load(code))  # ConfigError names the key


def test_the_shipped_config_is_valid():
    cfg = load_config(ROOT / "config.yaml")
    assert cfg.feeds and cfg.topics


# --- Python --------------------------------------------------------------------------------------
EXAMPLE_NAMES = ("cfg", "url", "page", "directory", "title", "text")


@pytest.fixture
def example_dir(corpus, tmp_path):
    """A working folder as a user has it: ingest.db, an exported articles.parquet, a crawl.warc.gz."""
    shutil.copy(corpus.db, tmp_path / "ingest.db")
    r = ingest_cli("export", "--db", str(tmp_path / "ingest.db"), "--format", "parquet", "-o",
                   str(tmp_path / "articles.parquet"))
    assert r.returncode == 0, r.stderr
    shutil.copy(sorted(corpus.warcs.glob("*.warc.gz"))[0], tmp_path / "crawl.warc.gz")
    return tmp_path


@pytest.mark.parametrize("lang, where, code", examples("python"))
def test_python_examples_run(corpus, example_dir, monkeypatch, lang, where, code):
    from ingest.fetch.fetcher import Fetcher
    from ingest.read.api import open as open_db

    monkeypatch.chdir(example_dir)
    cfg = load_config(corpus.config)
    with open_db(example_dir / "ingest.db") as reader:
        art = reader.article(corpus.url)
    assert art is not None
    page = asyncio.run(_fetch(Fetcher, cfg, corpus.url))
    names = {"cfg": cfg, "url": corpus.url, "page": page, "directory": example_dir / "archive",
             "title": art.title, "text": art.text, "__name__": "__docs__"}
    assert set(EXAMPLE_NAMES) <= set(names)
    compiled = compile(code, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(compiled, names)  # noqa: S307 - our own documentation
    if asyncio.iscoroutine(result):  # the example uses `await` / `async with` at top level
        asyncio.run(asyncio.wait_for(result, 60))


async def _fetch(fetcher_class, cfg, url):
    async with fetcher_class(cfg.fetch) as fetcher:
        return await fetcher.fetch(url)


# --- the README's commands -----------------------------------------------------------------------
def readme_commands() -> list[str]:
    """The first cell of each row of the README's command table (the text in its first backticks)."""
    text = (ROOT / "README.md").read_text()
    table = text[text.index("| command | what it does |"):]
    table = table[:table.index("\n\n")]
    return [re.match(r"\| `([^`]+)`", row).group(1) for row in table.splitlines()[2:]]


def run_daemon(c: Corpus, tmp: Path) -> None:
    """`ingest run`: starts, polls, is healthy, stops on SIGTERM with exit 0 (and `health` says so)."""
    db = tmp / "daemon.db"
    cfg = write_config(tmp / "d.yaml", db, c.world.feed_urls)
    proc = subprocess.Popen([sys.executable, "-m", "ingest", "run", "--config", str(cfg), "--grace", "2"],
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        deadline = time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "first round" in line or not line:
                break
        assert any("first round" in x for x in lines), lines
        health = ingest_cli("health", "--config", str(cfg))
        assert health.returncode == 0, health.stdout + health.stderr
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopped after" in err
    after = ingest_cli("health", "--config", str(cfg))
    assert after.returncode == 1 and after.stdout.strip() + after.stderr.strip()  # no daemon: 1 with a reason


def ok(*args: str) -> subprocess.CompletedProcess:
    r = ingest_cli(*args)
    assert r.returncode == 0, (args, r.stdout[-2000:], r.stderr[-2000:])
    return r


def fresh(tmp: Path, name: str, c: Corpus, **extra) -> Path:
    cfg = write_config(tmp / f"{name}.yaml", tmp / f"{name}.db", [], topics=TOPICS)
    if extra:
        data = yaml.safe_load(cfg.read_text())
        data.update(extra)
        cfg.write_text(yaml.safe_dump(data))
    return cfg


def run_backfill_urls(c: Corpus, tmp: Path) -> None:
    cfg = fresh(tmp, "urls", c)
    outlet = next(iter(c.world.outlets.values()))
    slugs = list(outlet.stories)
    (tmp / "links.txt").write_text(f"# two more\n{outlet.url(slugs[1])}\n\n{outlet.url(slugs[2])}  # inline\n")
    r = ok("backfill", "--config", str(cfg), outlet.url(slugs[0]), "--urls", str(tmp / "links.txt"))
    assert "new articles" in r.stderr or "off topic" in r.stderr


def run_backfill_sitemap(c: Corpus, tmp: Path) -> None:
    outlet = next(iter(c.world.outlets.values()))
    entries = "".join(f"<url><loc>{outlet.url(s)}</loc><lastmod>2018-06-12</lastmod></url>" for s in outlet.stories)
    outlet.extra["/sitemap.xml"] = (
        f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'.encode(),
        "application/xml")
    ok("backfill", "--config", str(fresh(tmp, "sitemap", c)), "--sitemap", f"{outlet.base}/sitemap.xml",
       "--since", "2018-06-01", "--until", "2018-06-20")


def run_backfill_warc(c: Corpus, tmp: Path) -> None:
    files = sorted(c.warcs.glob("*.warc.gz"))
    assert files
    r = ok("backfill", "--config", str(fresh(tmp, "warc", c)), "--warc", str(c.warcs / "*.warc.gz"))
    assert "new articles" in r.stderr


def run_backfill_cc_news(c: Corpus, tmp: Path) -> None:
    www = tmp / "www"
    month = www / "crawl-data" / "CC-NEWS" / "2018" / "06"
    month.mkdir(parents=True)
    names = []
    for i, f in enumerate(sorted(c.warcs.glob("*.warc.gz"))):
        name = f"CC-NEWS-201806120{i}0000-{i:05d}.warc.gz"
        shutil.copy(f, month / name)
        names.append(f"crawl-data/CC-NEWS/2018/06/{name}")
    (month / "warc.paths.gz").write_bytes(gzip.compress("\n".join(names).encode() + b"\n"))
    with WarcServer.threaded(www) as srv:
        cfg = fresh(tmp, "ccnews", c, cc_news={"base_url": srv.base + "/"})
        ok("backfill", "--config", str(cfg), "--cc-news", "2018-06")
        ok("backfill", "--config", str(cfg), "--cc-news", "2018-06-12")


def run_dry_run(c: Corpus, tmp: Path) -> None:
    db = tmp / "dry.db"
    r = ok("backfill", "--db", str(db), "--dry-run", c.url)
    assert c.url in r.stdout and not db.exists()


def run_health(c: Corpus, tmp: Path) -> None:
    r = ingest_cli("health", "--db", str(c.db), "--max-poll-age", "600")
    assert r.returncode == 1 and "daemon" in (r.stdout + r.stderr)  # no daemon runs on it: 1, with the reason


def run_export(c: Corpus, tmp: Path) -> None:
    ok("export", "--db", str(c.db), "--format", "csv", "-o", str(tmp / "a.csv"), "--clean")
    ok("export", "--db", str(c.db), "--format", "parquet", "-o", str(tmp / "v.parquet"), "--versions")
    r = ok("export", "--db", str(c.db), "--topic", "trump-kim-summit", "--since", "2018-01-01")
    assert r.stdout.count("\n") >= 1


def run_serve(c: Corpus, tmp: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "ingest", "serve", "--db", str(c.db), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            line = proc.stdout.readline()
            m = re.search(r"http://127\.0\.0\.1:\d+/\S*", line)
            url = m.group(0) if m else None
        assert url, "serve printed no URL"
        with urllib.request.urlopen(url.rstrip("/") + "/latest.json?_shape=array", timeout=30) as resp:
            assert resp.status == 200 and b"url" in resp.read()
    finally:
        proc.terminate()
        proc.wait(30)


COMMANDS = {
    "ingest run": run_daemon,
    "ingest run --once": lambda c, t: ok("run", "--once", "--config", str(c.config)),
    "ingest backfill URL...": run_backfill_urls,
    "ingest backfill --sitemap URL [--since D] [--until D]": run_backfill_sitemap,
    "ingest backfill --warc FILE\\|GLOB\\|URL...": run_backfill_warc,
    "ingest backfill --cc-news 2018-06[-12]": run_backfill_cc_news,
    "ingest backfill ... --dry-run": run_dry_run,
    "ingest reextract [--since D]": lambda c, t: ok("reextract", "--db", str(c.db), "--since", "2018-01-01"),
    "ingest export [--format jsonl\\|csv\\|parquet] [-o F] [--versions]": run_export,
    "ingest stats [--json]": lambda c, t: (ok("stats", "--config", str(c.config)),
                                           ok("stats", "--config", str(c.config), "--json")),
    "ingest explain URL [--format json]": lambda c, t: (ok("explain", "--db", str(c.db), c.url),
                                                        ok("explain", "--db", str(c.db), c.url, "--format", "json")),
    "ingest history URL [--format json]": lambda c, t: (ok("history", "--db", str(c.db), c.url),
                                                        ok("history", "--db", str(c.db), c.url, "--format", "json")),
    "ingest serve [--host H] [--port P] [--open]": run_serve,
    "ingest health [--max-poll-age S]": run_health,  # and beside a live daemon in run_daemon
    "ingest config check": lambda c, t: ok("config", "check", "--config", str(c.config)),
    "ingest check": lambda c, t: ok("check", "--db", str(c.db)),
    # SQLite to SQLite here; both ways with PostgreSQL in tests/test_postgres.py
    "ingest db copy SRC DST": lambda c, t: (ok("db", "copy", str(c.db), str(t / "copy.db")),
                                            ok("stats", "--db", str(t / "copy.db"))),
    "ingest demo [--keep]": lambda c, t: ok("demo", "--db", str(t / "demo.db")),
}


def test_every_readme_command_has_a_run():
    listed = readme_commands()
    assert len(listed) >= 15
    assert sorted(set(listed) - set(COMMANDS)) == [], "README commands without a run in tests/test_docs.py"
    assert sorted(set(COMMANDS) - set(listed)) == [], "runs here for commands the README no longer lists"


@pytest.mark.parametrize("command", list(COMMANDS))
def test_readme_command_runs(corpus, tmp_path, command):
    COMMANDS[command](corpus, tmp_path)
