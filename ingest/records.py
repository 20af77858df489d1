"""The small typed records that the stages hand to each other, and the words they use.

Every stage takes one of these and returns the next, so a reader can follow the data
flow by following types:

    source -> Candidate -> fetch -> Page | NotModified | FetchFailure
           -> extract -> Extracted | Skipped -> store -> Stored
    read   -> Article, Version, History, Stats

Vocabularies (kinds, outcomes, reasons) are `Literal` types: the same strings are what
the database and the exports hold, and mypy checks every place that names one.
Timestamps are aware datetimes (UTC unless a publisher said otherwise); only the store
turns them into text (ingest/times.py). All records are picklable: extraction and
fingerprinting run in worker processes.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, get_args

from ingest.config import strip_credentials

# --- vocabularies -----------------------------------------------------------------------
Source = Literal["feed", "urls", "sitemap", "warc", "recheck", "demo", "reextract"]
FetchKind = Literal["feed", "article", "robots", "sitemap"]
FailureKind = Literal[
    "http", "timeout", "connection", "too_large", "refused", "content_type", "robots", "redirects", "invalid"
]
CharsetSource = Literal["bom", "header", "meta", "detected", "default"]
DateSource = Literal["feed", "sitemap", "jsonld", "meta", "htmldate"]
SkipReason = Literal["empty", "off_topic", "error", "timeout"]
DuplicateKind = Literal["exact", "near", "syndicated", "subset"]
GarbleName = Literal[
    "patchwork", "mojibake", "repeated_title", "repeated_text", "splice", "boilerplate", "truncated", "mixed_spelling"
]
StoreOutcome = Literal["new", "version", "unchanged", "flipflop", "suspect"]
Change = Literal["first", "edit", "title", "reextract"]
FlagKind = Literal["duplicate", "garbled", "extraction_suspect"]
PageKind = Literal["article", "listing", "gallery", "roundup", "video"]

DUPLICATE_KINDS: tuple[DuplicateKind, ...] = get_args(DuplicateKind)
PAGE_KINDS: tuple[PageKind, ...] = get_args(PageKind)
GARBLE_NAMES: tuple[GarbleName, ...] = get_args(GarbleName)


# --- source -> fetch --------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """A URL some source says may be an article worth fetching."""

    url: str
    source: Source
    feed_url: str | None = None
    guid: str | None = None
    title: str | None = None
    summary: str | None = None
    published: datetime | None = None
    topics: tuple[str, ...] = ()  # topics matched on title/summary before fetching
    record_key: str | None = None  # backfill record identity, marked done with the article (resumable)


@dataclass(frozen=True)
class Page:
    """A fetched HTTP response, decoded to text (the raw bytes are kept too)."""

    url: str  # as requested
    final_url: str  # after redirects
    status: int
    headers: dict[str, str]
    body: bytes
    html: str  # body decoded with `charset`
    charset: str
    charset_source: CharsetSource
    charset_mismatch: bool  # declared charset disagreed with the bytes
    fetched_at: datetime


@dataclass(frozen=True)
class NotModified:
    """A conditional GET answered 304 (or the body hash matched): nothing to parse."""

    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchFailure:
    """Why a URL could not be fetched; one short line for logs and the fetch log."""

    url: str
    kind: FailureKind
    message: str
    status: int | None = None
    retry_after: float | None = None  # seconds, when the server said so


FetchResult = Page | NotModified | FetchFailure


@dataclass(frozen=True)
class FetchLog:
    """One line of the fetch log (the `fetches` table): what a request came to."""

    url: str
    kind: FetchKind
    outcome: str  # "ok" | "not_modified" | a FailureKind
    at: datetime
    status: int | None = None
    message: str | None = None
    bytes: int | None = None
    elapsed_ms: float | None = None

    @classmethod
    def of(cls, result: FetchResult, kind: FetchKind, at: datetime, elapsed_ms: float) -> FetchLog:
        """The log line of a result; a URL given with `user:password@` is logged without it."""
        url = strip_credentials(result.url)
        if isinstance(result, FetchFailure):
            return cls(url, kind, result.kind, at, result.status, result.message, None, elapsed_ms)
        if isinstance(result, NotModified):
            return cls(url, kind, "not_modified", at, elapsed_ms=elapsed_ms)
        return cls(url, kind, "ok", at, result.status, None, len(result.body), elapsed_ms)


# --- extract -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Document:
    """What extraction found in a page."""

    title: str
    text: str
    author: str | None = None
    published: datetime | None = None
    modified: datetime | None = None
    language: str | None = None
    sitename: str | None = None
    canonical_url: str | None = None
    date_source: DateSource | None = None
    extractor: str = ""  # e.g. "trafilatura 2.3.1"


@dataclass(frozen=True)
class GarbleReason:
    name: GarbleName
    score: float  # 0..1: how sure this one signal is on its own
    evidence: dict[str, Any] = field(default_factory=dict)
    strong: bool = False  # corruption (flags alone), not an imperfection (ingest/analyse/checks.py)


@dataclass(frozen=True)
class Fingerprint:
    """Corpus-independent features of a text, computed in a worker process."""

    text_hash: str  # hash of the normalised text (exact-copy and version key)
    title_hash: str
    n_words: int
    band_keys: tuple[int, ...] = ()  # MinHash-LSH band keys (empty for short texts)
    minhash: bytes = b""  # packed signature, for estimating similarity of candidates
    sentences: tuple[tuple[int, int], ...] = ()  # (sentence hash, position)
    garble: tuple[GarbleReason, ...] = ()  # per-document checks (no corpus needed)
    exact_key: int = 0  # 63-bit hash of the normalised text after ftfy encoding repair (analysis index key)
    lines: tuple[int, ...] = ()  # line keys (ingest/text.py line_key), to learn and skip a site's template
    page_kind: PageKind = "article"  # ingest/analyse/kinds.py


@dataclass(frozen=True)
class Extracted:
    """The output of the worker stage: a document plus its fingerprint."""

    page: Page
    document: Document
    fingerprint: Fingerprint
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class Packed:
    """An Extracted made on a cluster worker, packed for the trip back to the writer: the page
    without its decoded HTML (the writer stores the bytes and their charset), the bytes
    zstd-compressed (about a fifth of their size). `unpack()` gives the Extracted back."""

    page: Page  # body=b"", html=""
    body: bytes  # page.body, zstd
    document: Document
    fingerprint: Fingerprint
    topics: tuple[str, ...] = ()

    @classmethod
    def of(cls, ex: Extracted) -> Packed:
        import zstandard

        return cls(replace(ex.page, body=b"", html=""), zstandard.ZstdCompressor(level=3).compress(ex.page.body),
                   ex.document, ex.fingerprint, ex.topics)

    def unpack(self) -> Extracted:
        import zstandard

        body = zstandard.ZstdDecompressor().decompress(self.body)
        return Extracted(replace(self.page, body=body), self.document, self.fingerprint, self.topics)


@dataclass(frozen=True)
class Skipped:
    """The page yielded nothing worth storing (empty extraction, off topic, an error, a timeout)."""

    url: str
    reason: SkipReason
    message: str = ""


# What became of a record a WARC backfill read (`Scanned.kinds`): dropped before extraction for
# any reason but the prefilter (not a page, damaged...), sent on to extraction, or prefiltered.
SCAN_SKIPPED, SCAN_KEPT, SCAN_PREFILTERED = 0, 1, 2


@dataclass(frozen=True, eq=False)
class Scanned:
    """Records of one WARC file read since the previous part, for the store's per-file counts
    (`BackfillStore.scanned`, the `backfill_files` table): each record's offset, in file order,
    and what became of it (SCAN_*). Offsets rather than sums, so that the store can count every
    record of a file once however often, and by however many processes, the file is read."""

    file: str  # the file's identity (sources/warc.py): the same file under any path or URL
    location: str  # the path or URL it was read from
    offsets: array[int]  # record offsets, increasing
    kinds: bytes  # one SCAN_* per offset
    ended: bool = False  # this part reached the end of the file (every record before was read)


@dataclass(frozen=True)
class FileEnd:
    """Yielded by a backfill's WARC source after the last record of a file (or for one that
    could not be read): the driver counts the file done once those records are stored."""

    location: str


# --- analyse -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Duplicate:
    """This article is a copy of an earlier one."""

    of_article_id: int
    of_url: str
    kind: DuplicateKind
    similarity: float
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Garble:
    score: float  # combined 0..1
    reasons: tuple[GarbleReason, ...]
    sources: tuple[str, ...] = ()  # URLs of articles the text was stitched from


@dataclass(frozen=True)
class Verdict:
    duplicate: Duplicate | None = None
    garble: Garble | None = None


# --- store ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stored:
    """What storing one extracted page did."""

    article_id: int
    url: str
    outcome: StoreOutcome
    version: int  # the article's current version after this
    flags: tuple[str, ...] = ()  # e.g. ("duplicate:exact",) for this version
    seen_version: int | None = None  # the stored version the page equals (None: a suspect extraction)
    words: tuple[int, int] | None = None  # a new version's (words added, words removed)


@dataclass(frozen=True)
class Known:
    """An article already stored, found by one of the candidate's keys."""

    article_id: int
    due: bool  # its re-check time has come (or it was found through its feed GUID alone)


@dataclass(frozen=True)
class OffTopic:
    """A page fetched before and found off topic: not fetched again."""

    url: str


@dataclass(frozen=True)
class FeedState:
    """A feed as the store knows it: validators, health and schedule."""

    id: int
    url: str
    name: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    interval: float | None = None  # seconds to the next poll, as last computed
    failures: float = 0.0  # consecutive, weighted by kind
    next_poll_at: datetime | None = None


@dataclass(frozen=True)
class Poll:
    """What one poll of a feed came to; the store records it in one transaction."""

    fetch: FetchLog
    ok: bool
    error: str | None = None
    failure: FailureKind | Literal["parse"] | None = None
    not_modified: bool = False
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    items: int | None = None  # entries listed (None: not parsed this time)
    new: int = 0  # entries not stored before this poll
    hint: float | None = None  # the server's floor for the next poll (ttl, max-age, Retry-After)


@dataclass(frozen=True)
class Recheck:
    """A stored article whose re-check time has come."""

    article_id: int
    url: str
    next_check_at: datetime | None  # as it was when handed out (a re-check that stored nothing leaves it)


@dataclass(frozen=True)
class ReextractJob:
    """One stored page to extract again (picklable: sent to a worker process)."""

    article_id: int
    url: str
    final_url: str
    status: int
    charset: str
    charset_source: CharsetSource
    fetched_at: datetime
    compressed: bytes | None  # the stored raw HTML, zstd (None: its blob is missing)
    published: datetime | None
    date_source: DateSource | None


# --- read ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DuplicateOf:
    of: str | None  # URL of the earliest stored article this one shares what `kind` claims with
    kind: DuplicateKind
    similarity: float | None  # measured between this article and `of`
    summary: str | None = None  # the evidence in one line
    evidence: dict[str, Any] = field(default_factory=dict)  # overlap figures, aligned sentences, matches


@dataclass(frozen=True, slots=True)
class GarbleInfo:
    score: float
    reasons: list[str]
    sources: list[str]  # URLs the text was stitched from (patchwork)
    summary: str | None = None  # the evidence in one line
    evidence: list[dict[str, Any]] = field(default_factory=list)  # per reason: name, score, strong, evidence


@dataclass(frozen=True, slots=True)
class Article:
    """An article with its current version: one export row, one API object."""

    id: int
    url: str
    canonical_url: str | None
    site: str
    page_kind: PageKind
    title: str
    text: str
    author: str | None
    published: datetime | None
    language: str | None
    first_seen: datetime | None
    last_seen: datetime | None
    version: int
    versions: int
    feeds: list[str]
    topics: list[str]
    duplicate: DuplicateOf | None
    garbled: GarbleInfo | None

    @property
    def clean(self) -> bool:
        """Neither a duplicate nor garbled (in its current version)."""
        return self.duplicate is None and self.garbled is None


@dataclass(frozen=True, slots=True)
class Version:
    """One stored version of an article: one `--versions` export row."""

    url: str
    version: int
    fetched_at: datetime | None
    title: str
    text: str
    text_hash: str
    change: Change
    words_added: int
    words_removed: int
    author: str | None
    published: datetime | None


@dataclass(frozen=True)
class DiffOp:
    """One run of a word diff: kept, added or removed words (joined with spaces)."""

    op: Literal["same", "add", "del"]
    text: str


@dataclass(frozen=True)
class VersionView:
    """A version as `ingest history` shows it: with its word diff against the previous one."""

    n: int
    fetched_at: str
    change: Change
    title: str
    words_added: int
    words_removed: int
    extractor: str | None
    status: int | None
    final_url: str | None
    text_hash: str
    current: bool
    title_before: str | None = None  # the previous version's title, when it changed
    diff: list[DiffOp] = field(default_factory=list)


@dataclass(frozen=True)
class History:
    article_id: int
    url: str
    canonical_url: str | None
    site: str
    first_seen: str
    last_seen: str
    current_version: int
    versions: list[VersionView]
    sightings: dict[str, int]  # outcome -> count ("new", "version", "unchanged", "flipflop", "suspect", "seen")
    flags: list[dict[str, Any]]  # extraction_suspect flags: version_n, score, detail


@dataclass(frozen=True)
class FeedHealth:
    url: str
    name: str | None
    polls: int
    last_ok_at: str | None
    last_error: str | None
    last_error_at: str | None
    failures: float  # consecutive, weighted by kind
    next_poll_at: str | None
    interval: float | None
    items_last_poll: int | None
    new_last_poll: int | None
    articles: int  # distinct articles this feed has listed
    status: Literal["ok", "failing", "never polled"]


@dataclass(frozen=True)
class Stats:
    articles: int
    versions: int
    sites: int
    sightings: int
    sighting_outcomes: dict[str, int]  # new, version, unchanged, flipflop, suspect, ... -> count
    flags: dict[str, int]  # "duplicate:exact" -> count, over current versions
    fetches: dict[str, int]  # outcome -> count
    feeds: list[FeedHealth]
    warc: WarcTotals = field(default_factory=lambda: WarcTotals.of([]))
    warc_files: list[WarcFile] = field(default_factory=list)


@dataclass(frozen=True)
class WarcFile:
    """What WARC backfills have read of one file, each record counted once (`backfill_files`)."""

    file: str  # identity: digest of the first 64 KiB + size
    location: str  # the path or URL it was last read from
    records: int  # records read, of every type, damaged ones included
    prefiltered: int  # HTML pages the topic prefilter dropped before extraction
    kept: int  # HTML pages sent on to extraction
    ended: bool  # a reading reached the end of the file
    updated_at: str


@dataclass(frozen=True)
class WarcTotals:
    """The sums over `WarcFile`s."""

    files: int
    ended: int
    records: int
    prefiltered: int
    kept: int

    @classmethod
    def of(cls, files: list[WarcFile]) -> WarcTotals:
        return cls(len(files), sum(f.ended for f in files), sum(f.records for f in files),
                   sum(f.prefiltered for f in files), sum(f.kept for f in files))
