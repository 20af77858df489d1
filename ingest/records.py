"""The small typed records that the pipeline stages hand to each other.

Every stage takes one of these and returns the next, so a reader can follow the
data flow (source -> fetch -> extract -> analyse -> store) by following types.
All records are picklable: extraction and fingerprinting run in worker processes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Candidate:
    """A URL some source says may be an article worth fetching."""

    url: str
    source: str  # "feed" | "urls" | "sitemap" | "warc" | "recheck" | "demo"
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
    charset_source: str  # "bom" | "header" | "meta" | "detected" | "default"
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
    kind: str  # "http" | "timeout" | "connection" | "too_large" | "refused" | "content_type" | "robots" | "redirects" | "invalid"
    message: str
    status: int | None = None
    retry_after: float | None = None  # seconds, when the server said so


@dataclass(frozen=True)
class Document:
    """What extraction found in a page."""

    title: str
    text: str
    author: str | None = None
    published: str | None = None  # ISO date or datetime
    modified: str | None = None
    language: str | None = None
    sitename: str | None = None
    canonical_url: str | None = None
    date_source: str | None = None  # "feed" | "jsonld" | "meta" | "htmldate" | ...
    extractor: str = ""  # e.g. "trafilatura 2.3.1"


@dataclass(frozen=True)
class Fingerprint:
    """Corpus-independent features of a text, computed in a worker process."""

    text_hash: str  # hash of the normalised text (exact-copy key)
    title_hash: str
    n_words: int
    band_keys: tuple[int, ...] = ()  # MinHash-LSH band keys (empty for short texts)
    minhash: bytes = b""  # packed signature, for estimating similarity of candidates
    sentences: tuple[tuple[int, int], ...] = ()  # (sentence hash, position)
    garble: tuple["GarbleReason", ...] = ()  # per-document checks (no corpus needed)
    exact_key: int = 0  # 63-bit hash of the normalised text after ftfy encoding repair (analysis index key)


@dataclass(frozen=True)
class Duplicate:
    """This article is a copy of an earlier one."""

    of_article_id: int
    of_url: str
    kind: str  # "exact" | "near" | "syndicated" | "subset"
    similarity: float
    evidence: dict = field(default_factory=dict)


@dataclass(frozen=True)
class GarbleReason:
    name: str  # "patchwork" | "mojibake" | "repeated_title" | "repeated_text" | "splice" | "boilerplate" | "truncated" | "mixed_spelling"
    score: float  # 0..1
    evidence: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Garble:
    score: float  # combined 0..1
    reasons: tuple[GarbleReason, ...]
    sources: tuple[str, ...] = ()  # URLs of articles the text was stitched from


@dataclass(frozen=True)
class Verdict:
    duplicate: Duplicate | None = None
    garble: Garble | None = None


@dataclass(frozen=True)
class Extracted:
    """The output of the worker stage: a document plus its fingerprint."""

    page: Page
    document: Document
    fingerprint: Fingerprint
    topics: tuple[str, ...] = ()
