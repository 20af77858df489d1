"""Text normalisation, tokens, sentences and shingles shared by every analysis layer.

One module so that the worker (fingerprints) and the writer (verification of
candidates read back from SQLite) cut and hash text in exactly the same way:
two copies of a story only match if both sides went through these functions.
"""
from __future__ import annotations

import functools
import re
import unicodedata

import xxhash

_QUOTES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'", "\u0060": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2039": "'", "\u203a": "'",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u00a0": " ", "\u2007": " ", "\u202f": " ", "\u200b": "", "\u200c": "", "\u200d": "", "\ufeff": "",
})

# str.translate with a dict looks every character up in Python. These characters are few and
# a text has only some of them, so a C-speed `in` scan per character and str.replace for the
# ones present is ~50x faster than translate (and 5x faster than one regex with a callback per
# match); same result, since no replacement is itself a character of the table. A hot path of
# the fingerprint (worker) and of version comparison (writer).
_QUOTE_PAIRS = tuple((chr(k), v) for k, v in _QUOTES.items())


def _fold_quotes(text: str) -> str:
    for char, plain in _QUOTE_PAIRS:
        if char in text:
            text = text.replace(char, plain)
    return text

_WORD = re.compile(r"\w+")
_MASK63 = (1 << 63) - 1


def normalise_text(text: str) -> str:
    """NFKC, fold typographic quotes/dashes/odd spaces, collapse all whitespace.

    Whitespace (including paragraph breaks) collapses to one space so that a markup-only
    re-layout of an article is not a new version and not a different text.
    """
    return collapse_lines(normalise_lines(text))


def collapse_lines(lines_text: str) -> str:
    """`normalise_text` of a text from its `normalise_lines` form (the fingerprint needs both:
    one NFKC and quote-folding pass over the text instead of two)."""
    # str.split() splits on exactly the characters `\s` matches (both use Py_UNICODE_ISSPACE) and
    # drops the ends: the same as collapsing runs with a regex and stripping, 3x faster.
    return " ".join(lines_text.split())


def text_hash(text: str) -> str:
    """Hex xxh3-128 of `normalise_text(text)`: the exact-copy and version key."""
    return normalised_hash(normalise_text(text))


def normalised_hash(norm: str) -> str:
    """`text_hash` of a text whose `normalise_text` is `norm` (when the caller has it already)."""
    return xxhash.xxh3_128_hexdigest(norm.encode("utf-8"))


def hash63(s: str) -> int:
    """A 63-bit hash that fits SQLite's signed INTEGER without sign games."""
    return xxhash.xxh64_intdigest(s.encode("utf-8")) & _MASK63


def line_key(joined_words: str) -> int:
    """The key of a line for the site-template table: hash63 of its case-folded words joined
    by spaces (`" ".join(words(line))`), so markup and punctuation changes do not matter."""
    return hash63(joined_words)


# --- US/UK spelling families -------------------------------------------------------
# Hand-written (no dictionary dependency): a word family is recognised by its stem, and
# `fold_spelling` maps both spellings to one form so re-spelled copies still hash alike.
_IZE = re.compile(r"^([a-z]{4,}?)(i[sz])(e|es|ed|er|ers|ing|ation|ations|ational)$")
_YZE = re.compile(r"^([a-z]{3,}?)(y[sz])(e|es|ed|ing|er|ers)$")
_OUR_STEMS = (
    "colo", "favo", "hono", "labo", "neighbo", "behavio", "harbo", "rumo", "humo", "flavo", "vapo",
    "valo", "vigo", "armo", "endeavo", "savo", "odo", "clamo", "parlo", "splendo", "cando", "ardo",
    "demeano", "tumo",
)
_OUR = re.compile(r"^(" + "|".join(_OUR_STEMS) + r")(u?)(r|rs|red|ring|rite|rites|rable|rably|red|rful|rless|rism)$")
# UK -> US for -re/-er and other irregular pairs. Left out on purpose: pairs where the
# "US" form is also a different UK word (programme/program, cheque/check, tyre/tire, kerb/curb).
_RE_ER = {
    "centre": "center", "centres": "centers", "centred": "centered", "theatre": "theater",
    "theatres": "theaters", "litre": "liter", "litres": "liters", "fibre": "fiber", "fibres": "fibers",
    "calibre": "caliber", "sombre": "somber", "meagre": "meager", "spectre": "specter",
    "manoeuvre": "maneuver", "manoeuvres": "maneuvers", "defence": "defense", "defences": "defenses",
    "offence": "offense", "offences": "offenses", "travelled": "traveled", "travelling": "traveling",
    "traveller": "traveler", "travellers": "travelers", "cancelled": "canceled", "cancelling": "canceling",
    "labelled": "labeled", "modelling": "modeling", "fuelled": "fueled", "counselling": "counseling",
    "jewellery": "jewelry", "aluminium": "aluminum", "grey": "gray", "plough": "plow",
    "sceptical": "skeptical", "paediatric": "pediatric", "anaesthetic": "anesthetic", "oestrogen": "estrogen",
    "manoeuvring": "maneuvering", "catalogue": "catalog", "analogue": "analog", "enrolment": "enrollment",
    "fulfil": "fulfill", "pyjamas": "pajamas",
}
_US_OF_UK = {v: k for k, v in _RE_ER.items()}
# Words whose -ise form is standard in both varieties (not a UK spelling of an -ize word).
_ISE_BOTH = {
    "advise", "advertise", "chastise", "comprise", "compromise", "despise", "devise", "disguise", "enterprise",
    "exercise", "excise", "expertise", "franchise", "improvise", "merchandise", "premise", "promise", "revise",
    "supervise", "surmise", "surprise", "televise", "circumcise", "incise", "precise", "concise", "treatise",
    "otherwise", "likewise", "clockwise", "noise", "raise", "praise", "cruise", "bruise", "poise", "paradise",
    "reprise", "demise", "apprise", "arise", "rise", "wise", "guise", "anise", "mortise", "cerise",
}


# Called per word of every English text (mixed_spelling): Zipfian, nearly all hits.
@functools.lru_cache(maxsize=1 << 16)
def spelling_family(word: str) -> tuple[str, str, str] | None:
    """(family, "us" | "uk", US form) for a lower-case word with a US/UK variant, else None.

    The family is the stem ("denucleariz"), so "denuclearization" and "denuclearise" are
    one family; the US form is what `fold_spelling` maps the word to.
    """
    m = _IZE.match(word)
    if m and (m.group(1) + "ise") not in _ISE_BOTH and word not in _ISE_BOTH:
        return m.group(1) + "iz", ("uk" if m.group(2) == "is" else "us"), m.group(1) + "iz" + m.group(3)
    m = _YZE.match(word)
    if m and m.group(1) in ("anal", "paral", "catal", "breathal", "dial", "electrol", "hydrol"):
        return m.group(1) + "yz", ("uk" if m.group(2) == "ys" else "us"), m.group(1) + "yz" + m.group(3)
    m = _OUR.match(word)
    if m:
        return m.group(1) + "r", ("uk" if m.group(2) else "us"), m.group(1) + m.group(3)
    if word in _RE_ER:
        return _RE_ER[word], "uk", _RE_ER[word]
    if word in _US_OF_UK:
        return word, "us", word
    return None


@functools.lru_cache(maxsize=1 << 16)  # word frequencies are Zipfian: nearly all hits
def fold_spelling(word: str) -> str:
    """Map a UK spelling to its US form (identity for other words)."""
    fam = spelling_family(word)
    return fam[2] if fam else word


# --- tokens, shingles, sentences ------------------------------------------------------
def words(text: str) -> list[str]:
    """Case-folded word tokens of already-normalised text."""
    return _WORD.findall(text.casefold())


def shingles(tokens: list[str], n: int = 5) -> set[str]:
    """Word n-gram shingles; short texts give one shingle of all their tokens."""
    if len(tokens) < n:
        return {" ".join(tokens)} if tokens else set()
    return {" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


# Hand-written splitter: pysbd is ~100x slower and not a dependency; what matters here is
# that the split is deterministic, so a lifted sentence hashes the same in both articles.
_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sen", "rep", "gov", "gen", "col", "lt", "sgt", "capt", "st", "jr", "sr",
    "inc", "ltd", "co", "corp", "vs", "etc", "no", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec", "mt", "ft", "rev", "fig", "approx", "est", "dept", "univ", "ave", "blvd",
}
# A run of sentence-final punctuation and closing quotes/brackets, followed by white space and a
# capital or digit. Linear on any input: a match may only start where a punctuation run starts
# (the look-behind), and both runs are possessive. Without that, a line of 40,000 dots and no
# capital after them was 0.8 billion steps (25 s): the pattern was tried at every dot and each
# try ran to the end of the run. Same matches as `[.!?]+["')\]]*(?=...)`: only the maximal runs
# can be followed by white space, so a try inside a run or with a shorter run always failed.
_SENT_END = re.compile(r"""(?<![.!?])[.!?]++["')\]]*+(?=\s+["'(\[]?[A-Z0-9])""")


def split_sentences(text: str) -> list[str]:
    """Split on line breaks, then on sentence-final punctuation followed by a capital."""
    return [s for line in nonempty_lines(text) for s in _split_line(line)]


def nonempty_lines(text: str) -> list[str]:
    """The non-empty lines of a text, stripped: the paragraphs sentences are cut from, and the
    lines the garble checks read (the fingerprint hands them keys in this order)."""
    return [line for line in (raw.strip() for raw in text.splitlines()) if line]


def _split_line(line: str) -> list[str]:
    out: list[str] = []
    start = 0
    for m in _SENT_END.finditer(line):
        end = m.end()
        if m.group(0)[0] == "." and _not_an_end(_last_word(line, start, m.start())):
            continue  # "Mr. Smith", "U.S. officials", "J. Smith": not a sentence end
        out.append(line[start:end].strip())
        start = end
    rest = line[start:].strip()
    if rest:
        out.append(rest)
    return out


def _last_word(line: str, start: int, stop: int) -> str:
    """`line[start:stop].rsplit(None, 1)[-1]` (or ""), without copying the span.

    The span grows while full stops are skipped as abbreviations ("A. " 40,000 times), and
    copying it for every one made a line quadratic; this walks back over one word only (the
    words walked over for successive matches never overlap, so a line costs its length).
    """
    i = stop
    while i > start and line[i - 1].isspace():  # str.split's white space is str.isspace's
        i -= 1
    end = i
    while i > start and not line[i - 1].isspace():
        i -= 1
    return line[i:end]


def _not_an_end(last: str) -> bool:
    """A full stop after this word abbreviates: a known abbreviation, an initial, "U.S"."""
    last = last.lower().lstrip("\"'(")
    return last in _ABBREV or len(last) == 1 or "." in last


def tokenised_lines(lines_text: str) -> list[list[tuple[str, list[str]]]]:
    """Each non-empty line of a `normalise_lines` text as its sentences, each with its `words`.

    One tokenisation for the whole fingerprint: a line's tokens are its sentences' tokens in
    order and the text's tokens its lines' (sentences are cut only at whitespace, which no
    token contains, and case folding is per character), so the sentence keys, the line keys
    of the repetition checks and the shingles all come from this one pass.
    """
    return [[(s, words(s)) for s in _split_line(line)] for line in nonempty_lines(lines_text)]


MIN_SENTENCE_WORDS = 6
MIN_SENTENCE_CHARS = 30


def normalise_lines(text: str) -> str:
    """`normalise_text` that keeps line breaks (sentence splitting needs paragraphs)."""
    return _fold_quotes(unicodedata.normalize("NFKC", text))


def sentence_key(sentence: str, toks: list[str] | None = None) -> tuple[int, int] | None:
    """(63-bit hash, word count) of a normalised sentence worth indexing, else None.

    Case, punctuation and US/UK spelling are folded so a lifted sentence that was
    re-punctuated or re-spelled still matches its source. `toks`: its `words`, if known.
    """
    toks = words(sentence) if toks is None else toks
    if len(toks) < MIN_SENTENCE_WORDS or len(sentence) < MIN_SENTENCE_CHARS:
        return None
    return hash63(" ".join([fold_spelling(t) for t in toks])), len(toks)


def indexed_sentences(text: str) -> list[tuple[int, int, str]]:
    """[(hash, position, sentence)] for the sentences of `text` that are long enough to index.

    Position is the ordinal among all split sentences, so evidence can point back to them.
    A sentence repeated inside one text is kept once (its first position).
    """
    return indexed_normalised_sentences(normalise_lines(text))


def indexed_normalised_sentences(lines_text: str) -> list[tuple[int, int, str]]:
    """`indexed_sentences` of a text from its `normalise_lines` form."""
    return indexed_tokenised_sentences(tokenised_lines(lines_text))


def indexed_tokenised_sentences(lines: list[list[tuple[str, list[str]]]]) -> list[tuple[int, int, str]]:
    """`indexed_sentences` of a text from its `tokenised_lines`."""
    seen: set[int] = set()
    out = []
    for pos, (s, toks) in enumerate(sent for line in lines for sent in line):
        key = sentence_key(s, toks)
        if key and key[0] not in seen:
            seen.add(key[0])
            out.append((key[0], pos, s))
    return out
