"""Feed parsing: RSS 0.9x/1.0/2.0 and Atom bytes -> Candidates, via feedparser."""
from __future__ import annotations

import calendar
import codecs
import html
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
import feedparser.encodings

from ingest.analyse.topics import TopicMatcher
from ingest.fetch.charset import codec_name
from ingest.records import Candidate


class FeedError(Exception):
    """The body is not a usable feed; the message is one line."""


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    candidates: tuple[Candidate, ...]
    ttl: float | None  # seconds, from RSS <ttl> (a floor for the poll interval)
    warning: str | None  # feedparser's complaint about a feed it could still read


def _when(entry: Mapping[str, Any]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        t: time.struct_time | None = entry.get(key)
        if t:
            try:
                return datetime.fromtimestamp(calendar.timegm(t), UTC)
            except (OverflowError, ValueError):
                continue
    return None


# Scripts and styles are dropped, then every tag, by two scans that find each delimiter with
# one forward search, so a summary costs its length whatever it holds. The regular expressions
# they replace, `<(script|style)\b.*?</\1\s*>` and `<[^>]+>`, gave the same text but retried
# their search from every opening that had no end: 30,000 "<script>" in one summary (a 0.4 MB
# feed) held the event loop for 34 s. An HTML parser (lxml) would not keep the text exactly as it
# was, and must not be imported in the main process (tests/test_extract_startup.py).
_SCRIPT_OPEN = re.compile(r"<(script|style)\b", re.IGNORECASE)
_SCRIPT_CLOSE = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in ("script", "style")}


def _drop_scripts(markup: str) -> str:
    """Each `<script ...>...</script>` (and style) replaced by a space; an opening without a
    closing tag after it is left as it is (then its tag alone goes, like any tag)."""
    parts: list[str] = []
    kept = at = 0
    unclosed: set[str] = set()  # no closing tag after some opening, so after no later one either
    while (m := _SCRIPT_OPEN.search(markup, at)) is not None:
        name = m.group(1).casefold()
        close = None if name in unclosed else _SCRIPT_CLOSE[name].search(markup, m.end())
        if close is None:
            unclosed.add(name)
            at = m.end()
            continue
        parts += (markup[kept:m.start()], " ")
        kept = at = close.end()
    parts.append(markup[kept:])
    return "".join(parts)


def _drop_tags(markup: str) -> str:
    """Each `<...>` (at least one character inside) replaced by a space."""
    parts: list[str] = []
    kept = at = 0
    while (lt := markup.find("<", at)) >= 0:
        gt = markup.find(">", lt + 1)
        if gt < 0:
            break  # no ">" after this "<", so none after any later "<" either
        if gt == lt + 1:  # "<>" is not a tag
            at = gt
            continue
        parts += (markup[kept:lt], " ")
        kept = at = gt + 1
    parts.append(markup[kept:])
    return "".join(parts)


def _strip_tags(markup: str | None) -> str:
    """A summary's text: scripts and styles dropped, tags removed, entities decoded."""
    return html.unescape(_drop_tags(_drop_scripts(markup or "")))


# feedparser's HTML sanitizer and relative-URI resolution are more than half of its time
# (1.9 -> 0.8 ms per item on 60 real feeds) and we use neither: a summary is reduced to
# text above, and titles and links come out the same: on the 4,682 entries of the corpora's real
# feeds, titles and links are identical and summaries the same text in all but 8 (a stray
# character of broken markup, e.g. "&GT" against ">").
_FEEDPARSER_OPTIONS = {"sanitize_html": False, "resolve_relative_uris": False}

# --- what feedparser is told about the charset -----------------------------------------------
# feedparser decodes with any codec a feed names, in its Content-Type or its XML declaration:
# charset=punycode took seconds per 100 KB and then raised UnicodeError out of feedparser.parse.
# It is told the labels of the closed list only (ingest/fetch/charset.py: WHATWG labels, the
# codecs pages use); any other label is dropped, as if the feed had not named one. A label on
# the list reaches feedparser as the feed wrote it (so feedparser decodes as it always did: on
# the corpora's 3,008 feeds the results are unchanged), or as the list's codec when Python does
# not know the label ("x-sjis", "windows-31j", "ks_c_5601-1989").


def _feed_label(label: str) -> str | None:
    """The charset label feedparser may see for `label`, or None to drop it."""
    codec = codec_name(label)
    if codec is None:
        return None
    label = label.strip().strip("\"'")
    try:
        codecs.lookup(label)
    except LookupError:
        return codec
    return label


def _feed_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Response headers for feedparser, lower-case keys, with a Content-Type charset from the closed list."""
    out = {k.lower(): v for k, v in (headers or {}).items()}
    if "content-type" in out:
        mime, *params = out["content-type"].split(";")
        kept = []
        for param in params:
            name, _, label = param.partition("=")
            if name.strip().lower() == "charset":
                allowed = _feed_label(label)
                if allowed is None:
                    continue
                param = f" charset={allowed}"
            kept.append(param)
        out["content-type"] = ";".join([mime, *kept])
    return out


_PI_ENCODING = rb"""^<\?.*encoding=[\'"](.*?)[\'"].*\?>"""  # feedparser.encodings.RE_XML_PI_ENCODING
# UTF-16/32 labels go to feedparser as they are: it swaps them for the encoding its byte-order
# sniffing found (all text codecs; WHATWG would read "utf-16" as little-endian and has no UTF-32).
_UNICODE_LABELS = frozenset({"u16", "utf-16", "utf16", "utf_16", "u32", "utf-32", "utf32", "utf_32", "iso-10646-ucs-2",
                             "iso-10646-ucs-4", "csucs4", "csunicode", "ucs-2", "ucs-4", "utf-16be", "utf-16le",
                             "utf-32be", "utf-32le"})
_QUOTES = b"'\""


class _Declared:
    """What `re.Match.groups()` gives for the one group of feedparser's pattern."""

    def __init__(self, label: bytes) -> None:
        self._label = label

    def groups(self) -> tuple[bytes]:
        return (self._label,)


class _XmlDeclaredEncoding:
    r"""feedparser's RE_XML_PI_ENCODING, without its backtracking, and for the closed list only.

    feedparser reads the XML declaration's encoding with `^<\?.*encoding=['"](.*?)['"].*\?>` on the
    document's first line, which backtracks for ever when the line does not end the way the
    pattern needs: 160 KB of `<?xml encoding='` repeated held the GIL (so the event loop) for
    more than 30 s. This finds the same group in one pass over the line, right to left as the
    greedy `.*` would: the last `encoding=` followed by a quote, whose value runs to the next
    quote, provided a `?>` comes after that. The label is then given to feedparser if it is on
    the closed list (see _feed_label), else not at all.
    """

    pattern = _PI_ENCODING

    def match(self, data: bytes) -> _Declared | None:
        label = self._label(data)
        if label is None:
            return None
        name = label.decode("utf-8", "replace")
        if name.strip().lower() in _UNICODE_LABELS:  # feedparser reconciles these with the byte-order mark
            return _Declared(label)
        allowed = _feed_label(name)
        return _Declared(allowed.encode("ascii")) if allowed else None

    @staticmethod
    def _label(data: bytes) -> bytes | None:
        if not data.startswith(b"<?"):
            return None
        newline = data.find(b"\n")
        line = data if newline < 0 else data[:newline]  # `.` matches anything but a newline
        close = line.rfind(b"?>")
        if close < 0:
            return None  # `.*\?>` cannot match
        scanned, first_quote = len(line), -1  # first_quote: the first quote at or after `scanned`
        at = len(line)
        while (start := line.rfind(b"encoding=", 2, at)) >= 0:  # the greedy `.*`: last one first
            at = start  # "encoding=" cannot overlap itself: the next one ends before this one starts
            opening = start + len(b"encoding=")
            if opening >= len(line):
                continue
            # the first quote after the opening one: in the part not scanned yet, else the known one
            quotes = (line.find(b"'", opening + 1, scanned), line.find(b'"', opening + 1, scanned))
            found = [i for i in quotes if i >= 0]
            if found:
                first_quote = min(found)
            scanned = opening + 1
            if line[opening] in _QUOTES and 0 <= first_quote < close:  # `.*\?>` needs a "?>" after it
                return line[opening + 1:first_quote]
        return None


# The pattern is replaced only while it is the one this class reproduces; a feedparser that
# changed it keeps its own (and tests/test_hostile_text.py says so).
if getattr(feedparser.encodings.RE_XML_PI_ENCODING, "pattern", None) == _PI_ENCODING:
    feedparser.encodings.RE_XML_PI_ENCODING = _XmlDeclaredEncoding()


def parse_feed(body: bytes, feed_url: str, headers: dict[str, str] | None = None,
               matcher: TopicMatcher | None = None, listed_by: str | None = None) -> ParsedFeed:
    """Parse a feed body fetched from `feed_url` (the base of relative links). Raises FeedError
    when nothing usable is in it.

    `listed_by` is the feed as configured, which the candidates name as theirs (default
    `feed_url`): a feed that redirects, or whose URL the HTTP client normalised, is still the
    feed the store knows, so its articles' sightings and fetch-log rows are counted to it.
    """
    parsed = feedparser.parse(body, response_headers=_feed_headers(headers), **_FEEDPARSER_OPTIONS)
    problem = None
    if parsed.bozo:
        exc = parsed.get("bozo_exception")
        problem = f"{type(exc).__name__}: {exc}".splitlines()[0][:200] if exc else "malformed feed"
    if not parsed.entries:
        if problem or not parsed.get("version"):
            raise FeedError(f"not a feed: {problem or 'no RSS/Atom root element'}")
    candidates = []
    for entry in parsed.entries:
        link = entry.get("link") or (entry.get("id") if str(entry.get("id", "")).startswith("http") else None)
        if not link:
            continue
        url = urljoin(feed_url, link.strip())
        if not url.startswith(("http://", "https://")):
            continue
        title = (entry.get("title") or "").strip() or None
        summary = _strip_tags(entry.get("summary")).strip() or None
        candidates.append(Candidate(
            url=url, source="feed", feed_url=listed_by or feed_url, guid=entry.get("id") or None, title=title,
            summary=summary, published=_when(entry),
            topics=matcher.match(title, summary) if matcher else (),
        ))
    if not candidates and problem:
        raise FeedError(f"broken feed: {problem}")
    ttl = None
    raw_ttl = parsed.feed.get("ttl")
    if raw_ttl and str(raw_ttl).strip().isdigit():
        ttl = float(raw_ttl) * 60
    return ParsedFeed(title=parsed.feed.get("title"), candidates=tuple(candidates), ttl=ttl,
                      warning=problem if parsed.entries else None)
