"""Build small, realistic ingest databases for the read-side tests (export, views, API, serve).

Rows are inserted with plain SQL following ingest/store/schema.py, the way the writer stores
them, so the read side is tested against the schema contract and not against writer code that
is still changing. `build(path)` makes the fixed fixture described in `Fixture`;
`add_synthetic(conn, n)` appends many generated articles for streaming/memory tests.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from ingest.store.identity import url_key
from ingest.store.sqlite.connection import open_writer as open_db

FEED_NEWS = "https://news.example.org/rss.xml"
FEED_WIRE = "https://wire.example.net/feed.atom"
FEED_BROKEN = "https://broken.example.com/feed"

BRIDGE_V1 = ("The harbour bridge reopened on Sunday morning after three weeks of storm repairs. "
             "Engineers replaced two damaged cable anchors and resurfaced the eastern lane. "
             "The city council said traffic would return to normal by the end of the week.")
BRIDGE_V2 = BRIDGE_V1 + (" Commuters welcomed the reopening, although cyclists complained that "
                         "the temporary ferry service had ended without notice.")
BRIDGE_V3 = BRIDGE_V2 + " A full inspection report will be published in December."
LIBRARY = ("The valley council approved a new budget for the central library on Tuesday. "
           "The plan adds evening opening hours and a mobile library van for outlying villages. "
           "Councillors voted eleven to two in favour after a long debate about staffing.")
MACKEREL_V1 = ("Fishermen at the northern quay reported a record mackerel catch this season. "
               "Warm currents brought shoals closer to the coast than in any year since records began.")
MACKEREL_V2 = MACKEREL_V1 + " Prices at the morning auction fell by a third as a result."
PATCHWORK = ("The valley council approved a new budget for the central library on Tuesday. "
             "Warm currents brought shoals closer to the coast than in any year since records began. "
             "Councillors voted eleven to two in favour after a long debate about staffing. and the")
MUSEUM_V1 = "The maritime museum reopens its lighthouse gallery Ã¢â‚¬â€ after renovation."
MUSEUM_V2 = ("The maritime museum reopens its lighthouse gallery after a year of renovation. "
             "Visitors can climb the restored lantern room from Saturday.")
STUB = "Subscribe to read the full story. Already a subscriber? Log in."


@dataclass
class Fixture:
    """What `build` stored: ids by short name, and the numbers the tests check against."""

    path: Path
    ids: dict[str, int] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)

    @property
    def n_articles(self) -> int:
        return len(self.ids)


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def at_schema(path: str | Path, number: int) -> sqlite3.Connection:
    """A new SQLite database at schema `number` (its first migrations only), as an older ingest left it."""
    from ingest.store.sqlite.schema import MIGRATIONS

    conn = sqlite3.connect(path, isolation_level=None)
    for n, sql in enumerate(MIGRATIONS[:number], start=1):
        conn.executescript(sql)
        conn.execute(f"PRAGMA user_version = {n}")
    return conn


def add_article(conn: sqlite3.Connection, *, url: str, site: str, first_seen: str, last_seen: str,
                published: str | None, topics: list[str], versions: list[tuple[str, str, str]],
                author: str | None = None, language: str = "en", canonical_url: str | None = None) -> int:
    """Insert an article with its versions (title, text, fetched_at); the last one is current."""
    cur = conn.execute(
        "INSERT INTO articles (url, canonical_url, final_url, url_key, site, first_seen, last_seen, published,"
        " current_version, versions, topics) VALUES (?,?,?,?,?,?,?,?,0,0,?)",
        (url, canonical_url or url, url, url, site, first_seen, last_seen, published, json.dumps(topics)))
    article_id = cur.lastrowid
    conn.execute("INSERT OR IGNORE INTO url_keys (key, article_id) VALUES (?, ?)", (url_key(url), article_id))
    previous = None
    for n, (title, text, fetched_at) in enumerate(versions, start=1):
        add_version(conn, article_id, n, title, text, fetched_at, author=author, published=published,
                    language=language, previous=previous)
        previous = (title, text)
    return article_id


def add_version(conn: sqlite3.Connection, article_id: int, n: int, title: str, text: str, fetched_at: str, *,
                author: str | None = None, published: str | None = None, language: str = "en",
                previous: tuple[str, str] | None = None) -> int:
    """Insert version `n` and make it current, in the writer's order (version row, then the bump)."""
    if previous is None:
        change, added, removed = "first", len(text.split()), 0
    else:
        old, new = set(previous[1].split()), set(text.split())
        change = "edit" if previous[1] != text else "title"
        added, removed = len(new - old), len(old - new)
    cur = conn.execute(
        "INSERT INTO versions (article_id, n, fetched_at, title, text, text_hash, title_hash, author, published,"
        " language, sitename, extractor, status, change, words_added, words_removed)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (article_id, n, fetched_at, title, text, _h(text), _h(title), author, published, language, None,
         "trafilatura 2.0.0", 200, change, added, removed))
    conn.execute("UPDATE articles SET current_version = ?, versions = ?, last_seen = max(last_seen, ?) WHERE id = ?",
                 (n, n, fetched_at, article_id))
    return cur.lastrowid


def add_feed(conn: sqlite3.Connection, url: str, name: str, **cols) -> int:
    keys = ["url", "name", *cols]
    cur = conn.execute(f"INSERT INTO feeds ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})",
                       (url, name, *cols.values()))
    return cur.lastrowid


def sight(conn: sqlite3.Connection, article_id: int, feed_id: int | None, seen_at: str, source: str = "feed") -> None:
    conn.execute("INSERT INTO sightings (article_id, feed_id, source, seen_at, outcome) VALUES (?,?,?,?,?)",
                 (article_id, feed_id, source, seen_at, "new"))


def flag_duplicate(conn, article_id: int, version_n: int, of_id: int, of_url: str, kind: str, similarity: float,
                   created_at: str) -> None:
    detail = {"similarity": similarity, "of_url": of_url, "jaccard": similarity, "containment": 1.0}
    conn.execute("INSERT INTO flags (article_id, version_n, kind, subkind, score, other_article_id, detail, summary, "
                 "created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                 (article_id, version_n, "duplicate", kind, similarity, of_id, json.dumps(detail),
                  f"{kind} copy of {of_url}", created_at))
    conn.execute("INSERT OR REPLACE INTO dup_edges (article_id, of_id, kind, similarity) VALUES (?,?,?,?)",
                 (article_id, of_id, kind, similarity))


def flag_garbled(conn, article_id: int, version_n: int, reasons: list[tuple[str, float]], score: float,
                 sources: list[str], created_at: str) -> None:
    detail = {"reasons": [{"name": n, "score": s, "evidence": {"note": f"{n} evidence"}} for n, s in reasons],
              "sources": sources}
    conn.execute("INSERT INTO flags (article_id, version_n, kind, subkind, score, detail, summary, created_at)"
                 " VALUES (?,?,?,?,?,?,?,?)",
                 (article_id, version_n, "garbled", ",".join(n for n, _ in reasons), score, json.dumps(detail),
                  "; ".join(n for n, _ in reasons), created_at))


def build(path: str | Path) -> Fixture:
    """Create a migrated database at `path` holding the fixture below; return what was stored.

    Eight articles on three sites:
      bridge   harbourtimes, 3 versions, seen in both feeds, topics transport+storm (the original)
      library  valleyherald, 1 version, news feed, topic council
      mackerel coastwire, 2 versions, wire feed, topic fishing
      bridge_near   valleyherald, near copy of bridge (flag + dup_edge, similarity 0.91)
      bridge_exact  coastwire, exact copy of bridge (flag + dup_edge, similarity 1.0)
      patchwork coastwire, garbled (patchwork + truncated, sources library and mackerel)
      museum   harbourtimes, mojibake flag on version 1 only; version 2 is clean (current)
      stub     harbourtimes, extraction_suspect, no published date (filters fall back to first_seen)
    """
    path = Path(path)
    fx = Fixture(path)
    db = open_db(path)
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    news = add_feed(conn, FEED_NEWS, "valley-news", title="Valley News", polls=40, failures=0,
                    last_ok_at="2026-11-07T10:00:00+00:00", next_poll_at="2026-11-07T10:15:00+00:00",
                    interval=900.0, items_last_poll=20, new_last_poll=2)
    wire = add_feed(conn, FEED_WIRE, "coast-wire", title="Coast Wire", polls=12, failures=0,
                    last_ok_at="2026-11-07T09:00:00+00:00", next_poll_at="2026-11-07T11:00:00+00:00",
                    interval=7200.0, items_last_poll=50, new_last_poll=0)
    add_feed(conn, FEED_BROKEN, "broken", polls=5, failures=3.0, last_error="http 503 Service Unavailable",
             last_error_at="2026-11-07T09:30:00+00:00", last_ok_at="2026-11-01T09:30:00+00:00",
             next_poll_at="2026-11-07T13:30:00+00:00", interval=14400.0, items_last_poll=0, new_last_poll=0)

    def art(name, url, site, title, published, first_seen, topics, versions, **kw):
        aid = add_article(conn, url=url, site=site, first_seen=first_seen, last_seen=first_seen,
                          published=published, topics=topics, versions=versions, **kw)
        fx.ids[name], fx.urls[name], fx.titles[name] = aid, url, versions[-1][0]
        return aid

    t_bridge = "Harbour bridge reopens after storm repairs"
    bridge = art("bridge", "https://harbourtimes.example/news/2026/11/bridge-reopens", "harbourtimes.example",
                 t_bridge, "2026-11-01T08:00:00+00:00", "2026-11-01T08:05:00+00:00", ["transport", "storm"],
                 [(t_bridge, BRIDGE_V1, "2026-11-01T08:05:00+00:00"),
                  (t_bridge, BRIDGE_V2, "2026-11-01T12:00:00+00:00"),
                  ("Harbour bridge reopens after storm repairs, inspection due", BRIDGE_V3,
                   "2026-11-02T09:00:00+00:00")], author="Ann Keel")
    library = art("library", "https://valleyherald.example/council/library-budget", "valleyherald.example",
                  "Council approves new library budget", "2026-11-03T17:30:00+00:00", "2026-11-03T18:00:00+00:00",
                  ["council"], [("Council approves new library budget", LIBRARY, "2026-11-03T18:00:00+00:00")],
                  author="Ben Moor")
    mackerel = art("mackerel", "https://coastwire.example/fishing/mackerel-record", "coastwire.example",
                   "Fishermen report record mackerel catch", "2026-11-05T06:00:00+00:00",
                   "2026-11-05T06:30:00+00:00", ["fishing"],
                   [("Fishermen report record mackerel catch", MACKEREL_V1, "2026-11-05T06:30:00+00:00"),
                    ("Fishermen report record mackerel catch", MACKEREL_V2, "2026-11-05T10:30:00+00:00")])
    near = art("bridge_near", "https://valleyherald.example/region/harbour-bridge", "valleyherald.example",
               "Harbour bridge open again after repairs", "2026-11-02T07:00:00+00:00", "2026-11-02T07:10:00+00:00",
               ["transport"], [("Harbour bridge open again after repairs", BRIDGE_V2.replace("Sunday", "Sunday"
                                " morning, officials said,"), "2026-11-02T07:10:00+00:00")])
    exact = art("bridge_exact", "https://coastwire.example/wire/bridge-reopens", "coastwire.example",
                t_bridge, "2026-11-02T12:00:00+00:00", "2026-11-02T12:05:00+00:00", ["transport", "storm"],
                [(t_bridge, BRIDGE_V3, "2026-11-02T12:05:00+00:00")])
    patch = art("patchwork", "https://coastwire.example/misc/valley-roundup", "coastwire.example",
                "Valley roundup: library and fishing news", "2026-11-06T09:00:00+00:00", "2026-11-06T09:05:00+00:00",
                ["council", "fishing"], [("Valley roundup: library and fishing news", PATCHWORK,
                                          "2026-11-06T09:05:00+00:00")])
    museum = art("museum", "https://harbourtimes.example/culture/museum-gallery", "harbourtimes.example",
                 "Museum lighthouse gallery reopens", "2026-11-04T11:00:00+00:00", "2026-11-04T11:05:00+00:00",
                 ["culture"], [("Museum lighthouse gallery reopens", MUSEUM_V1, "2026-11-04T11:05:00+00:00"),
                               ("Museum lighthouse gallery reopens", MUSEUM_V2, "2026-11-04T15:00:00+00:00")],
                 language="en")
    stub = art("stub", "https://harbourtimes.example/premium/ferry-timetable", "harbourtimes.example",
               "Ferry timetable changes", None, "2026-11-07T08:00:00+00:00", [],
               [("Ferry timetable changes", STUB, "2026-11-07T08:00:00+00:00")])

    for aid, feed, at in [(bridge, news, "2026-11-01T08:05:00+00:00"), (bridge, wire, "2026-11-01T09:00:00+00:00"),
                          (bridge, news, "2026-11-01T12:00:00+00:00"), (library, news, "2026-11-03T18:00:00+00:00"),
                          (mackerel, wire, "2026-11-05T06:30:00+00:00"), (near, news, "2026-11-02T07:10:00+00:00"),
                          (exact, wire, "2026-11-02T12:05:00+00:00"), (patch, wire, "2026-11-06T09:05:00+00:00"),
                          (museum, news, "2026-11-04T11:05:00+00:00")]:
        sight(conn, aid, feed, at)
    sight(conn, stub, None, "2026-11-07T08:00:00+00:00", source="urls")

    flag_duplicate(conn, near, 1, bridge, fx.urls["bridge"], "near", 0.91, "2026-11-02T07:10:00+00:00")
    flag_duplicate(conn, exact, 1, bridge, fx.urls["bridge"], "exact", 1.0, "2026-11-02T12:05:00+00:00")
    flag_garbled(conn, patch, 1, [("patchwork", 0.7), ("truncated", 0.45)], 0.84,
                 [fx.urls["library"], fx.urls["mackerel"]], "2026-11-06T09:05:00+00:00")
    flag_garbled(conn, museum, 1, [("mojibake", 0.7)], 0.7, [], "2026-11-04T11:05:00+00:00")  # old version only
    conn.execute("INSERT INTO flags (article_id, version_n, kind, subkind, score, detail, created_at)"
                 " VALUES (?,1,'extraction_suspect','paywall',0.6,'{}',?)", (stub, "2026-11-07T08:00:00+00:00"))
    conn.execute("COMMIT")
    db.conn.close()
    return fx


def add_synthetic(conn: sqlite3.Connection, n: int, *, words: int = 250, start_id: int = 100_000) -> None:
    """Append `n` one-version articles (about `words` words each) in one transaction, quickly."""
    vocab = ("harbour council library storm fishing bridge ferry museum budget quay coast valley "
             "engineers repairs shoals auction visitors lantern gallery commuters").split()
    conn.execute("BEGIN IMMEDIATE")
    sites = ["harbourtimes.example", "valleyherald.example", "coastwire.example"]
    for i in range(start_id, start_id + n):
        text = " ".join(vocab[(i * 7 + k * 3) % len(vocab)] for k in range(words)) + "."
        day = 1 + i % 28
        url = f"https://{sites[i % 3]}/synthetic/{i}"
        conn.execute("INSERT INTO articles (id, url, canonical_url, final_url, url_key, site, first_seen, last_seen,"
                     " published, current_version, versions, topics) VALUES (?,?,?,?,?,?,?,?,?,1,1,?)",
                     (i, url, url, url, url, sites[i % 3], f"2026-10-{day:02d}T00:00:00+00:00",
                      f"2026-10-{day:02d}T00:00:00+00:00", f"2026-10-{day:02d}T00:00:00+00:00", '["synthetic"]'))
        conn.execute("INSERT INTO versions (article_id, n, fetched_at, title, text, text_hash, title_hash, change,"
                     " words_added) VALUES (?,1,?,?,?,?,?,'first',?)",
                     (i, f"2026-10-{day:02d}T00:00:00+00:00", f"Synthetic article {i}", text, _h(text), str(i), words))
    conn.execute("COMMIT")


class Server:
    """`ingest.cli.read.serve_cmd` in a subprocess on a free 127.0.0.1 port (a context manager)."""

    def __init__(self, db_path: str | Path, timeout: float = 30.0):
        self.db_path, self.timeout = Path(db_path), timeout
        self.port = 0
        self.proc = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> Server:
        import os
        import socket
        import subprocess
        import sys
        import time
        import urllib.request

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        root = Path(__file__).resolve().parent.parent
        self.log_path = self.db_path.parent / f"serve-{self.port}.log"
        self._log = open(self.log_path, "wb")  # a file, not a pipe: Datasette's tracebacks could fill a pipe
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from ingest.cli.read import serve_cmd; serve_cmd()",
             "--db", str(self.db_path), "--port", str(self.port)],
            cwd=self.db_path.parent, env={**os.environ, "PYTHONPATH": str(root)},
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited {self.proc.returncode}: {self.log()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url("/-/versions.json"), timeout=2):
                    return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("serve did not start in time")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except Exception:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
