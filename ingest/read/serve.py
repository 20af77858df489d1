"""Browse the database in Datasette, read-only, with described views and canned queries.

Datasette opens a mutable (non-immutable) file with `?mode=ro` connections and only writes
through `execute_write`, which nothing here uses (no writable canned queries, no write
plugins); SQL typed into the UI must be a single SELECT. So `serve` runs safely beside the
daemon and always shows fresh rows. The metadata (titles, view descriptions, FTS wiring,
canned queries) is built here from the SQL in query.py, so the UI and the Python API share
one definition of "copies", "versions" and "search".

Datasette limits a query's time (sql_time_limit_ms) but not its memory: `SELECT zeroblob(1e9)`
allocated 1.1 GB. Anyone who can reach the server can type SQL, so (docs/reading.md):
  * every connection gets SQLite limits through Datasette's prepare_connection hook: no value
    over MAX_VALUE_BYTES (SQLITE_LIMIT_LENGTH: printf widths, replace(), concatenation and
    group_concat all stop there with "string or blob too big", before allocating), no SQL text
    over SQL_LENGTH, no result over COLUMNS columns; zeroblob() and randomblob(), which make
    any size from nothing, are replaced by versions capped at GENERATED_BYTES, and printf()/
    format() refuse a width or precision over the value limit before SQLite counts to it;
  * SQLite's own heap has a hard limit (PRAGMA hard_heap_limit, SQLITE_HEAP_BYTES), so sorts
    and caches cannot grow without bound either;
  * the serve process's data segment is capped (RLIMIT_DATA, `--max-memory`), since Python's
    copies of the rows are not SQLite's memory: a query that still tries fails (an error
    page), the server carries on, and the OOM killer is not invited to pick the daemon;
  * a host other than loopback gets a warning: there is no authentication.
"""
from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pluggy import HookimplMarker

from ingest.logs import say, warn

from .query import (
    ARTICLE_VERSIONS_SQL,
    COPIES_SQL,
    GARBLED_SQL,
    LATEST_COVERAGE_SQL,
    SEARCH_SQL,
    open_readonly,
)

TITLE = "ingest: news coverage"
TEMPLATES = Path(__file__).parent / "templates"  # database.html: the views below first, described

VIEWS = {  # in the order the database page lists them
    "latest": "One row per article with its current version: title, text, dates, feeds (JSON list), topics, "
              "page_kind (article, listing, gallery, roundup, video), duplicate_of/kind/similarity and "
              "garbled_score/reasons/sources from the current flags, with each verdict's evidence in words "
              "(duplicate_evidence, garbled_evidence) and in full (the *_detail JSON). "
              "Full-text search (title and text) is on: use the search box.",
    "clean": "`latest` without articles whose current version is flagged duplicate or garbled.",
    "duplicates": "Copies and the earliest stored article each one copies, with kind (exact, near, syndicated, "
                  "subset), the similarity measured between the two, and the evidence in words.",
    "garbled": "Articles whose current version looks corrupted or stitched: combined score, reason names, the "
               "evidence in words (strong signals first; weak ones marked) and, for patchwork, the URLs of the "
               "independent stories the text was stitched from.",
    "feed_health": "Per feed: last success, last error, consecutive failures (weighted), next poll, polls, "
                   "items and new items in the last poll, articles seen, status.",
}

# Internal tables an analyst never needs; still queryable with SQL.
HIDDEN = ("analysis_docs", "lsh_bands", "sentences", "blobs", "url_keys", "backfill_done", "fetches")

SETTINGS = {
    "truncate_cells_html": 300,   # article texts are long; the full text is one click away
    "default_page_size": 50,
    "sql_time_limit_ms": 5000,
    "allow_download": False,
}


def database_name(db_path: str | Path) -> str:
    """The name Datasette gives the file (its stem), used in URLs: /<name>/latest."""
    return Path(db_path).stem


def metadata(db_path: str | Path) -> dict[str, Any]:
    """Datasette metadata: descriptions, FTS on `latest` and `versions`, canned queries."""
    tables: dict[str, dict[str, Any]] = {name: {"description": text} for name, text in VIEWS.items()}
    tables["latest"].update(fts_table="versions_fts", fts_pk="version_id")
    tables["clean"].update(fts_table="versions_fts", fts_pk="version_id")
    tables["versions"] = {"description": "Every stored version of every article (n from 1).",
                          "fts_table": "versions_fts", "fts_pk": "id"}
    for name in HIDDEN:
        tables[name] = {"hidden": True}
    queries = {
        "latest_coverage": {
            "title": "Latest coverage",
            "description": "The 200 newest articles (by published, else first seen) with their flags.",
            "sql": LATEST_COVERAGE_SQL.strip(),
        },
        "copies": {
            "title": "Copies of an article",
            "description": "The duplicate cluster of the article at :url (any of its URLs): the original, "
                           "then each copy with kind and similarity.",
            "sql": COPIES_SQL.strip(),
        },
        "garbled_pages": {
            "title": "Garbled pages and their sources",
            "description": "Current garbled articles, worst first, with reasons and patchwork sources.",
            "sql": GARBLED_SQL.strip(),
        },
        "article_versions": {
            "title": "Versions of an article",
            "description": "Every stored version of the article at :url: when fetched, what changed, "
                           "words added and removed.",
            "sql": ARTICLE_VERSIONS_SQL.strip(),
        },
        "search": {
            "title": "Search articles",
            "description": "Full-text search over current titles and texts (FTS5 syntax: words, \"a phrase\", "
                           "OR, NOT, prefix*), best match first, with a snippet.",
            "sql": SEARCH_SQL.strip(),
        },
    }
    return {
        "title": TITLE,
        "description": "Articles collected from feeds, every version kept, duplicated and garbled copies "
                       "flagged. Read-only. Field meanings: docs/reading.md.",
        "databases": {database_name(db_path): {"tables": tables, "queries": queries}},
    }


# --- what one query may allocate ------------------------------------------------------------------
MIB = 2**20
# Every stored value of a database filled with the default fetch.max_bytes (10 MB) fits: texts
# extracted from a page are no longer than the page, stored HTML is compressed. serve_cmd raises
# it for a larger fetch.max_bytes.
MAX_VALUE_BYTES = 32 * MIB
GENERATED_BYTES = 1 * MIB  # zeroblob()/randomblob() beyond this: "string or blob too big"
SQL_LENGTH = 100_000  # characters of SQL text
COLUMNS = 100  # columns in a result (the widest view, `latest`, has 26)
SQLITE_HEAP_BYTES = 512 * MIB  # PRAGMA hard_heap_limit: SQLite's memory, all connections together
MEMORY_BUDGET = 1024 * MIB  # RLIMIT_DATA: the serve process may grow this much after start-up
PLUGIN_NAME = "ingest-query-limits"


def _blob_size(n: object) -> int:
    """The size SQLite's zeroblob/randomblob would read from their argument (text and reals too)."""
    try:
        return int(float(n))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return 0


def _zeroblob(n: object) -> bytes:
    size = _blob_size(n)
    if size > GENERATED_BYTES:
        raise OverflowError  # Python's sqlite3 reports it as SQLite's own "string or blob too big"
    return bytes(max(size, 0))


def _randomblob(n: object) -> bytes:
    size = _blob_size(n)
    if size > GENERATED_BYTES:
        raise OverflowError
    return os.urandom(max(size, 1))


hookimpl = HookimplMarker("datasette")  # what datasette.hookimpl is, typed
SQLValue = str | bytes | int | float | None
_PRINTF_FLAGS = "-+ 0#,!"
_plain = threading.local()  # per Datasette SQL thread: a private connection with the builtin printf


def _as_int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError, OverflowError):
        return 0


def _printf_too_wide(fmt: str, args: tuple[SQLValue, ...], limit: int) -> bool:
    """True if a width or precision (literal or `*`) in the format is over `limit`.

    SQLite's printf stops at SQLITE_LIMIT_LENGTH, but for `%.*c` it goes on counting to the
    precision first: printf('%.*c', 1e9, 'x') held a SQL thread 8 s past the time limit (the
    limit is checked between steps of a query, not inside a function).
    """
    i, n, arg = 0, len(fmt), 0
    while (i := fmt.find("%", i)) >= 0:
        i += 1
        while i < n and fmt[i] in _PRINTF_FLAGS:
            i += 1
        for part in ("width", "precision"):
            if part == "precision":
                if i >= n or fmt[i] != ".":
                    break
                i += 1
            if i < n and fmt[i] == "*":
                if arg < len(args) and abs(_as_int(args[arg])) > limit:
                    return True
                arg, i = arg + 1, i + 1
            else:
                start = i
                while i < n and fmt[i].isdigit():
                    i += 1
                digits = fmt[start:i]
                if digits and (len(digits) > 12 or int(digits) > limit):
                    return True
        while i < n and fmt[i] == "l":
            i += 1
        if i < n:
            arg += fmt[i] != "%"  # every conversion but %% takes an argument
            i += 1
    return False


def _printf(name: str, limit: int) -> Callable[..., SQLValue]:
    """SQLite's own printf/format, refusing widths over `limit` before it starts counting."""
    def call(*args: SQLValue) -> SQLValue:
        if args and isinstance(args[0], str) and _printf_too_wide(args[0], args[1:], limit):
            raise OverflowError  # "string or blob too big", as SQLite says past the limit
        conn = getattr(_plain, "conn", None)
        if conn is None:
            conn = _plain.conn = sqlite3.connect(":memory:", check_same_thread=False)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limit)
        marks = ", ".join("?" * len(args))
        value: SQLValue = conn.execute(f"SELECT {name}({marks})", args).fetchone()[0]
        return value
    return call


class QueryLimits:
    """The Datasette plugin (prepare_connection hook) that bounds what one query can allocate."""

    __name__ = PLUGIN_NAME  # Datasette lists plugins by module name; this is Datasette's way for objects

    def __init__(self, max_value_bytes: int = MAX_VALUE_BYTES):
        self.max_value_bytes = max_value_bytes

    @hookimpl
    def prepare_connection(self, conn: sqlite3.Connection, database: str, datasette: Any) -> None:
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, self.max_value_bytes)
        conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, SQL_LENGTH)
        conn.setlimit(sqlite3.SQLITE_LIMIT_COLUMN, COLUMNS)
        conn.create_function("zeroblob", 1, _zeroblob, deterministic=True)
        conn.create_function("randomblob", 1, _randomblob)
        for name in ("printf", "format"):
            conn.create_function(name, -1, _printf(name, self.max_value_bytes), deterministic=True)
        conn.execute(f"PRAGMA hard_heap_limit = {SQLITE_HEAP_BYTES}")

    @hookimpl
    def handle_exception(self, datasette: Any, request: Any, exception: BaseException) -> Any:
        """A query that ran out of the memory the server may use: say so (Datasette's own page
        shows an empty message for a MemoryError)."""
        if not isinstance(exception, MemoryError):
            return None
        from datasette.utils.asgi import Response

        message = "the query needs more memory than this server may use (ingest serve --max-memory)"
        if request.path.split("?")[0].endswith(".json"):
            return Response.json({"ok": False, "error": message, "status": 500, "title": "Out of memory"},
                                 status=500)
        return Response.text(f"Out of memory: {message}", status=500)


def install_limits(max_value_bytes: int = MAX_VALUE_BYTES) -> QueryLimits:
    """Register QueryLimits with Datasette's plugin manager (once per process; later calls update it)."""
    from datasette.plugins import pm

    plugin = pm.get_plugin(PLUGIN_NAME)
    if plugin is None:
        plugin = QueryLimits(max_value_bytes)
        pm.register(plugin, name=PLUGIN_NAME)
    plugin.max_value_bytes = max_value_bytes
    return plugin  # type: ignore[no-any-return]


def limit_memory(budget: int = MEMORY_BUDGET) -> int | None:
    """Cap this process's data segment (RLIMIT_DATA) at its current size plus `budget` bytes.

    Returns the cap, or None where it cannot be set (no /proc, a platform without RLIMIT_DATA).
    Past it, an allocation fails: MemoryError in Python, SQLITE_NOMEM in SQLite.
    """
    try:
        import resource

        with open("/proc/self/status") as f:
            data_kb = next(int(line.split()[1]) for line in f if line.startswith("VmData:"))
        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        cap = data_kb * 1024 + budget
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
        return cap
    except (ImportError, OSError, StopIteration, ValueError):
        return None


def is_loopback(host: str) -> bool:
    """True if every address `host` names is a loopback address (127/8, ::1)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def make_datasette(db_path: str | Path, max_value_bytes: int = MAX_VALUE_BYTES) -> Any:
    """A Datasette instance over `db_path` (which must exist and have the read views), with the
    query limits installed."""
    from datasette.app import Datasette

    open_readonly(db_path).close()  # ReadError for a missing file or an old schema, before serving
    install_limits(max_value_bytes)
    return Datasette(files=[str(Path(db_path).resolve())], metadata=metadata(db_path), settings=SETTINGS,
                     template_dir=str(TEMPLATES))


def serve(db_path: str | Path, host: str = "127.0.0.1", port: int = 8001, open_browser: bool = False,
          max_memory: int | None = MEMORY_BUDGET, max_value_bytes: int = MAX_VALUE_BYTES) -> None:
    """Serve the database until interrupted (the same way `datasette serve` does: uvicorn).

    `max_memory`: bytes the process may grow by once started (None or 0: no cap).
    """
    import uvicorn
    from datasette.cli import check_databases

    if not is_loopback(host):
        warn(f"serving on {host}, not a loopback address: anyone who can reach it can read the whole database "
             "and run SQL on it (no authentication); --host 127.0.0.1 keeps it local", host=host)
    ds = make_datasette(db_path, max_value_bytes)
    asyncio.run(check_databases(ds))
    sock = listen(host, port)  # bound here: a busy port is one line, and port 0 gets its number
    url = f"http://{host if ':' not in host else f'[{host}]'}:{sock.getsockname()[1]}/{database_name(db_path)}"
    say(f"serving {db_path} read-only at {url} (Ctrl-C to stop)", url=url)
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, [url]).start()
    if max_memory:
        limit_memory(max_memory)
    server = uvicorn.Server(uvicorn.Config(ds.app(), log_level="warning", lifespan="on"))
    server.run(sockets=[sock])


class PortBusy(Exception):
    """The address to serve on is taken (or not ours to take); the message is one line."""


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port) for uvicorn; PortBusy with one line when it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise PortBusy(f"cannot serve on {host}:{port}: {e.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
