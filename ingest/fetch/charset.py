"""Decode a response body to text, and say how the charset was chosen.

Order: byte-order mark, then the HTTP Content-Type charset, then the document's
own declaration (<meta charset>, <meta http-equiv>, <?xml encoding?>), then
charset-normalizer detection, then UTF-8 with replacement characters.

Bytes that are UTF-8 are UTF-8, declared or not, whatever the page claims: valid UTF-8
with non-ASCII sequences, or valid but for a few stray bytes (a Latin-1 "ü" pasted into a
UTF-8 page: at least UTF8_MIN_RATIO valid non-ASCII characters per invalid sequence, which
decodes as U+FFFD). Legacy-encoded text is almost never valid UTF-8 (the same first check
trafilatura's decode_file makes), and charset-normalizer must not be asked first: it reads
the first 64 KB only, which on pages with long inline scripts is all ASCII (or ends inside a
character), so it answered cp1252 for valid UTF-8; and one stray byte sent it to a legacy
code page for the whole page (cp1250, even cp1006, on real German pages). Then:
  * a declaration that cannot decode the bytes strictly is overruled by detection.
Either case sets `mismatch`, which the garble checks can use; the raw bytes are
kept by the caller so a decode can always be redone.

Charsets come from a closed list: the labels of the WHATWG Encoding Standard (webencodings'
table), each mapped to a Python text codec here, and charset-normalizer's answers only when they
are one of those codecs. Python's registry also knows codecs a page must never pick: punycode
decoded 600 KB in 54 s on the event loop and then raised UnicodeError; rot13, base64, zlib, uu,
idna... turn bytes into something that is not the page. Anything off the list is ignored, as an
unknown label always was, and decoding never raises.

Hand-written (not w3lib/UnicodeDammit) because neither reports where the
answer came from nor whether the declaration lied, and both are extra deps.
"""
from __future__ import annotations

import codecs
import functools
import re
from dataclasses import dataclass

from webencodings import LABELS

from ingest.records import CharsetSource

_BOMS = (  # longest first: the UTF-32-LE BOM starts with the UTF-16-LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# WHATWG Encoding Standard: browsers decode these labels with a superset, and publishers
# rely on it: curly quotes in "iso-8859-1" pages (windows-1252), "gb2312" pages decoded as
# GBK/gb18030 (0xA1AA is an em dash there, a horizontal bar in strict GB2312), "shift_jis" with
# the Windows extensions (cp932: circled digits, "㈱"), and so on. Every WHATWG encoding, by its
# standard name (the values of webencodings.LABELS), and the Python codec that decodes it.
# "replacement" (ISO-2022-KR/CN, HZ: a browser shows one U+FFFD) and "x-user-defined" (binary)
# have none: a page labelled so is decoded by detection.
_CODECS = {
    "utf-8": "utf-8", "utf-16be": "utf-16-be", "utf-16le": "utf-16-le",
    "ibm866": "cp866", "iso-8859-2": "iso8859-2", "iso-8859-3": "iso8859-3", "iso-8859-4": "iso8859-4",
    "iso-8859-5": "iso8859-5", "iso-8859-6": "iso8859-6", "iso-8859-7": "iso8859-7", "iso-8859-8": "iso8859-8",
    "iso-8859-8-i": "iso8859-8", "iso-8859-10": "iso8859-10", "iso-8859-13": "iso8859-13",
    "iso-8859-14": "iso8859-14", "iso-8859-15": "iso8859-15", "iso-8859-16": "iso8859-16", "koi8-r": "koi8-r",
    "koi8-u": "koi8-u", "macintosh": "mac-roman", "x-mac-cyrillic": "mac-cyrillic", "windows-874": "cp874",
    "windows-1250": "cp1250", "windows-1251": "cp1251", "windows-1252": "cp1252", "windows-1253": "cp1253",
    "windows-1254": "cp1254", "windows-1255": "cp1255", "windows-1256": "cp1256", "windows-1257": "cp1257",
    "windows-1258": "cp1258", "gbk": "gb18030", "gb18030": "gb18030", "big5": "big5hkscs", "euc-jp": "euc_jp",
    "iso-2022-jp": "iso2022_jp", "shift_jis": "cp932", "euc-kr": "cp949",
}
_CODECS = {name: codecs.lookup(codec).name for name, codec in _CODECS.items()}  # Python's own spelling
CODECS = frozenset(_CODECS.values())  # the closed list: every codec a decode may use
# The declaration in the document: `<meta[^>]+charset\s*=\s*["']?\s*(LABEL)` (<meta charset> and
# http-equiv content) or `<\?xml[^>]+encoding\s*=\s*["'](LABEL)`, found by a scan (meta_charset).
# As one pattern it backtracked over how white space splits between `\s*["']?\s*`, and over every
# opening with no ">": 0.5 s of event loop for one 4 KB head of `<meta acharset =` and spaces.
_DECLARATION = re.compile(rb"<meta|<\?xml", re.IGNORECASE)
_VALUE = {  # what follows the word, possessive where the pattern above was ambiguous
    b"charset": re.compile(rb"""charset\s*+=\s*+(?:["']\s*+)?([A-Za-z0-9_.:\-]+)""", re.IGNORECASE),
    b"encoding": re.compile(rb"""encoding\s*+=\s*+["']([A-Za-z0-9_.:\-]+)""", re.IGNORECASE),
}
# `charset\s*=\s*["']?\s*([^"';\s]+)`, possessive for the same reason (8 KB headers: 0.3 s).
_HEADER_RE = re.compile(r"""charset\s*+=\s*+(?:["']\s*+)?([^"';\s]+)""", re.IGNORECASE)
PRESCAN = 4096  # bytes searched for a declaration (HTML spec says 1024; real pages put it later)
DETECT = 65536  # bytes given to charset-normalizer; enough to decide, bounded in time


@dataclass(frozen=True)
class Decoded:
    text: str
    charset: str  # Python codec name actually used
    source: CharsetSource
    mismatch: bool  # a declared charset disagreed with the bytes


def codec_name(label: str | None) -> str | None:
    """Python codec for a WHATWG charset label (any other label: None); never raises."""
    if not label:
        return None
    # The standard's "get an encoding": ASCII white space stripped, ASCII case folded.
    name = LABELS.get(label.strip("\t\n\f\r ").strip("\"'").encode("utf-8", "replace").lower().decode("utf-8"))
    return _CODECS.get(name) if name else None


@functools.cache
def _from_python() -> dict[str, str]:
    """Python codec -> ours, for charset-normalizer's answers (its names are Python's): each label's
    Python reading (latin-1 for "iso-8859-1", strict GB2312...) goes to the browser's codec.

    Built on the first detection, not at import: looking up every WHATWG label imports some 200
    codec modules (~40 ms), on the way to a daemon's first fetch (docs/performance.md, start-up).
    """
    table = {codec: codec for codec in CODECS}
    for label, name in LABELS.items():
        try:
            python = codecs.lookup(label).name
        except LookupError:
            continue
        if name in _CODECS:
            table.setdefault(python, _CODECS[name])
    return table


def _known_codec(python_name: str) -> str | None:
    """Our codec for a Python codec name from detection, if it is on the closed list."""
    try:
        return _from_python().get(codecs.lookup(python_name).name)
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    """The raw `charset=` label of a Content-Type, if any."""
    m = _HEADER_RE.search(content_type or "")
    return m.group(1) if m else None


def meta_charset(body: bytes) -> str | None:
    """The raw charset label declared in the first PRESCAN bytes (meta or XML declaration), if any.

    The first tag (in document order) that declares one; inside a tag, the last declaration that
    is well formed (what the greedy `[^>]+` of the pattern above found). Linear: each tag is read
    once per kind, since a tag of one kind that starts inside a failed one fails too.
    """
    head = body[:PRESCAN]
    lower = head.lower()  # bytes.lower() folds ASCII only: offsets are unchanged
    failed_until = {b"charset": -1, b"encoding": -1}
    at = 0
    while (m := _DECLARATION.search(head, at)) is not None:
        at = m.end()
        word = b"charset" if lower.startswith(b"<meta", m.start()) else b"encoding"
        if m.start() < failed_until[word]:
            continue  # inside a tag of its kind that declared nothing: it ends at the same ">"
        gt = head.find(b">", m.end())
        end = len(head) if gt < 0 else gt
        hi = end
        while (i := lower.rfind(word, m.end() + 1, hi)) >= 0:  # `[^>]+`: at least one byte, greedy
            value = _VALUE[word].match(head, i)
            if value:
                return value.group(1).decode("ascii", "replace")
            hi = i + len(word) - 1
        failed_until[word] = end
    return None


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeError, LookupError):  # UnicodeError: some codecs raise the base class
        return None


UTF8_MIN_RATIO = 10  # valid non-ASCII characters per invalid sequence for a body to count as UTF-8


def _utf8(body: bytes) -> str | None:
    """The body decoded as UTF-8 if it is UTF-8 (strictly, or but for a few stray bytes), else None."""
    text = _strict(body, "utf-8")
    if text is not None:
        return text
    text = body.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    good = len(text) - len(text.encode("ascii", "ignore")) - bad  # non-ASCII characters, C speed
    return text if good >= UTF8_MIN_RATIO * bad else None


def _detect(body: bytes) -> str | None:
    """charset-normalizer's best answer that is on the closed list (ranked best first), or None."""
    from charset_normalizer import from_bytes  # imported on the first page that needs it (a thread's)

    matches = from_bytes(body[:DETECT])
    best = matches.best()
    if best is None:
        return None
    # On short samples several code pages tie; prefer the web's commonest legacy one.
    tied = {m.encoding for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)}
    if "cp1252" in tied:
        return "cp1252"
    return next((codec for m in matches if (codec := _known_codec(m.encoding)) is not None), None)


def decode(body: bytes, content_type: str | None = None, detect: bool = True) -> Decoded | None:
    """The body as text, with how its charset was chosen (order: module docstring).

    `detect=False` returns None where charset-normalizer would run (no usable declaration,
    non-ASCII bytes): that path costs ~11 ms on a news page against ~0.3 ms for all others,
    so the fetcher calls it again on a thread rather than on the event loop.
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return Decoded(body[len(bom):].decode(codec, "replace"), codec, "bom", False)

    source: CharsetSource = "header"
    declared = codec_name(header_charset(content_type))
    if declared is None:
        declared, source = codec_name(meta_charset(body)), "meta"
        if declared is not None and declared.startswith(("utf-16", "utf-32")):
            declared = None  # we read the declaration as ASCII, so the page is not UTF-16 (WHATWG)

    as_utf8 = None if body.isascii() else _utf8(body)
    if declared is not None:
        wide = declared.startswith(("utf-16", "utf-32"))  # their bytes can be valid UTF-8 too
        if as_utf8 is not None and not wide:
            return Decoded(as_utf8, "utf-8", source if declared == "utf-8" else "detected", declared != "utf-8")
        text = _strict(body, declared)
        if text is not None:
            return Decoded(text, declared, source, False)

    if body.isascii():  # every ASCII-compatible charset gives the same text
        return Decoded(body.decode("ascii"), "utf-8", "default", False)
    if as_utf8 is not None:
        return Decoded(as_utf8, "utf-8", "detected", declared is not None)
    if not detect:
        return None
    detected = _detect(body)
    if detected is not None:
        return Decoded(body.decode(detected, "replace"), detected, "detected", declared is not None)
    return Decoded(body.decode("utf-8", "replace"), "utf-8", "default", declared is not None)
