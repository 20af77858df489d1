"""WARC/ARC files as a backfill source: archived HTTP responses in, (Candidate, Page) out.

    stats = WarcStats()
    for cand, page in warc_pages("crawl.warc.gz", stats=stats):
        ...
    print(stats)   # "52 records, 16 HTML pages, 36 skipped (request 17, metadata 16, ...)"

Reading is warcio's ArchiveIterator (gzip'd or plain, WARC or ARC via arc2warc), so
chunked transfer-encoding and gzip/br content-encoding of the archived payload are
undone by warcio's content stream. Only `response` records with HTTP status 200 and
an HTML type become Pages; the Page looks like one the Fetcher would have returned
(same header folding, same charset decoding), with fetched_at = WARC-Date.

Archives from the wild are damaged in every way (see ../shared/corpora/warc-samples):
truncated gzip members, wrong Content-Length, a whole file gzip'd as one member, bad
chunking. Each bad record is logged as one line, counted in WarcStats.skipped, and
reading resumes at the next gzip member / `WARC/1.x` line after it, so one bad record
does not cost the rest of the file. Only a missing or unreadable file raises.

Record keys (for the resumable backfill_done table) are "<file identity>:<offset>",
where the identity is a digest of the file's first 64 KiB plus its size: stable
across reruns, renames and moves, different for different files.
"""
from __future__ import annotations

import gzip
import hashlib
import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator

from ingest.fetch import charset
from ingest.fetch.fetcher import HEADERS_DROPPED
from ingest.records import Candidate, Page

log = logging.getLogger(__name__)

MAX_BYTES = 10_000_000  # same default as fetch.max_bytes
MAX_BAD_RECORDS = 100  # per file; past this the rest of the file is given up
IDENTITY_PREFIX = 65536
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
DAMAGE = {  # skip reasons that mean a damaged record (logged one line each), with the log text
    "truncated": "truncated (file or gzip member ends inside it)",
    "bad encoding": "payload chunking or content-encoding is broken",
    "bad length": "not followed by a blank line (wrong Content-Length?)",
    "bad record": "no WARC-Type (not a record start)",
}
MISALIGNED = frozenset({"truncated", "bad length", "bad record"})  # framing is wrong: resync after
_GZIP_MEMBER = re.compile(rb"\x1f\x8b\x08")
_WARC_LINE = re.compile(rb"(?:^|\n)(WARC/1\.[01]\r?\n)")


@dataclass
class WarcStats:
    """What one or more files held, for "N records, M HTML pages, K skipped (reasons)"."""

    records: int = 0  # every record seen, including bad ones
    html: int = 0  # (Candidate, Page) pairs yielded
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    bad: int = 0  # damaged records (also in skipped)

    def __str__(self) -> str:
        reasons = ", ".join(f"{r} {n}" for r, n in self.skipped.most_common())
        total = sum(self.skipped.values())
        return f"{self.records} records, {self.html} HTML pages, {total} skipped" + (f" ({reasons})" if reasons else "")


class _QuietIterator(ArchiveIterator):
    INC_RECORD = ""  # warcio prints a 3-line warning for a wrong Content-Length; we log our own line


def file_identity(path: str | Path) -> str:
    """sha256 of the first 64 KiB (16 hex digits) + "-" + size: stable across reruns and renames."""
    p = Path(path)
    with open(p, "rb") as fh:
        head = fh.read(IDENTITY_PREFIX)
    return f"{hashlib.sha256(head).hexdigest()[:16]}-{p.stat().st_size}"


def _open(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: WARC file not found") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{path}: is a directory, not a WARC file") from None
    except OSError as e:
        raise OSError(f"{path}: cannot read WARC file: {e.strerror or e}") from None


def _target_uri(record) -> str | None:
    uri = (record.rec_headers.get_header("WARC-Target-URI") or "").strip()
    uri = uri.removeprefix("<").removesuffix(">").replace(" ", "%20")  # wget's <uri>; spaces
    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    return uri if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def _parse_date(record, http) -> datetime | None:
    """WARC-Date (ISO 8601), else the archived response's HTTP Date; aware UTC."""
    raw = (record.rec_headers.get_header("WARC-Date") or "").strip()
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        when = None
    if when is None and http is not None and http.get_header("Date"):
        try:
            when = parsedate_to_datetime(http.get_header("Date"))
        except (TypeError, ValueError, IndexError):
            when = None
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def _is_html(content_type: str | None, body: bytes) -> bool:
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime:
        return mime in HTML_TYPES
    head = body[:1024].lstrip().lower()  # no type archived: sniff, as a browser would
    return head.startswith((b"<!doctype html", b"<html"))


def _headers(http) -> dict[str, str]:
    """Lower-case keys, repeats joined with ", ", set-cookie dropped: as Fetcher does."""
    out: dict[str, str] = {}
    for k, v in http.headers:
        k = k.lower()
        if k not in HEADERS_DROPPED:
            out[k] = f"{out[k]}, {v}" if k in out else v
    return out


def _page(record, max_bytes: int) -> tuple[Page | None, str]:
    """(Page, "") for an HTML 200 response, else (None, reason skipped)."""
    if not record.rec_type:
        return None, "bad record"  # parsed, but no WARC-Type: not a record start (seen after damage)
    if record.rec_type != "response":
        return None, record.rec_type
    http = record.http_headers
    if http is None or not (http.protocol or "").upper().startswith("HTTP"):
        return None, "not http"
    uri = _target_uri(record)
    if uri is None:
        return None, "not http"
    status = http.get_statuscode()
    if status != "200":
        return None, f"status {status}"
    content_type = http.get_header("Content-Type")
    if content_type and not _is_html(content_type, b""):
        return None, "not html"
    body = record.content_stream().read(max_bytes + 1)  # chunking and content-encoding undone
    if len(body) > max_bytes:
        return None, "too large"
    if getattr(record.raw_stream, "limit", 0) > 0:  # payload decoding stopped short: why?
        while record.raw_stream.read(65536):
            pass
        if record.raw_stream.limit > 0:
            return None, "truncated"  # the file (or gzip member) ended inside the record
        return None, "bad encoding"  # broken chunking or content-encoding
    if not _is_html(content_type, body):
        return None, "not html"
    fetched_at = _parse_date(record, http)
    if fetched_at is None:
        return None, "no date"
    decoded = charset.decode(body, content_type)
    return Page(
        url=uri, final_url=uri, status=200, headers=_headers(http), body=body,
        html=decoded.text, charset=decoded.charset, charset_source=decoded.source,
        charset_mismatch=decoded.mismatch, fetched_at=fetched_at,
    ), ""


def _next_start(fh: BinaryIO, after: int, gzipped: bool) -> int | None:
    """Offset of the next gzip member / WARC header line after `after`, or None."""
    pattern = _GZIP_MEMBER if gzipped else _WARC_LINE
    pos, chunk, overlap = after, 1 << 20, 16
    while True:
        fh.seek(pos)
        data = fh.read(chunk)
        if not data:
            return None
        m = pattern.search(data)
        if m:
            return pos + (m.start(1) if m.lastindex else m.start())
        if len(data) < chunk:
            return None
        pos += len(data) - overlap


class _Leftover(Exception):
    pass


def _has_data(fh: BinaryIO, at: int) -> bool:
    fh.seek(at)
    return bool(fh.read(65536).strip(b"\r\n\t \x00"))


def _one_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {' '.join(str(e).split()) or 'no detail'}"[:200]


def warc_pages(
    path: str | Path, *, max_bytes: int = MAX_BYTES, stats: WarcStats | None = None,
) -> Iterator[tuple[Candidate, Page]]:
    """(Candidate(source="warc"), Page) for every HTML 200 response in a WARC/ARC file.

    Raises FileNotFoundError / OSError (with the path) only if the file cannot be
    opened; every problem inside the file is logged, counted in `stats` and skipped.
    """
    path = Path(path)
    stats = stats if stats is not None else WarcStats()
    fh = _open(path)
    with fh:
        ident = file_identity(path)
        size = path.stat().st_size
        gzipped = fh.read(2) == b"\x1f\x8b"
        done = -1  # highest offset handled: a resumed iterator never repeats a record
        bad = 0
        start: int | None = 0
        plain_view = False  # True once reading a one-member .gz through GzipFile
        source: BinaryIO = fh
        while start is not None and bad < MAX_BAD_RECORDS:
            source.seek(start)
            it = _QuietIterator(source, arc2warc=True)
            start = None
            try:
                for record in it:
                    offset = it.offset  # start of this record (warcio updates it after the previous one)
                    if offset <= done:
                        continue
                    done = offset
                    stats.records += 1
                    page, reason = _page(record, max_bytes)
                    errors = it.err_count
                    it.read_to_end()
                    if it.err_count > errors:
                        page, reason = None, "bad length"
                    if reason in DAMAGE:
                        log.warning("%s: record at offset %d: %s", path.name, offset, DAMAGE[reason])
                    if page is None:
                        stats.skipped[reason] += 1
                        if reason in DAMAGE:
                            stats.bad += 1
                            bad += 1
                        if reason in MISALIGNED and not plain_view:
                            # warcio's position after a record with a wrong length is anywhere (it may
                            # have swallowed the next members): restart at the next boundary instead.
                            start = _next_start(fh, offset + 1, gzipped)
                            break
                        continue
                    stats.html += 1
                    yield Candidate(url=page.url, source="warc", record_key=f"{ident}:{offset}"), page
                else:  # the iterator ran out (no break)
                    # warcio ends quietly when a record's head is cut off (EOFError inside); it stops
                    # exactly at the file's end otherwise, so unread bytes left over are a damaged record.
                    if not plain_view and it.offset < size and _has_data(fh, it.offset):
                        raise _Leftover("unreadable data after the last good record (truncated or corrupt)")
            except Exception as e:  # warcio signals damage with many types; all mean "bad record"
                bad_at, msg = it.offset, _one_line(e)  # warcio's offset: start of the failing record
                if gzipped and not plain_view and "non-chunked gzip" in msg:
                    # Not damage: the whole file is one gzip member. Read it as a stream; record 0
                    # (already handled) has offset 0 either way, later ones get inflated offsets.
                    log.warning("%s: gzip'd as one member, not per record; reading it as a stream", path.name)
                    fh.seek(0)
                    source, plain_view, start = gzip.GzipFile(fileobj=fh), True, 0
                    continue
                if bad_at > done:  # the failing record was not counted yet
                    stats.records += 1
                    done = bad_at
                stats.skipped["bad record"] += 1
                stats.bad += 1
                bad += 1
                log.warning("%s: bad record at offset %d: %s", path.name, bad_at, msg)
                if not plain_view:  # resume at the next record boundary after the damage
                    start = _next_start(fh, bad_at + 1, gzipped)
        if bad >= MAX_BAD_RECORDS and start is not None:
            log.warning("%s: %d bad records, giving up on the rest of the file", path.name, bad)


def warc_stats(path: str | Path, *, max_bytes: int = MAX_BYTES) -> WarcStats:
    """Read a whole file and return its counts (for dry runs and the eval)."""
    stats = WarcStats()
    for _ in warc_pages(path, max_bytes=max_bytes, stats=stats):
        pass
    return stats
