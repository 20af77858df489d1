"""Per-document garble checks: signals visible in one text, no corpus needed.

Garble means a corrupted or stitched copy, not an imperfect extraction. So each check says
whether what it found is *corruption* (strong: mojibake, a splice like "and.do", the
headline three times, a body pasted twice, several spelling regimes) or only an
imperfection that any real page may show (weak: a residue line, an unpunctuated last line,
one re-spelt word, one repeated line, the headline twice). A strong reason flags a page on
its own; weak reasons count at most WEAK_SCORE each, so alone or in pairs they never reach
the flag threshold (and three only just miss it). `combine` merges the scores (noisy-OR).

Lines the caller knows are page template (`template`: line keys that recur across the
site's pages, learnt by the store) are not evidence at all. Figures: docs/analysis.md.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Set

import ftfy.badness

from ingest.records import GarbleReason
from ingest.text import line_key, nonempty_lines, normalise_lines, spelling_family, words

SNIPPETS = 5  # evidence examples kept per reason
WEAK_SCORE = 0.2  # the most a weak reason counts: three together stay under 0.5 (0.488)
STRONG_FAMILIES = 3  # US/UK spelling families mixed from which it is corruption, not a quote


def _noisy_or(scores: Iterable[float]) -> float:
    p = 1.0
    for s in scores:
        p *= 1.0 - max(0.0, min(1.0, s))
    return 1.0 - p


def combine(reasons: Iterable[GarbleReason]) -> float:
    """Overall garble score: the chance that at least one signal is right (weak ones capped)."""
    return round(_noisy_or(r.score if r.strong else min(r.score, WEAK_SCORE) for r in reasons), 4)


def _around(text: str, start: int, end: int, pad: int = 30) -> str:
    return text[max(0, start - pad):end + pad].replace("\n", " ")


# --- mojibake ---------------------------------------------------------------------------
def mojibake(text: str, fixed: str) -> GarbleReason | None:
    """Text that ftfy can re-decode (UTF-8 read as cp1252 etc.), or U+FFFD replacement runs."""
    n_fffd = text.count("\ufffd")
    if fixed == text and not n_fffd:
        return None
    bad = [m.span() for m in ftfy.badness.BADNESS_RE.finditer(text)]
    bad += [m.span() for m in re.finditer("\ufffd+", text)]
    score = 0.6 + min(0.35, 0.05 * len(bad)) if fixed != text else 0.5 + min(0.45, 0.1 * n_fffd)
    return GarbleReason("mojibake", round(score, 3), strong=True, evidence={
        "repairable": fixed != text,
        "bad_sequences": len(bad),
        "replacement_chars": n_fffd,
        "examples": [_around(text, a, b, 15) for a, b in bad[:SNIPPETS]],
    })


# --- repetition -------------------------------------------------------------------------
def _key(line: str) -> str:
    return " ".join(words(line))


def repeated_title(title: str, lines: list[str], keys: list[str] | None = None) -> GarbleReason | None:
    """The headline appears as a line of the body more than once (one copy is normal).

    Back-to-back copies are a scraper's stutter; two copies far apart are often a
    caption or a related-links block repeating the headline, so they score lower.
    `keys`: the lines' `_key`s when the caller has them (shared with repeated_text).
    """
    tkey = _key(title)
    if len(tkey.split()) < 3:
        return None
    keys = keys if keys is not None else [_key(line) for line in lines]
    at = [i for i, k in enumerate(keys) if k == tkey]
    if len(at) < 2:
        return None
    adjacent = any(b - a == 1 for a, b in zip(at, at[1:]))
    score = 0.85 if len(at) >= 3 else 0.5 if adjacent else 0.35
    # Twice is the page header plus the article's own headline (or a caption): an imperfect
    # extraction. Three times is a scraper's stutter.
    return GarbleReason("repeated_title", score, {"count": len(at), "adjacent": adjacent, "title": title},
                        strong=len(at) >= 3)


REPEAT_MIN_WORDS = 8
REPEAT_STRONG_SHARE = 0.15  # share of the text in repeated paragraphs from which it was pasted twice
_BULLET = re.compile(r"^[-\u2022*|#>\d]")


def repeated_text(title: str, lines: list[str], keys: list[str] | None = None) -> GarbleReason | None:
    """Prose paragraphs (not the headline, not list items) that occur twice or more.

    One repeated paragraph can be a pull quote, so it scores below the flag threshold;
    several, or a large share of the text, means the body was pasted twice.
    """
    tkey = _key(title)
    seen: dict[str, int] = {}
    total = dup = 0
    repeats = []
    keys = keys if keys is not None else [_key(line) for line in lines]
    for line, k in zip(lines, keys):
        total += len(line)
        if len(k.split()) < REPEAT_MIN_WORDS or k == tkey or _BULLET.match(line):
            continue
        seen[k] = seen.get(k, 0) + 1
        if seen[k] == 2:
            repeats.append(line[:120])
        if seen[k] >= 2:
            dup += len(line)
    if not repeats:
        return None
    frac = dup / max(1, total)
    if len(repeats) == 1:
        score = 0.3 + min(0.15, frac)
    else:
        score = min(0.95, 0.45 + 0.1 * (len(repeats) - 2) + frac)
    # A body pasted twice repeats several paragraphs and a good share of the text; one repeated
    # line (a pull quote, a caption, a poll or recipe line) is not corruption.
    strong = len(repeats) >= 2 and frac >= REPEAT_STRONG_SHARE
    evidence = {"repeated_lines": len(repeats), "char_fraction": round(frac, 3), "examples": repeats[:SNIPPETS]}
    return GarbleReason("repeated_text", round(score, 3), evidence, strong=strong)


# --- splice artefacts -----------------------------------------------------------------------
_TLD = {
    "com", "org", "net", "gov", "edu", "mil", "int", "info", "biz", "io", "co", "uk", "us", "de", "fr", "it", "es",
    "nl", "eu", "ca", "au", "nz", "in", "jp", "cn", "ru", "ch", "at", "be", "se", "no", "dk", "fi", "ie", "ly",
    "tv", "me", "fm", "am", "ai", "app", "dev", "news", "html", "htm", "php", "asp", "aspx", "js", "py", "pdf",
    "jpg", "jpeg", "png", "gif", "svg", "mp3", "mp4", "txt", "csv", "xml", "json", "exe", "zip", "doc", "docx",
    "ts", "rs", "go", "rb", "sh", "md", "css", "online", "tech", "xyz", "site", "top", "cc", "gl", "pl", "az",
}
# English words that end a cut clause or start the glued-on one ("face-to-face and.do what").
_CUT_END = {"and", "or", "but", "the", "a", "an", "of", "to", "with", "in", "on", "for", "that", "as", "at", "by",
            "from", "is", "was", "are", "were", "be", "his", "her", "their", "its", "our", "this", "than", "so"}
_GLUE_START = {"do", "what", "the", "it", "he", "she", "they", "we", "i", "you", "this", "that", "there", "but",
               "and", "in", "on", "a", "an", "when", "while", "after", "as", "his", "her", "their", "its", "with"}
_JOIN = re.compile(r"(?<![\w./@:#-])([a-z]{1,})\.([a-z]{1,})(?= [a-z])")
_DANGLING = re.compile(r"\b(and|or|but|the|an)\.(?=\s|$)")
_LOWER_AFTER_STOP = re.compile(r"\b([a-z]{3,})\. ([a-z]{3,})\b")
_STOP_ABBREV = {"etc", "approx", "inc", "ltd", "corp", "misc", "cont", "viz", "incl", "excl", "est", "pct", "com",
                "org", "net", "vol", "nos", "seq", "ibid", "cf"}
_EN_STOP = {"the", "and", "of", "to", "is", "that", "was", "with", "for", "it", "this", "are", "have", "has", "be",
            "by", "he", "she", "they", "from", "at", "on", "as", "not", "but", "or", "which", "were", "said", "a"}


def is_english(tokens: list[str]) -> bool:
    """Crude but cheap: English function words make up a sixth of English prose, ~2% of German."""
    return len(tokens) >= 20 and sum(1 for t in tokens if t in _EN_STOP) >= 0.15 * len(tokens)


def _quote_balance(par: str) -> int:
    """1 if the paragraph leaves a double quote open (text is quote-folded: only '"')."""
    return par.count('"') % 2


def splice(text: str, lines: list[str], english: bool) -> GarbleReason | None:
    """Joins left where sentences were cut and glued: 'and.do', a sentence ending 'and.',
    a lower-case sentence start after a full stop, and quotes opened but never closed.

    Only for English text: other languages end sentences with particles ("kommt gut an.")
    and abbreviate with a full stop ("bzw. die"), which these English patterns misread.
    """
    if not english:
        return None
    found: list[tuple[str, float, str]] = []
    for m in _JOIN.finditer(text):
        a, b = m.group(1), m.group(2)
        if b not in _TLD and a not in _TLD and (a in _CUT_END or b in _GLUE_START):
            found.append(("joined", 0.6, _around(text, *m.span())))
    for m in _DANGLING.finditer(text):
        found.append(("dangling_word", 0.4, _around(text, *m.span())))
    for m in _LOWER_AFTER_STOP.finditer(text):
        if m.group(1) not in _STOP_ABBREV:
            found.append(("lowercase_start", 0.2, _around(text, *m.span())))
    for i, par in enumerate(lines):
        if not _quote_balance(par) or "|" in par:
            continue
        nxt = lines[i + 1].lstrip() if i + 1 < len(lines) else ""
        # An unclosed quote is the convention for a quote running on into the next
        # paragraph, which then opens with a quote mark again.
        if nxt[:1] == '"':
            continue
        found.append(("broken_quote", 0.15, par[:120]))
    if not found:
        return None
    kinds: dict[str, int] = {}
    for kind, _, _ in found:
        kinds[kind] = kinds.get(kind, 0) + 1
    score = min(0.95, _noisy_or(w for _, w, _ in found))
    # Only two sentences glued at a full stop ("face-to-face and.do what") is a cut-and-paste
    # scar; a lower-case start or an unclosed quote is as often an extraction's or a writer's.
    return GarbleReason("splice", round(score, 3), {"counts": kinds, "examples": [e for _, _, e in found[:SNIPPETS]]},
                        strong="joined" in kinds)


# --- boilerplate residue and truncation ----------------------------------------------------
# `more from [\w .'-]++` is possessive: its run also takes the spaces and dots the end of the
# pattern allows, and backtracking between them was quadratic ("more from a" and 20,000 dots:
# 3.3 s for one line). Same matches: what the run gives back, the end would have to match.
_BOILER = re.compile(
    r"^(latest news|latest|read more|read more stories|more news|more stories|related|related stories|"
    r"related articles|related news|related content|related topics|recommended|recommended for you|"
    r"you may also like|you might also like|most read|most popular|most viewed|trending|trending now|top stories|"
    r"more from [\w .'-]++|share this( article| story)?|"
    r"share|share on facebook|share on twitter|tweet|email|print|comments|leave a comment|sign up|subscribe|"
    r"subscribe now|sign up for our newsletter|advertisement|sponsored|sponsored content|click here|continue reading|"
    r"follow us|follow us on (twitter|facebook|instagram)|skip to content|back to top|watch|watch now|video|photos|"
    r"next article|previous article|load more|see more|"
    r"show comments|join the conversation|we recommend|editor's picks|don't miss|breaking news|live updates)"
    r"\s*[:>»|.…]*$",
    re.IGNORECASE,
)
TAIL_LINES = 3


def residue_lines(lines: list[str]) -> list[int]:
    """Indices of lines that are navigation/boilerplate residue ('Latest News', 'Read more')."""
    return [i for i, line in enumerate(lines) if len(line.split()) <= 8 and _BOILER.match(line.strip())]


def boilerplate(lines: list[str], residue: list[int] | None = None) -> GarbleReason | None:
    """Navigation residue left in the body; at the tail it is a scraper's page furniture.

    `residue`: `residue_lines(lines)` when the caller has it (shared with truncated)."""
    idx = residue if residue is not None else residue_lines(lines)
    if not idx:
        return None
    tail_start = len(lines) - TAIL_LINES
    score = _noisy_or(0.4 if i >= tail_start else 0.25 for i in idx)
    return GarbleReason("boilerplate", round(min(0.8, score), 3),
                        {"lines": [lines[i] for i in idx[:SNIPPETS]], "at_tail": any(i >= tail_start for i in idx)})


_END_OK = re.compile(r"""[.!?)"'\]\u201d\u2019*]$""")
# Words that (almost) never end a sentence: articles, conjunctions, prepositions. German
# separable prefixes (an, auf, zu, mit, ein ...) are left out: "Er kommt an." is complete.
_NEVER_LAST = set(
    "the a an and or but of to in on at for with from by that as is was were has have his her their its "
    "der die das den dem des eine einer eines und oder von für im "
    "le la les un une des et ou du au aux avec pour dans sur "
    "el los las una y del con para en por "
    "il lo gli di della per su "
    "os um uma do da com em "
    "het een en van voor op".split())
_NOT_PROSE_END = re.compile(r"[@/:#|\d]")
TRUNC_MIN_WORDS = 3
TRUNC_LONG = 10


def truncated(lines: list[str], residue: list[int] | None = None) -> GarbleReason | None:
    """The last prose paragraph stops mid-sentence (or with an ellipsis).

    Last lines without a full stop are common (bylines, credits, 'Editing by ...',
    headings, URLs), so a lower-case prose ending only counts weakly; ending on an
    article or conjunction ("... repairs to the bridge and the") is the strong case.
    """
    skip = set(residue if residue is not None else residue_lines(lines))
    body = [line.strip() for i, line in enumerate(lines) if i not in skip and line.strip()]
    last = body[-1] if body else ""
    toks = last.split()
    if len(toks) < TRUNC_MIN_WORDS:
        return None
    if last.endswith(("...", "\u2026")):
        score = 0.35 if len(toks) >= TRUNC_LONG else 0.2
        return GarbleReason("truncated", score, {"last": last[-120:], "why": "ellipsis"})
    tail = toks[-1]
    if _END_OK.search(last) or _NOT_PROSE_END.search(tail):
        return None
    if sum(1 for w in toks if w[:1].isupper()) > 0.5 * len(toks):  # a heading or credit line
        return None
    if tail[-1] in ",;":
        return GarbleReason("truncated", 0.6, {"last": last[-120:], "why": "ends_with_comma"})
    if not tail.isalpha():
        return None
    if tail.lower() in _NEVER_LAST:
        return GarbleReason("truncated", 0.75, {"last": last[-120:], "why": "ends_with_function_word"})
    # Stronger when every other prose paragraph of the text does end properly.
    prose = [p for p in body[:-1] if len(p.split()) >= 8]
    consistent = prose and sum(1 for p in prose if _END_OK.search(p)) >= 0.9 * len(prose)
    strong = consistent and len(toks) >= TRUNC_LONG and tail.islower()  # a trailing Name is often a credit
    return GarbleReason("truncated", 0.45 if strong else 0.3,
                        {"last": last[-120:], "why": "no_terminal_punctuation"})


# --- mixed US/UK spelling ----------------------------------------------------------------------
_QUOTED = re.compile(r'"[^"\n]{0,600}"')
_LOWER_WORD = re.compile(r"(?<![\w'])[a-z]+(?![\w'])")
_US_DOTTED = re.compile(r"\bU\.S\.")
_US_BARE = re.compile(r"\bUS\b(?![$-])")


def mixed_spelling(norm: str) -> GarbleReason | None:
    """US and UK spellings of one word family in one text (denuclearization/denuclearisation).

    Quotations and capitalised words (names like 'World Health Organization') are ignored,
    since a UK outlet legitimately keeps a US name or quote as written.
    """
    body = _QUOTED.sub(" ", norm)
    fams: dict[str, dict[str, set[str]]] = {}
    for w in _LOWER_WORD.findall(body):
        fam = spelling_family(w)
        if fam:
            fams.setdefault(fam[0], {}).setdefault(fam[1], set()).add(w)
    mixed = {f: {k: sorted(v) for k, v in d.items()} for f, d in fams.items() if len(d) == 2}
    dotted, bare = len(_US_DOTTED.findall(body)), len(_US_BARE.findall(body))
    us_mixed = dotted > 0 and bare > 0
    if not mixed and not us_mixed:
        return None
    scores = [0.45 if i == 0 else 0.35 for i in range(len(mixed))]
    if us_mixed:
        scores.append(0.25)
    evidence: dict[str, object] = {"families": mixed}
    if us_mixed:
        evidence["us_forms"] = {"U.S.": dotted, "US": bare}
    # One or two re-spelt words are a quotation or a house style slip; several families mixed
    # is text lifted from outlets of both spelling regimes.
    return GarbleReason("mixed_spelling", round(min(0.95, _noisy_or(scores)), 3), evidence,
                        strong=len(mixed) >= STRONG_FAMILIES)


# --- entry point -----------------------------------------------------------------------------------
def document_checks(title: str, text: str, fixed: str, template: Set[int] = frozenset()) -> tuple[GarbleReason, ...]:
    """Run every per-document check; `fixed` is `ftfy.fix_encoding(text)`; lines whose
    `line_key` is in `template` (the site's page template) are left out of the evidence."""
    norm = normalise_lines(fixed)
    return checks_of_normalised(title, text, fixed, norm, words(norm), template=template)


def checks_of_normalised(title: str, text: str, fixed: str, norm: str, tokens: list[str],
                         keys: list[str] | None = None, template: Set[int] = frozenset()) -> tuple[GarbleReason, ...]:
    """`document_checks` given what the fingerprint has computed already: `norm` is
    `normalise_lines(fixed)`, `tokens` its `words` (with or without the line breaks: the
    same tokens) and `keys` the `_key` of each of its non-empty lines."""
    lines = nonempty_lines(norm)
    if keys is None:  # each line tokenised once for both repetition checks
        keys = [_key(line) for line in lines]
    if template:
        kept = [(line, k) for line, k in zip(lines, keys) if line_key(k) not in template]
        lines, keys = [line for line, _ in kept], [k for _, k in kept]
        norm = "\n".join(lines)
    ntitle = normalise_lines(title)
    english = is_english(tokens)
    residue = residue_lines(lines)
    found = (
        mojibake(text, fixed),
        repeated_title(ntitle, lines, keys),
        repeated_text(ntitle, lines, keys),
        splice(norm, lines, english),
        boilerplate(lines, residue),
        truncated(lines, residue),
        mixed_spelling(norm) if english else None,
    )
    return tuple(r for r in found if r is not None)
