"""`fix_encoding`: ftfy's mojibake repair with the common case (no mojibake) made cheap.

ftfy.fix_encoding returns its input unchanged unless the text is non-ASCII *and* its
BADNESS_RE (≈40 alternatives tried at every position of the text) matches somewhere.
That search was a quarter of the analysis fingerprint's time per page (about 1 ms on a
news text). Every alternative of BADNESS_RE needs at least one character out of a few
hundred (accented capitals, C1 controls, currency, box drawing ...): the typographic
quotes and dashes of clean text are not among the characters we choose to look for. So:

  1. find the positions of those "trigger" characters with one character-class scan
     (most clean English texts have none: done);
  2. run BADNESS_RE only on a window around each (a match is at most `_WIDTH` characters
     long and contains a trigger character, so it lies inside one of the windows);
  3. only when that finds something, call ftfy.fix_encoding itself.

The answer is ftfy's own, always: the trigger set is derived from ftfy's compiled regex
at import time (not copied), and when it cannot be derived (a future ftfy with an
unbounded or unanalysable pattern) every call goes straight to ftfy.
"""
from __future__ import annotations

import re
import re._parser as sre_parse  # type: ignore[import-not-found]  # the stdlib's regex parser, to read BADNESS_RE
from re._constants import (  # type: ignore[import-not-found]
    ANY,
    AT,
    BRANCH,
    CATEGORY,
    IN,
    LITERAL,
    MAX_REPEAT,
    MAXREPEAT,
    MIN_REPEAT,
    NOT_LITERAL,
    RANGE,
)
from typing import Any

import ftfy
from ftfy.badness import BADNESS_RE, MOJIBAKE_CATEGORIES

# Characters of clean prose that BADNESS_RE also uses (curly quotes, dashes, no-break space,
# degree sign, small o/u with accents): when an alternative of the regex can be
# recognised by another of its characters, that one is chosen as its trigger, so texts that
# only have these characters skip the search entirely.
_PROSE = frozenset("".join(MOJIBAKE_CATEGORIES[k] for k in ("common", "start_punctuation", "end_punctuation"))
                   + "°òóôõöùúûüø")


def _chars(op: object, av: Any) -> frozenset[str] | None:
    """The characters one element of a parsed regex can match, or None if unbounded or unknown."""
    if op is LITERAL:
        return frozenset(chr(av))
    if op is IN:
        out: set[str] = set()
        for item_op, item_av in av:
            if item_op is LITERAL:
                out.add(chr(item_av))
            elif item_op is RANGE:
                out.update(chr(c) for c in range(item_av[0], item_av[1] + 1))
            else:  # NEGATE, CATEGORY (\w, \s): too many characters to list
                return None
        return frozenset(out)
    return None


def _branch_trigger(branch: Any) -> frozenset[str] | None:
    """For one alternative: a set of non-ASCII characters one of which every match contains."""
    candidates = []
    for op, av in branch:
        if op is AT:  # ^ or $: zero-width
            continue
        chars = _chars(op, av)
        if chars and not any(c.isascii() for c in chars):
            candidates.append(chars)
        elif op not in (LITERAL, IN, ANY, CATEGORY, NOT_LITERAL, MAX_REPEAT, MIN_REPEAT):
            return None  # groups, lookarounds, backreferences: not analysed, so not trusted
    if not candidates:
        return None
    return min(candidates, key=lambda s: (len(s & _PROSE), len(s)))


def _trigger_set(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Union of the triggers of every alternative of `pattern`, or None if one has none."""
    if pattern.flags & (re.IGNORECASE | re.MULTILINE):
        return None  # case folding would widen the character sets; not worth handling
    parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    if len(parsed) != 1 or parsed[0][0] is not BRANCH:
        return None
    out: set[str] = set()
    for branch in parsed[0][1][1]:
        trigger = _branch_trigger(branch)
        if trigger is None:
            return None
        out |= trigger
    return frozenset(out)


def _max_width(pattern: re.Pattern[str]) -> int:
    """The longest match `pattern` can make; 0 if unbounded."""
    width: int = sre_parse.parse(pattern.pattern, pattern.flags).getwidth()[1]
    return 0 if width >= MAXREPEAT else width


TRIGGERS = _trigger_set(BADNESS_RE)
_WIDTH = _max_width(BADNESS_RE)
_TRIGGER_RE = (re.compile("[" + "".join(re.escape(c) for c in sorted(TRIGGERS)) + "]")
               if TRIGGERS and _WIDTH else None)


DENSE = 1000  # trigger characters after which the rest of the text is searched in one go


def looks_bad(text: str) -> bool:
    """ftfy.badness.is_bad(text), computed only around the characters a match needs."""
    if _TRIGGER_RE is None:
        return BADNESS_RE.search(text) is not None
    lo = hi = -1
    for n, m in enumerate(_TRIGGER_RE.finditer(text)):
        if n == DENSE:
            # Many triggers (a page of U+FFFD or mojibake): one search over the rest, in C, instead
            # of a Python step per character (1 MB of U+FFFD: 2.5 s -> 0.1 s). The same answer: a
            # match holds a trigger, so it starts in the current window or later, at `lo` or after.
            return BADNESS_RE.search(text, lo) is not None
        start, end = max(0, m.start() - _WIDTH + 1), m.start() + _WIDTH
        if start <= hi:  # overlaps the current window: extend it
            hi = end
            continue
        # search(text, pos, endpos) keeps "^" anchored at the real start of the text
        if hi >= 0 and BADNESS_RE.search(text, lo, hi):
            return True
        lo, hi = start, end
    return hi >= 0 and BADNESS_RE.search(text, lo, hi) is not None


def fix_encoding(text: str) -> str:
    """Exactly ftfy.fix_encoding(text); returns `text` itself (no copy) when there is nothing to fix."""
    if not text or text.isascii() or not looks_bad(text):
        return text  # what ftfy returns too: its first step stops on ASCII or not-bad text
    return ftfy.fix_encoding(text)
