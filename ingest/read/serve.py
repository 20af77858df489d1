"""Browse the database in Datasette, read-only, with described views and canned queries.

Datasette opens a mutable (non-immutable) file with `?mode=ro` connections and only writes
through `execute_write`, which nothing here uses (no writable canned queries, no write
plugins); SQL typed into the UI must be a single SELECT. So `serve` runs safely beside the
daemon and always shows fresh rows. The metadata (titles, view descriptions, FTS wiring,
canned queries) is built here from the SQL in query.py, so the UI and the Python API share
one definition of "copies", "versions" and "search".
"""
from __future__ import annotations

import asyncio
from pathlib import Path

from .query import (ARTICLE_VERSIONS_SQL, COPIES_SQL, GARBLED_SQL, LATEST_COVERAGE_SQL, SEARCH_SQL,
                    open_readonly)

TITLE = "ingest: news coverage"

VIEWS = {
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


def metadata(db_path: str | Path) -> dict:
    """Datasette metadata: descriptions, FTS on `latest` and `versions`, canned queries."""
    tables: dict[str, dict] = {name: {"description": text} for name, text in VIEWS.items()}
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


def make_datasette(db_path: str | Path):
    """A Datasette instance over `db_path` (which must exist and have the read views)."""
    from datasette.app import Datasette

    open_readonly(db_path).close()  # ReadError for a missing file or an old schema, before serving
    return Datasette(files=[str(Path(db_path).resolve())], metadata=metadata(db_path), settings=SETTINGS)


def serve(db_path: str | Path, host: str = "127.0.0.1", port: int = 8001, open_browser: bool = False) -> None:
    """Serve the database until interrupted (the same way `datasette serve` does: uvicorn)."""
    import uvicorn
    from datasette.cli import check_databases

    ds = make_datasette(db_path)
    asyncio.run(check_databases(ds))
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, [f"http://{host}:{port}/{database_name(db_path)}"]).start()
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning", lifespan="on")
