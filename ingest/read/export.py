"""Export articles (or all their versions) to JSON Lines, CSV or Parquet, streamed.

Rows are read from one cursor and written as they come (Parquet in row groups of
`BATCH_ROWS`), so memory stays flat however large the database is. The database is opened
read-only: an export runs beside the daemon and never blocks or changes it. Field contract
and types: docs/reading.md.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from ingest.progress import progress as progress_line
from ingest.records import Article, DuplicateOf, GarbleInfo, Version
from ingest.times import to_text

from .query import (ARTICLE_FIELDS, VERSION_FIELDS, ExportFilters, ReadError, count_articles, count_versions,
                    iter_articles, iter_versions, open_readonly)

FORMATS = ("jsonl", "csv", "parquet")
BATCH_ROWS = 1000



def as_dict(row: Article | Version, times_as_text: bool = True) -> dict[str, Any]:
    """One export row (docs/reading.md): the record's fields in order, timestamps as UTC ISO
    text (or datetimes, for Parquet), `duplicate` and `garbled` as objects."""
    out: dict[str, Any] = {}
    for name in VERSION_FIELDS if isinstance(row, Version) else ARTICLE_FIELDS:
        value = getattr(row, name)
        if isinstance(value, datetime) and times_as_text:
            value = to_text(value)
        elif isinstance(value, (DuplicateOf, GarbleInfo)):
            value = {f.name: getattr(value, f.name) for f in fields(value)}
            if not times_as_text:  # Parquet: free-form evidence travels as JSON text
                value["evidence"] = json.dumps(value["evidence"], ensure_ascii=False, default=str)
        out[name] = value
    return out


ExportError = ReadError  # the export cannot start (missing database, schema too old, bad output)


def export(db_path: str | Path, out: str | Path | IO, fmt: str = "jsonl", *, versions: bool = False,
           filters: ExportFilters = ExportFilters(), progress: bool | None = None) -> int:
    """Write matching articles (or, with `versions`, every version of them) to `out`; return rows written.

    `out` is a path, "-" (stdout; jsonl/csv only) or an open stream (text or binary; Parquet
    needs binary). A path is written to a temporary sibling and renamed at the end, so an
    interrupted export never leaves a half file under the final name. `progress` None shows a
    rich progress bar on stderr only when stderr is a terminal.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (one of: {', '.join(FORMATS)})")
    if fmt == "parquet" and (out == "-" or isinstance(out, io.TextIOBase)):
        raise ExportError("parquet needs a file path or a binary stream, not stdout")
    if isinstance(out, (str, Path)) and out != "-" and not Path(out).resolve().parent.is_dir():
        raise ExportError(f"no directory for {out}")
    conn = open_readonly(db_path)
    try:
        # One read transaction: a consistent snapshot even while the daemon writes (WAL).
        conn.execute("BEGIN")
        rows: Iterable[Article | Version] = (iter_versions(conn, filters) if versions
                                                   else iter_articles(conn, filters))
        fields = VERSION_FIELDS if versions else ARTICLE_FIELDS
        if progress is None:
            progress = sys.stderr.isatty()  # a bar on a terminal only, never in logs or pipes
        with _progress(rows, conn, filters, versions, progress) as rows:
            if fmt == "parquet":
                with _binary_out(out) as stream:
                    return _write_parquet(rows, stream, parquet_schema(versions))
            with _text_out(out) as stream:
                if fmt == "jsonl":
                    return _write_jsonl(rows, stream)
                return _write_csv(rows, stream, fields)
    finally:
        conn.close()


def parquet_schema(versions: bool = False):
    """The Arrow schema of the Parquet export (pyarrow is imported only when needed)."""
    import pyarrow as pa

    _TS = pa.timestamp("us", tz="UTC")
    _STRS = pa.list_(pa.string())
    ARTICLE_SCHEMA = pa.schema([
        ("id", pa.int64()), ("url", pa.string()), ("canonical_url", pa.string()), ("site", pa.string()),
        ("page_kind", pa.string()), ("title", pa.string()), ("text", pa.string()), ("author", pa.string()), ("published", _TS),
        ("language", pa.string()), ("first_seen", _TS), ("last_seen", _TS), ("version", pa.int64()),
        ("versions", pa.int64()), ("feeds", _STRS), ("topics", _STRS),
        ("duplicate", pa.struct([("of", pa.string()), ("kind", pa.string()), ("similarity", pa.float64()),
                                 ("summary", pa.string()), ("evidence", pa.string())])),
        ("garbled", pa.struct([("score", pa.float64()), ("reasons", _STRS), ("sources", _STRS),
                               ("summary", pa.string()), ("evidence", pa.string())])),
    ])
    VERSION_SCHEMA = pa.schema([
        ("url", pa.string()), ("version", pa.int64()), ("fetched_at", _TS), ("title", pa.string()),
        ("text", pa.string()), ("text_hash", pa.string()), ("change", pa.string()), ("words_added", pa.int64()),
        ("words_removed", pa.int64()), ("author", pa.string()), ("published", _TS),
    ])
    return VERSION_SCHEMA if versions else ARTICLE_SCHEMA


def _write_jsonl(rows: Iterable, stream: IO[str]) -> int:
    n = 0
    for row in rows:
        stream.write(json.dumps(as_dict(row), ensure_ascii=False))
        stream.write("\n")
        n += 1
    return n


def _write_csv(rows: Iterable, stream: IO[str], fields: tuple[str, ...]) -> int:
    """Same columns as JSON; lists and objects as JSON text, None as an empty cell."""
    writer = csv.writer(stream)
    writer.writerow(fields)
    n = 0
    for row in rows:
        writer.writerow(["" if v is None else json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                         for v in as_dict(row).values()])
        n += 1
    return n


def _write_parquet(rows: Iterable, stream: IO[bytes], schema) -> int:
    """Row groups of BATCH_ROWS rows; timestamps parsed to UTC (unparseable -> null)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = schema.names
    n = 0
    with pq.ParquetWriter(stream, schema, compression="zstd") as writer:
        for batch in _batches(rows, BATCH_ROWS):
            cols: dict[str, list] = {name: [] for name in names}
            for row in batch:
                for name, value in as_dict(row, times_as_text=False).items():
                    cols[name].append(value)
            writer.write_table(pa.Table.from_pydict(cols, schema=schema))
            n += len(batch)
    return n


def _batches(rows: Iterable, size: int) -> Iterator[list]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@contextlib.contextmanager
def _progress(rows: Iterable, conn, filters, versions: bool, show: bool):
    """The rows, counted on a progress line (ingest/progress.py) when `show`."""
    if not show:
        yield rows
        return
    total = count_versions(conn, filters) if versions else count_articles(conn, filters)
    with progress_line("export", total, "versions" if versions else "articles", enabled=True) as bar:
        def counted():
            for row in rows:
                yield row
                bar.advance()
        yield counted()


@contextlib.contextmanager
def _text_out(out):
    if out == "-":
        yield sys.stdout
        sys.stdout.flush()
    elif isinstance(out, (str, Path)):
        with _atomic_path(out, "w", encoding="utf-8", newline="") as f:
            yield f
    elif isinstance(out, io.TextIOBase) or hasattr(out, "encoding"):
        yield out
    else:  # a binary stream: encode on the way, hand the stream back open
        wrapper = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        try:
            yield wrapper
            wrapper.flush()
        finally:
            wrapper.detach()


@contextlib.contextmanager
def _binary_out(out):
    if isinstance(out, (str, Path)):
        with _atomic_path(out, "wb") as f:
            yield f
    else:
        yield out


@contextlib.contextmanager
def _atomic_path(path: str | Path, mode: str, **kw):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.part")
    try:
        with open(tmp, mode, **kw) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
