"""Topic prefilter: can extraction possibly find a configured topic in this raw page?

A month of CC-NEWS is millions of pages of which a few percent are on a story, and
extracting one costs ~30 ms. This test costs well under a millisecond on the raw bytes:

1. From each topic's regex (ingest/topics.py) it derives *factors*: ASCII words one of
   which every match must contain (`Kim Jong[ -]?Un` -> "jong", `denucleari[sz]ation` ->
   "denucleari"). A page whose bytes contain none of them (ASCII case ignored; tags inside
   a word allowed, as extraction drops them) cannot match: in every ASCII-compatible
   charset a letter of the text is that byte. One RE2
   scan finds them all (a DFA: linear, ~450 MB/s; one `bytes.find` per word is ~1.6 GB/s
   each, so RE2 wins from 3 words on).
2. Around each hit (WINDOW bytes either side) it decodes the page, strips tags (once
   dropping them, once as spaces: inline and block markup), unescapes entities, folds
   whitespace, and runs the topic regexes exactly as the matcher does after extraction.
   The first window that matches keeps the page.
3. Pages it cannot reason about cheaply get the same test on the whole page: a keyword
   with no usable ASCII factor, a UTF-16/32 page, or more than MAX_WINDOWS hits.

Everything here is linear in the page size (attacker-controlled input): the only
regexes are a tag pattern that cannot backtrack past the next `<` or `>`, the
stdlib's entity pattern, `\\s+` and the RE2 scan. The topic regexes themselves are the operator's
and run on bounded windows. `python -m eval prefilter` measures recall against
extract-then-match (docs/backfill.md).
"""
from __future__ import annotations

import bisect
import html
import importlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import re2

from ingest.analyse.topics import TopicMatcher
from ingest.fetch import charset

# The parser `re` itself uses (no public API; the same in 3.11-3.13): the factors come from the parse tree.
sre_parse: Any = importlib.import_module("re._parser")
sre_c: Any = importlib.import_module("re._constants")

WINDOW = 1024  # raw bytes on each side of a factor hit: a keyword plus the markup inside it
MAX_WINDOWS = 24  # windows tried before the whole page is tested instead
MAX_HITS = 4 * MAX_WINDOWS  # factor hits collected (merged into windows) before giving up on windows
MIN_FACTOR = 3  # a shorter factor would hit every page: test the whole page instead
MAX_EXACT = 16  # strings kept while expanding a keyword's alternatives
MAX_EXACT_LEN = 48

_TAG = re.compile(r"<[^<>]*>")  # [^<>] stops at the next bracket: no scan is repeated
_WORD = re.compile(r"[a-z0-9]+")
_WIDE = ("utf-16", "utf-32")


# --- factors: literal words every match of a regex contains -------------------------------
@dataclass(frozen=True)
class _Info:
    exact: frozenset[str] | None  # every string the node can match (lower-cased), if few
    factors: frozenset[str] | None  # one of these is in every match; None: no constraint


_UNKNOWN = _Info(None, None)
_EMPTY = _Info(frozenset({""}), None)


def _score(s: frozenset[str] | None) -> tuple[int, int]:
    return (-1, 0) if s is None else (min(map(len, s)), -len(s))


def _best(*sets: frozenset[str] | None) -> frozenset[str] | None:
    return max(sets, key=_score)


def _common(strings: frozenset[str]) -> str:
    """Longest substring common to all `strings` (they are few and short)."""
    first = min(strings, key=len)
    for size in range(len(first), 0, -1):
        for i in range(len(first) - size + 1):
            sub = first[i:i + size]
            if all(sub in s for s in strings):
                return sub
    return ""


def _as_factors(info: _Info) -> frozenset[str] | None:
    exact = info.exact
    if exact is None or "" in exact:
        return info.factors
    common = _common(exact)
    reduced = frozenset({common}) if len(common) >= 4 and len(exact) > 1 else exact
    return _best(info.factors, reduced)


def _concat(a: _Info, b: _Info) -> _Info:
    exact = None
    if a.exact is not None and b.exact is not None and len(a.exact) * len(b.exact) <= MAX_EXACT:
        joined = frozenset(x + y for x in a.exact for y in b.exact)
        exact = joined if max(map(len, joined)) <= MAX_EXACT_LEN else None
    factors = _best(_as_factors(a), _as_factors(b))
    return _Info(exact, factors)


def _alternate(infos: list[_Info]) -> _Info:
    exact: frozenset[str] | None = frozenset()
    for i in infos:
        exact = exact | i.exact if exact is not None and i.exact is not None else None
    if exact is not None and len(exact) > MAX_EXACT:
        exact = None
    sets = [_as_factors(i) for i in infos]
    factors = frozenset().union(*sets) if all(s is not None for s in sets) else None  # type: ignore[arg-type]
    return _Info(exact, factors)


def _charset(items: list[tuple[Any, Any]]) -> _Info:
    chars: set[str] = set()
    for op, av in items:
        if op is sre_c.LITERAL:
            chars.add(chr(av).lower())
        elif op is sre_c.RANGE and av[1] - av[0] < 8:
            chars.update(chr(c).lower() for c in range(av[0], av[1] + 1))
        else:  # NEGATE, CATEGORY (\w, \d), wide ranges
            return _UNKNOWN
    return _Info(frozenset(chars), None) if len(chars) <= MAX_EXACT else _UNKNOWN


def _node(op: Any, av: Any) -> _Info:
    if op is sre_c.LITERAL:
        return _Info(frozenset({chr(av).lower()}), None)
    if op is sre_c.IN:
        return _charset(av)
    if op in (sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT):
        return _EMPTY  # zero width
    if op is sre_c.SUBPATTERN:
        return _sequence(av[3])
    if op is sre_c.ATOMIC_GROUP:
        return _sequence(av)
    if op is sre_c.BRANCH:
        return _alternate([_sequence(s) for s in av[1]])
    if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
        low, high, sub = av
        inner = _sequence(sub)
        if low == 0:
            exact = inner.exact | {""} if high == 1 and inner.exact is not None else None
            return _Info(exact, None)
        if low == high == 1:
            return inner
        return _Info(None, _as_factors(inner))
    return _UNKNOWN  # ANY, NOT_LITERAL, GROUPREF, GROUPREF_EXISTS, ...


def _sequence(items: Iterable[tuple[Any, Any]]) -> _Info:
    info = _EMPTY
    for op, av in items:
        info = _concat(info, _node(op, av))
    return info


def _ascii_word(factor: str) -> str:
    """The longest ASCII word in `factor` (ties: the last): it must appear as is in the raw bytes,
    whereas a space or an apostrophe may be written as an entity or split by a tag."""
    words = _WORD.findall(factor)
    return max(reversed(words), key=len) if words else ""


def factors(pattern: str) -> frozenset[str] | None:
    """ASCII words (lower case) one of which every case-insensitive match of `pattern` contains,
    or None when there is no such set of words at least MIN_FACTOR long."""
    try:
        parsed = sre_parse.parse(pattern, re.IGNORECASE)
    except (re.error, RecursionError, OverflowError):
        return None
    found = _as_factors(_sequence(parsed))
    if not found:
        return None
    words = {_ascii_word(f) for f in found}
    if min(map(len, words)) < MIN_FACTOR:
        return None
    return frozenset(w for w in words if not any(o != w and o in w for o in words))  # "jong" covers "jongun"


# --- the page test --------------------------------------------------------------------------
_UNICODE_SPACE = tuple(c for c in map(chr, range(0x10000)) if c.isspace() and c != " ")  # what \\s is
_SPACES = re.compile("  +")  # a literal first: the engine skips to each double space, no per-position work


def fold_spaces(text: str) -> str:
    """Whitespace runs as one space, as extraction leaves text (`North&nbsp;Korea`, `Kim Jong\\n  Un`).

    str.replace per character that occurs, then one literal pattern: ~10x faster than `\\s+`,
    which the regex engine tries at every position."""
    for c in _UNICODE_SPACE:
        if c in text:
            text = text.replace(c, " ")
    return _SPACES.sub(" ", text)


def visible_texts(markup: str) -> tuple[str, str]:
    """The text of an HTML fragment twice: tags dropped (`Pyong<b>yang</b>`) and tags as spaces
    (`<p>summit</p><p>talks`); entities unescaped, whitespace folded. A tag cut at either end of
    a window stays as text: more text, never less."""
    dropped, spaced = _TAG.sub("", markup), _TAG.sub(" ", markup)
    return fold_spaces(html.unescape(dropped)), fold_spaces(html.unescape(spaced))


def _reach(pattern: re.Pattern[str]) -> int | None:
    """Most characters a match can span, or None if unbounded."""
    try:
        high = sre_parse.parse(pattern.pattern, pattern.flags).getwidth()[1]
    except (re.error, RecursionError, OverflowError):
        return None
    return int(high) if high < 10_000 else None


@dataclass(frozen=True)
class Prefilter:
    """`keep(body, content_type)`: False only when the topics cannot match the page's text."""

    matcher: TopicMatcher
    words: tuple[str, ...] | None  # factors of all topics; None: every page gets the whole-page test
    reach: int | None = None  # widest match of any topic, in characters (None: unbounded)
    scan: Any = field(default=None, compare=False, repr=False)  # RE2 alternation of `words`, ASCII case ignored

    def __post_init__(self) -> None:
        if self.words is not None and self.scan is None:
            options = re2.Options()
            options.encoding = re2.Options.Encoding.LATIN1  # bytes in, byte offsets out
            options.case_sensitive = False
            gap = "(?:<[^<>]*>)*"  # markup inside a word (`Pyong<b>yang</b>`, `<wbr>`) is dropped by extraction
            alternatives = (gap.join(re.escape(c) for c in w) for w in self.words)
            scan = re2.compile("|".join(alternatives).encode("ascii"), options)
            object.__setattr__(self, "scan", scan)

    @classmethod
    def from_matcher(cls, matcher: TopicMatcher) -> Prefilter | None:
        """None when there are no topics (everything is kept anyway)."""
        if matcher.keeps_everything:
            return None
        words: set[str] = set()
        reaches = [_reach(p) for _, p in matcher.patterns]
        reach = None if None in reaches else max(r for r in reaches if r is not None)
        for _, pattern in matcher.patterns:
            found = factors(pattern.pattern)
            if found is None:
                return cls(matcher, None, reach)
            words |= found
        return cls(matcher, tuple(sorted(words)), reach)

    def keep(self, body: bytes, content_type: str | None = None) -> bool:
        header = charset.codec_name(charset.header_charset(content_type))
        wide = body.startswith((b"\xff\xfe", b"\xfe\xff")) or (header or "").startswith(_WIDE)
        if self.words is None or wide:
            return self._whole(body, content_type)
        hits = [m.span() for m in islice(self.scan.finditer(body), MAX_HITS)]
        if hits:  # not in scripts, styles, menus, footers... (JSON-LD stays: extraction reads the headline there)
            ignored = _ignored_spans(body)
            hits = [h for h in hits if not _inside(ignored, h[0])]
        if not hits:
            return False
        declared = header or charset.codec_name(charset.meta_charset(body))  # (a <meta> cannot declare UTF-16)
        codecs = ["utf-8"] + ([declared] if declared and declared != "utf-8" else [])
        windows = _windows(hits)  # in page order
        for start, end in windows[:MAX_WINDOWS]:
            chunk = body[start:end]
            if any(self.matches_markup(chunk.decode(codec, "replace")) for codec in codecs):
                return True
        return len(windows) > MAX_WINDOWS and self._whole(body, content_type)

    def matches_markup(self, markup: str) -> bool:
        """Whether a topic matches the visible text of an HTML fragment (either tag treatment)."""
        return any(self._matches(text) for text in visible_texts(markup))

    def _matches(self, text: str) -> bool:
        """The topic regexes, run only around the factor words when matches are bounded in width."""
        low = text.lower()
        if self.words is None or self.reach is None or len(low) != len(text):  # (a few letters lower to two)
            return bool(self.matcher.match(text))
        span = self.reach + 2  # + the characters \\b looks at
        for word in self.words:
            at = low.find(word)
            while at >= 0:
                part = text[max(0, at - span):at + len(word) + span]
                if self.matcher.match(part):
                    return True
                at = low.find(word, at + 1)
        return False

    def _whole(self, body: bytes, content_type: str | None) -> bool:
        decoded = charset.decode(body, content_type)
        return decoded is not None and any(self.matcher.match(t) for t in visible_texts(decoded.text))


# Elements whose text extraction never keeps: code, and the boilerplate trafilatura drops before it
# looks for the article (its MANUALLY_CLEANED list; not <form>: some sites wrap the whole page in one).
IGNORED = (b"script", b"style", b"nav", b"aside", b"footer", b"noscript", b"select", b"menu")
_NAME_END = frozenset(b" >\t\r\n/")


def _ignored_spans(body: bytes) -> list[tuple[int, int]]:
    """Byte ranges of IGNORED elements (JSON-LD scripts excepted: extraction reads the headline
    there), merged, in page order. An element with no end tag is not ignored: what a parser
    makes of it varies, and more text is the safe side. Two `find`s per element: linear."""
    low = body.lower()
    spans: list[tuple[int, int]] = []
    for name in IGNORED:
        opening, closing = b"<" + name, b"</" + name
        pos = 0
        while (at := low.find(opening, pos)) >= 0:
            after = at + len(opening)
            if after < len(low) and low[after] not in _NAME_END:  # <navbar>, <scripts>: other elements
                pos = after
                continue
            end = low.find(closing, after)
            if end < 0:
                break
            if name != b"script" or b"ld+json" not in low[at:at + 512].split(b">", 1)[0]:
                spans.append((at, end))
            pos = end + len(closing)
    merged: list[tuple[int, int]] = []
    for first, last in sorted(spans):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(last, merged[-1][1]))
        else:
            merged.append((first, last))
    return merged


def _inside(spans: list[tuple[int, int]], at: int) -> bool:
    i = bisect.bisect_right(spans, (at, len(spans) + at + 1)) - 1  # the last span starting at or before `at`
    return i >= 0 and spans[i][0] <= at < spans[i][1]


def _windows(hits: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Byte ranges of WINDOW around each hit, overlapping ones merged."""
    out: list[tuple[int, int]] = []
    for first, last in hits:
        start, end = max(0, first - WINDOW), last + WINDOW
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out
