"""WARC/ARC files as a backfill source: archived HTTP responses in, (Candidate, Page) out.

    stats = WarcStats()
    for cand, page in warc_pages("crawl.warc.gz", stats=stats):      # or an http(s):// or s3:// URL
        ...
    print(stats)   # "52 records, 16 HTML pages, 36 skipped (request 17, metadata 16, ...)"

Two readers, one behaviour. FastWARC (Resiliparse's reader, native code) walks the
records of a WARC file, about 2x warcio's rate on gzip'd files (docs/backfill.md);
warcio reads what FastWARC cannot (ARC files, a file gzip'd as one member) and
everything around damage. Each record's HTTP head and payload are parsed by warcio's
own code in both cases, so chunking and gzip/br content-encoding are undone the same
way, and a record yields the same Page whichever reader found it.

Only `response` records with HTTP status 200 and an HTML type become Pages; the Page
looks like one the Fetcher would have returned (same header folding, same charset
decoding), with fetched_at = WARC-Date. With a topic prefilter (ingest/extract/prefilter.py)
pages that cannot be on topic are counted and dropped here, before decoding.

Archives from the wild are damaged in every way (see ../shared/corpora/warc-samples):
truncated gzip members, wrong Content-Length, a whole file gzip'd as one member, bad
chunking. FastWARC hands a record on only once the next record's header has parsed
(the framing of the one before is then right); at the first sign of trouble -- an
error, a short block, offsets that do not increase -- reading goes back to that record
with warcio, which logs each bad record as one line, counts it in WarcStats.skipped,
and resumes at the next gzip member / `WARC/1.x` line after it; after one good record
FastWARC takes over again. So one bad record does not cost the rest of the file, and
the records, pages, keys and counts are those warcio alone gives (tested).

Record keys (for the resumable backfill_done table) are "<file identity>:<offset>",
where the identity is a digest of the file's first 64 KiB plus its size, whether the
file is local or remote: stable across reruns, renames, moves and downloads.
"""
from __future__ import annotations

import gzip
import logging
import os
import re
import time
import zlib
from array import array
from collections import Counter
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastwarc.warc import ArchiveIterator as FastIterator
from warcio.archiveiterator import ArchiveIterator
from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecord, ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeaders

from ingest.extract.prefilter import Prefilter
from ingest.fetch import charset
from ingest.fetch.fetcher import HEADERS_DROPPED
from ingest.records import SCAN_KEPT, SCAN_PREFILTERED, SCAN_SKIPPED, Candidate, Page, Scanned

from .remote import IDENTITY_PREFIX, RemoteError, WarcInput, identity_of, open_input

log = logging.getLogger(__name__)

MAX_BYTES = 10_000_000  # same default as fetch.max_bytes
MAX_BAD_RECORDS = 100  # per file; past this the rest of the file is given up
MAX_HANDOVERS = 50  # per file; past this warcio reads the rest (FastWARC keeps failing on it)
HEARTBEAT = 0.2  # seconds: `warc_items` yields None at least this often while it drops records
LEDGER_RECORDS = 1000  # a `Ledger` is due for handing on after this many records...
LEDGER_SECONDS = 1.0  # ... or this many seconds
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
DAMAGE = {  # skip reasons that mean a damaged record (logged one line each), with the log text
    "truncated": "truncated (file or gzip member ends inside it)",
    "bad encoding": "payload chunking or content-encoding is broken",
    "bad length": "not followed by a blank line (wrong Content-Length?)",
    "bad record": "no WARC-Type (not a record start)",
}
MISALIGNED = frozenset({"truncated", "bad length", "bad record"})  # framing is wrong: resync after
PREFILTERED = "prefiltered"
WHOLE = 1 << 62  # the end of a span that is the whole file (offsets of a one-member .gz may pass its size)
ENGINES = ("auto", "fastwarc", "warcio")
_GZIP_MEMBER = re.compile(rb"\x1f\x8b\x08")
_WARC_LINE = re.compile(rb"(?:^|\n)(WARC/1\.[01]\r?\n)")
_HTTP_RECORD = ("http:", "https:")


@dataclass
class WarcStats:
    """What one or more files held, for "N records, M HTML pages, K skipped (reasons)"."""

    records: int = 0  # every record seen, including bad ones
    html: int = 0  # HTML 200 responses found: (Candidate, Page) pairs yielded + prefiltered
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count
    bad: int = 0  # damaged records (also in skipped)
    prefiltered: int = 0  # HTML pages the topic prefilter dropped before extraction
    files: int = 0  # files opened
    failed: int = 0  # files that could not be opened, or read to the end (remote errors)
    fast: int = 0  # records FastWARC read (the others: warcio)

    def __str__(self) -> str:
        reasons = ", ".join(f"{r} {n}" for r, n in self.skipped.most_common())
        total = sum(self.skipped.values())
        pre = f" ({self.prefiltered} off topic by the prefilter)" if self.prefiltered else ""
        failed = f"; {self.failed} file{'s' if self.failed != 1 else ''} failed" if self.failed else ""
        return (f"{self.records} records, {self.html} HTML pages{pre}, {total} skipped"
                + (f" ({reasons})" if reasons else "") + failed)

    def add(self, other: WarcStats) -> None:
        self.records += other.records
        self.html += other.html
        self.skipped.update(other.skipped)
        self.bad += other.bad
        self.prefiltered += other.prefiltered
        self.files += other.files
        self.failed += other.failed
        self.fast += other.fast


class Ledger:
    """The records of one file as they are read (offset, and whether kept, prefiltered or
    skipped), handed on in parts (`take`) for the store's per-file counts (records.Scanned).
    Filled by the reader on the thread that reads; taken on the same thread, between records."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.file = ""  # the file's identity, once it is open
        self.ended = False  # the reading reached the end (set by `warc_items`)
        self._offsets: array[int] = array("q")
        self._kinds = bytearray()
        self._since = time.monotonic()

    def add(self, offset: int, kind: int) -> None:
        self._offsets.append(offset)
        self._kinds.append(kind)

    def due(self) -> bool:
        """Whether a part should be handed on now (LEDGER_RECORDS records or LEDGER_SECONDS)."""
        return bool(self._offsets) and (len(self._offsets) >= LEDGER_RECORDS
                                        or time.monotonic() - self._since >= LEDGER_SECONDS)

    def take(self) -> Scanned | None:
        """The records added since the last part (with `ended` once the file is read), or None for
        a file that never opened."""
        if not self.file:
            return None
        part = Scanned(self.file, self.location, self._offsets, bytes(self._kinds), self.ended)
        self._offsets, self._kinds, self._since = array("q"), bytearray(), time.monotonic()
        return part


class _QuietIterator(ArchiveIterator):  # type: ignore[misc]
    INC_RECORD = ""  # warcio prints a 3-line warning for a wrong Content-Length; we log our own line


def file_identity(path: str | Path) -> str:
    """sha256 of the first 64 KiB (16 hex digits) + "-" + size: stable across reruns and renames."""
    p = Path(path)
    with open(p, "rb") as fh:
        head = fh.read(IDENTITY_PREFIX)
    return identity_of(head, p.stat().st_size)


def _target_uri(record: Any) -> str | None:
    uri = (record.rec_headers.get_header("WARC-Target-URI") or "").strip()
    uri = uri.removeprefix("<").removesuffix(">").replace(" ", "%20")  # wget's <uri>; spaces
    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    return uri if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def _parse_date(record: Any, http: Any) -> datetime | None:
    """WARC-Date (ISO 8601), else the archived response's HTTP Date; aware UTC."""
    raw = (record.rec_headers.get_header("WARC-Date") or "").strip()
    when: datetime | None
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
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def _is_html(content_type: str | None, body: bytes) -> bool:
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime:
        return mime in HTML_TYPES
    head = body[:1024].lstrip().lower()  # no type archived: sniff, as a browser would
    return head.startswith((b"<!doctype html", b"<html"))


def _headers(http: Any) -> dict[str, str]:
    """Lower-case keys, repeats joined with ", ", set-cookie dropped: as Fetcher does."""
    out: dict[str, str] = {}
    for k, v in http.headers:
        k = k.lower()
        if k not in HEADERS_DROPPED:
            out[k] = f"{out[k]}, {v}" if k in out else v
    return out


def _page(record: Any, max_bytes: int, prefilter: Prefilter | None = None) -> tuple[Page | None, str]:
    """(Page, "") for an HTML 200 response, else (None, reason skipped)."""
    if not record.rec_type:
        return None, "bad record"  # parsed, but no WARC-Type: not a record start (seen after damage)
    if record.rec_type != "response":
        return None, str(record.rec_type)
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
    if prefilter is not None and not prefilter.keep(body, content_type):
        return None, PREFILTERED
    decoded = charset.decode(body, content_type)
    assert decoded is not None  # with detection on, decode always answers
    return Page(
        url=uri, final_url=uri, status=200, headers=_headers(http), body=body,
        html=decoded.text, charset=decoded.charset, charset_source=decoded.source,
        charset_mismatch=decoded.mismatch, fetched_at=fetched_at,
    ), ""


def _next_start(fh: Any, after: int, gzipped: bool) -> int | None:
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


def _peek(fh: Any, at: int, size: int) -> bytes:
    """`size` bytes at `at`, leaving the file position (and a reader's buffer) as it was."""
    try:
        fd = fh.fileno()
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        return os.pread(fd, size, at)
    here = fh.tell()
    fh.seek(at)
    data: bytes = fh.read(size)
    fh.seek(here)
    return data


def _is_record_start(fh: Any, at: int, gzipped: bool) -> bool:
    """Whether a gzip member / WARC header starts at `at`."""
    head = _peek(fh, at, 8)
    return head.startswith(b"\x1f\x8b\x08") if gzipped else head.startswith(b"WARC/1.")


def _member_starts_record(fh: Any, at: int) -> bool:
    """Whether the gzip member at `at` starts with a WARC header line (the position is left as it was).

    FastWARC reads a gzip'd file as one stream; warcio, and our record offsets, take each member
    as a record start. They agree when every record has its own member, which this checks."""
    raw = _peek(fh, at, 256)
    try:
        return zlib.decompressobj(wbits=31).decompress(raw, 8).startswith(b"WARC/1.")
    except zlib.error:
        return False


class _Leftover(Exception):
    pass


def _has_data(fh: Any, at: int) -> bool:
    fh.seek(at)
    return bool(fh.read(65536).strip(b"\r\n\t \x00"))


def _one_line(e: BaseException) -> str:
    text = "".join(c if c.isprintable() else "?" for c in " ".join(str(e).split()))  # no bytes of the file raw
    return f"{type(e).__name__}: {text or 'no detail'}"[:200]


def _fast_usable(head: bytes) -> bool:
    """Whether FastWARC can walk this file by record offsets: a WARC (not ARC), and if gzip'd,
    compressed record by record (the first member ends inside the first 64 KiB and is
    followed by more): a file gzip'd as one member has no offsets to resume at."""
    if not head.startswith(b"\x1f\x8b"):
        return head.startswith(b"WARC/1.")
    d = zlib.decompressobj(wbits=31)
    try:
        first = d.decompress(head)
    except zlib.error:
        return False
    return first.startswith(b"WARC/1.") and d.eof and bool(d.unused_data)


class _Reader:
    """One file's records; the state both readers share (what is done, how many were bad)."""

    def __init__(self, src: WarcInput, stats: WarcStats, max_bytes: int, prefilter: Prefilter | None,
                 engine: str, span: tuple[int, int] | None = None, ledger: Ledger | None = None) -> None:
        self.src, self.fh, self.name, self.stats = src, src.fh, src.name, stats
        self.ledger = ledger if ledger is not None else Ledger(src.name)
        self.ledger.file = src.identity
        self.max_bytes, self.prefilter = max_bytes, prefilter
        self.fh.seek(0)
        head = self.fh.read(IDENTITY_PREFIX)
        self.gzipped = head.startswith(b"\x1f\x8b")
        self.splittable = _fast_usable(head) and self.gzipped
        self.fast = engine != "warcio" and _fast_usable(head)
        # The records this reader owns: those starting in [begin, end). A file that cannot be split
        # (plain, ARC, one gzip member) belongs whole to the span that starts at 0.
        self.begin, self.end = span if span is not None else (0, -1)
        if self.end < 0 or not self.splittable:
            self.end = WHOLE if self.begin == 0 else 0
        self.done = -1  # highest offset handled: a resumed reader never repeats a record
        self.bad = 0
        self.handovers = 0
        self.plain_view = False  # True once reading a one-member .gz through GzipFile
        self.loader = ArcWarcRecordLoader(verify_http=False, arc2warc=True)  # as warcio's ArchiveIterator

    def items(self) -> Iterator[tuple[Candidate, Page] | None]:
        """Pairs, and None after each record dropped (the caller may want to look up between them)."""
        start = self._first_record()
        while start is not None and start < self.end and self.bad < MAX_BAD_RECORDS:
            if self.fast and not self.plain_view:
                start, to_end = yield from self._fast(start)
                if start is None:
                    break
                self.handovers += 1
                self.fast = self.handovers < MAX_HANDOVERS  # a file FastWARC keeps stumbling on: warcio alone
            else:
                to_end = True
            start = yield from self._warcio(start, to_end)
        if self.bad >= MAX_BAD_RECORDS and start is not None:
            log.warning("%s: %d bad records, giving up on the rest of the file", self.name, self.bad)

    def _first_record(self) -> int | None:
        """Where this reader's first record starts: 0, or the first gzip member at or after `begin`
        that holds a WARC header (a span of a file ends where the next one's first record starts, so
        the spans of a file read every record once)."""
        if self.begin == 0:
            return 0
        at = _next_start(self.fh, self.begin, True)
        while at is not None and at < self.end and not _member_starts_record(self.fh, at):
            at = _next_start(self.fh, at + 1, True)
        return at

    def _emit(self, offset: int, page: Page | None, reason: str) -> Iterator[tuple[Candidate, Page] | None]:
        """Count a record handled without damage and yield its pair (or None)."""
        stats = self.stats
        if page is not None:
            stats.html += 1
            self.ledger.add(offset, SCAN_KEPT)
            yield Candidate(url=page.url, source="warc", record_key=f"{self.src.identity}:{offset}"), page
            return
        if reason == PREFILTERED:
            stats.html += 1
            stats.prefiltered += 1
            self.ledger.add(offset, SCAN_PREFILTERED)
        else:
            stats.skipped[reason] += 1
            self.ledger.add(offset, SCAN_SKIPPED)
        yield None

    # --- FastWARC: clean stretches -----------------------------------------------------------
    def _fast_record(self, rec: Any) -> tuple[Page | None, str, bool]:
        """(page, reason, complete) for one FastWARC record, parsed as warcio parses it."""
        headers = rec.headers
        rec_type = headers.get("WARC-Type")
        uri = (headers.get("WARC-Target-URI") or "").strip()
        if uri.startswith("<") and uri.endswith(">"):
            uri = uri[1:-1]
        length = rec.content_length
        if not rec_type:
            return None, "bad record", True  # warcio reads it again and reports it
        if rec_type != "response" or not length or not uri.replace(" ", "%20").startswith(_HTTP_RECORD):
            consumed = rec.reader.consume()
            if rec_type == "response":  # no HTTP head to parse (warcio does not parse one either)
                record = ArcWarcRecord("warc", rec_type, StatusAndHeaders(None, list(headers.items())),
                                       LimitReader(BytesIO(), 0), None, headers.get("Content-Type"), length)
                page, reason = _page(record, self.max_bytes, self.prefilter)
                return page, reason, consumed == length
            return None, str(rec_type or ""), consumed == length
        raw = LimitReader(rec.reader, length)
        http = self.loader.http_parser.parse(raw)  # may raise: warcio then reads the record and reports it
        record = ArcWarcRecord("warc", rec_type, StatusAndHeaders(None, list(headers.items())), raw, http,
                               headers.get("Content-Type"), length)
        page, reason = _page(record, self.max_bytes, self.prefilter)
        while raw.read(65536):  # the rest of the block: is it all there?
            pass
        return page, reason, raw.limit == 0

    def _fast(self, start: int) -> Generator[tuple[Candidate, Page] | None, None, tuple[int | None, bool]]:
        """FastWARC from `start`. Returns (offset to hand to warcio, whether warcio reads to the end),
        or (None, _) when the file is done; the record at that offset is not counted yet.

        A record is counted and yielded only once the next record's header has parsed (its own
        framing is then right); the last one goes to warcio, which checks what follows it."""
        self.fh.seek(start)
        it = iter(FastIterator(self.fh, parse_http=False, auto_decode="none"))
        pending: tuple[int, Page | None, str] | None = None
        while True:
            back = pending[0] if pending else start  # where warcio starts if this record's header is bad
            try:
                rec = next(it)
            except StopIteration:
                break
            except RemoteError:
                raise
            except Exception as e:  # noqa: BLE001 - FastWARC signals damage with OSError and others
                log.debug("%s: FastWARC stopped after %d (%s); warcio reads from there", self.name, back,
                          _one_line(e))
                return back, False
            offset = rec.stream_pos
            if offset <= max(self.done, pending[0] if pending else -1):  # not one record per member after all
                return back, False
            if self.gzipped and not _member_starts_record(self.fh, offset):
                return back, False  # a record spread over gzip members: warcio's view (a member, a record)
            mine = offset < self.end  # else the next span's first record
            page, reason, complete = None, "", True
            try:
                if mine:
                    page, reason, complete = self._fast_record(rec)
            except RemoteError:
                raise
            except Exception:  # noqa: BLE001 - e.g. an HTTP head warcio cannot parse: warcio reports it
                page, reason, complete = None, "", False
            if pending is not None:  # this header parsed: the record before it is whole
                self.done = pending[0]
                self.stats.records += 1
                self.stats.fast += 1
                yield from self._emit(*pending)
                pending = None
            if not mine:
                return None, True
            if not complete or reason in DAMAGE:
                return offset, False  # warcio reads it again, reports it and resyncs
            pending = (offset, page, reason)
        if pending is not None:  # the last record: warcio checks its end and what follows
            return pending[0], True
        if start < self.src.size and _has_data(self.fh, start):
            return start, True  # bytes FastWARC saw no record in: warcio says what they are
        return None, True

    # --- warcio: damage, ARC, one-member gzip --------------------------------------------------
    def _warcio(self, start: int, to_end: bool) -> Generator[tuple[Candidate, Page] | None, None, int | None]:
        """warcio from `start` (the pre-FastWARC reader, unchanged). Without `to_end`, returns the
        next record's offset after the first record read cleanly, for FastWARC to go on from;
        otherwise None at the end of the file."""
        stats, fh, gzipped = self.stats, self.fh, self.gzipped
        source: Any = self._stream if self.plain_view else fh
        pos: int | None = start
        while pos is not None and pos < self.end and self.bad < MAX_BAD_RECORDS:
            source.seek(pos)
            it = _QuietIterator(source, arc2warc=True)
            pos = None
            try:
                for record in it:
                    offset = it.offset  # start of this record (warcio updates it after the previous one)
                    if offset <= self.done:
                        continue
                    if offset >= self.end and not self.plain_view:
                        return None  # the next span's
                    self.done = offset
                    stats.records += 1
                    page, reason = _page(record, self.max_bytes, self.prefilter)
                    errors = it.err_count
                    it.read_to_end()
                    if it.err_count > errors:
                        page, reason = None, "bad length"
                    if reason in DAMAGE:
                        log.warning("%s: record at offset %d: %s", self.name, offset, DAMAGE[reason])
                        self.ledger.add(offset, SCAN_SKIPPED)
                        stats.skipped[reason] += 1
                        stats.bad += 1
                        self.bad += 1
                        if reason in MISALIGNED and not self.plain_view:
                            # warcio's position after a record with a wrong length is anywhere (it may
                            # have swallowed the next members): restart at the next boundary instead.
                            pos = _next_start(fh, offset + 1, gzipped)
                            break
                        yield None
                        continue
                    yield from self._emit(offset, page, reason)
                    if not to_end and self.fast and not self.plain_view and it.offset < self.src.size \
                            and _is_record_start(fh, it.offset, gzipped):
                        return int(it.offset)
                else:  # the iterator ran out (no break)
                    # warcio ends quietly when a record's head is cut off (EOFError inside); it stops
                    # exactly at the file's end otherwise, so unread bytes left over are a damaged record.
                    if not self.plain_view and it.offset < self.src.size and _has_data(fh, it.offset):
                        raise _Leftover("unreadable data after the last good record (truncated or corrupt)")
            except RemoteError:
                raise
            except Exception as e:  # noqa: BLE001 - warcio signals damage with many types; all mean "bad record"
                bad_at, msg = it.offset, _one_line(e)  # warcio's offset: start of the failing record
                if gzipped and not self.plain_view and "non-chunked gzip" in msg:
                    # Not damage: the whole file is one gzip member. Read it as a stream; record 0
                    # (already handled) has offset 0 either way, later ones get inflated offsets.
                    log.warning("%s: gzip'd as one member, not per record; reading it as a stream", self.name)
                    fh.seek(0)
                    self._stream = gzip.GzipFile(fileobj=fh)
                    source, self.plain_view, pos = self._stream, True, 0
                    continue
                if bad_at >= self.end:
                    return None  # the next span's record: its reader reports it
                if bad_at > self.done:  # the failing record was not counted yet
                    stats.records += 1
                    self.ledger.add(bad_at, SCAN_SKIPPED)
                    self.done = bad_at
                stats.skipped["bad record"] += 1
                stats.bad += 1
                self.bad += 1
                log.warning("%s: bad record at offset %d: %s", self.name, bad_at, msg)
                yield None
                if not self.plain_view:  # resume at the next record boundary after the damage
                    pos = _next_start(fh, bad_at + 1, gzipped)
        return None

    _stream: Any  # the GzipFile over a one-member .gz


def warc_items(
    source: str | Path, *, max_bytes: int = MAX_BYTES, stats: WarcStats | None = None,
    prefilter: Prefilter | None = None, engine: str = "auto", user_agent: str | None = None,
    timeout: float = 60.0, heartbeat: float = HEARTBEAT, span: tuple[int, int] | None = None,
    ledger: Ledger | None = None,
) -> Iterator[tuple[Candidate, Page] | None]:
    """`warc_pages`, with a None at least every `heartbeat` seconds while records are dropped:
    a caller that advances this on a thread gets control back often (to see a cancellation),
    even in a stretch of a file with nothing on topic.

    `span=(begin, end)`: only the records that start in that byte range (a cluster's unit of
    work, see `spans`); counted as a file only by the span that starts at 0. `ledger` gets
    every record read (its offset and fate), and `ended` if the reading was not cut short."""
    stats = stats if stats is not None else WarcStats()
    if engine not in ENGINES:
        raise ValueError(f"engine: expected one of {', '.join(ENGINES)}, got {engine!r}")
    src = open_input(source, user_agent=user_agent, timeout=timeout)
    stats.files += 1 if span is None or span[0] == 0 else 0
    try:
        last = time.monotonic()
        try:
            for item in _Reader(src, stats, max_bytes, prefilter, engine, span, ledger).items():
                if item is not None:
                    yield item
                    last = time.monotonic()
                elif time.monotonic() - last >= heartbeat:
                    yield None
                    last = time.monotonic()
            if ledger is not None:
                ledger.ended = True
        except RemoteError as e:
            stats.failed += 1
            log.warning("%s; rest of the file skipped", e)
    finally:
        src.close()


def warc_pages(
    source: str | Path, *, max_bytes: int = MAX_BYTES, stats: WarcStats | None = None,
    prefilter: Prefilter | None = None, engine: str = "auto", user_agent: str | None = None,
) -> Iterator[tuple[Candidate, Page]]:
    """(Candidate(source="warc"), Page) for every HTML 200 response in a WARC/ARC file or URL.

    `engine`: "auto" (FastWARC where it can read the file, else warcio), "fastwarc" or "warcio"
    (the same results; for comparisons). Raises FileNotFoundError / OSError (with the path), or
    RemoteError for a URL, only if the file cannot be opened; every problem inside the file is
    logged, counted in `stats` and skipped (a remote file that stops answering ends the file).
    """
    for item in warc_items(source, max_bytes=max_bytes, stats=stats, prefilter=prefilter, engine=engine,
                           user_agent=user_agent, heartbeat=float("inf")):
        if item is not None:
            yield item


def spans(size: int, unit: int) -> list[tuple[int, int]]:
    """Byte ranges of about `unit` bytes covering a file of `size` bytes: the units of work of a
    cluster backfill. A reader given a span finds its first record itself (see `_Reader`), so
    splitting needs only the size; a file that cannot be split is read whole by its first span."""
    unit = max(1, unit)
    return [(b, min(b + unit, size)) for b in range(0, max(size, 1), unit)]


def warc_stats(path: str | Path, *, max_bytes: int = MAX_BYTES, engine: str = "auto") -> WarcStats:
    """Read a whole file and return its counts (for dry runs and the eval)."""
    stats = WarcStats()
    for _ in warc_pages(path, max_bytes=max_bytes, stats=stats, engine=engine):
        pass
    return stats
