"""`--archive warc DIR`: keep every fetched page as a WARC response record.

    with WarcArchive("archive/") as archive:
        archive.write(page)

Why: the store keeps extracted text and the raw body, but a WARC is the format
other tools (pywb, warcio, Common Crawl tooling, and our own `--warc` backfill)
read, so a crawl can be replayed or re-extracted later without re-fetching.

Files are `ingest-<UTC yyyymmddHHMMSS>-<pid>-<n>.warc.gz` (never overwritten:
opened with O_EXCL), one gzip member per record, rotated after `max_size`
bytes (~1 GB). Each record is flushed as it is written, so a killed process
leaves a file that reads cleanly up to its last complete record.

Records are request-less `response` records (WARC/1.1, microsecond WARC-Date =
Page.fetched_at, WARC-Target-URI = Page.final_url). The HTTP head is rebuilt
from Page.status and Page.headers; since Page.body is already de-chunked and
decompressed, Transfer-Encoding and Content-Encoding are dropped and
Content-Length is set to the body length, so a reader does not try to decode
the body twice. Set-Cookie was never kept (the Fetcher drops it).
"""
from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from ingest.records import Page

MAX_SIZE = 1_000_000_000
_DROPPED = frozenset({"transfer-encoding", "content-encoding", "content-length"})


def _software() -> str:
    try:
        from importlib.metadata import version

        return f"ingest/{version('ingest')}"
    except Exception:  # not installed as a distribution (running from a checkout)
        return "ingest"


def _header_name(key: str) -> str:
    return "-".join(part.capitalize() for part in key.split("-"))  # content-type -> Content-Type


def http_head(page: Page) -> StatusAndHeaders:
    """The archived HTTP status line and headers for `page` (see module docstring)."""
    try:
        reason = HTTPStatus(page.status).phrase
    except ValueError:
        reason = ""
    headers = [(_header_name(k), v) for k, v in page.headers.items() if k.lower() not in _DROPPED]
    headers.append(("Content-Length", str(len(page.body))))
    return StatusAndHeaders(f"{page.status} {reason}".strip(), headers, protocol="HTTP/1.1")


class WarcArchive:
    """Appends pages to rotating .warc.gz files in one directory."""

    def __init__(self, directory: str | os.PathLike[str], *, max_size: int = MAX_SIZE):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_size = max_size
        self.files: list[Path] = []  # every file opened, in order
        self.records = 0
        self._fh: BinaryIO | None = None
        self._writer: WARCWriter | None = None
        self._open()

    def _open(self) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        n = len(self.files)
        while True:
            path = self.dir / f"ingest-{stamp}-{os.getpid()}-{n:05d}.warc.gz"
            try:
                self._fh = open(path, "xb")  # never overwrite another run's file
                break
            except FileExistsError:
                n += 1
        self.files.append(path)
        self._writer = WARCWriter(self._fh, gzip=True, warc_version="WARC/1.1")
        info = self._writer.create_warcinfo_record(path.name, {
            "software": _software(), "format": "WARC File Format 1.1",
        })
        self._writer.write_record(info)
        self._fh.flush()

    @property
    def path(self) -> Path:
        """The file being written now."""
        return self.files[-1]

    def write(self, page: Page) -> None:
        """Append one response record for `page`, flushed before returning."""
        if self._writer is None:
            raise ValueError("WarcArchive is closed")
        when = page.fetched_at if page.fetched_at.tzinfo else page.fetched_at.replace(tzinfo=UTC)
        when = when.astimezone(UTC).replace(tzinfo=None)
        record = self._writer.create_warc_record(
            page.final_url, "response",
            payload=io.BytesIO(page.body),
            length=len(page.body),
            http_headers=http_head(page),
            warc_headers_dict={"WARC-Date": datetime_to_iso_date(when, use_micros=True)},
        )
        assert self._fh is not None  # open while the writer is
        if self._fh.tell() >= self.max_size:  # rotate before writing: no file ends up holding only a warcinfo
            self._fh.close()
            self._open()
        self._writer.write_record(record)
        self._fh.flush()
        self.records += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = self._writer = None

    def __enter__(self) -> WarcArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
