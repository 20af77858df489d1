"""Attack strings for a regular expression, from its own structure (tests/test_hostile_text.py).

Catastrophic and quadratic backtracking needs a string that matches a prefix of the pattern
and then pumps one of its repeats a long way without reaching what must follow. This walks the
parsed pattern (the stdlib's own parser, as ingest/analyse/encoding.py does) and builds, for
every repeat, `prefix + pump * n + "\\x00"` with the pump drawn from the repeat's characters
(several of each class, since the overlap between a repeat and what follows it is the usual
culprit), and `prefix * n` for every prefix of the pattern (the "many openings, no end" case).
"""
from __future__ import annotations

import re
import re._parser as sre_parse
from re._constants import (
    ANY,
    ATOMIC_GROUP,
    BRANCH,
    CATEGORY,
    CATEGORY_DIGIT,
    CATEGORY_NOT_DIGIT,
    CATEGORY_NOT_SPACE,
    CATEGORY_NOT_WORD,
    CATEGORY_SPACE,
    CATEGORY_WORD,
    IN,
    LITERAL,
    MAX_REPEAT,
    MIN_REPEAT,
    NEGATE,
    NOT_LITERAL,
    POSSESSIVE_REPEAT,
    RANGE,
    SUBPATTERN,
)

_CATEGORY = {CATEGORY_DIGIT: "1", CATEGORY_NOT_DIGIT: "a", CATEGORY_SPACE: " \t", CATEGORY_NOT_SPACE: "a.",
             CATEGORY_WORD: "aZ1", CATEGORY_NOT_WORD: " ."}
_REPEATS = (MAX_REPEAT, MIN_REPEAT, POSSESSIVE_REPEAT)


def _class_chars(items: list) -> str:
    """A few characters an IN class matches (or, negated, some it does not exclude)."""
    if items and items[0][0] is NEGATE:
        excluded = {chr(av) for op, av in items[1:] if op is LITERAL}
        return "".join(c for c in "a .<\"'=1" if c not in excluded)[:4]
    out = []
    for op, av in items:
        if op is LITERAL:
            out.append(chr(av))
        elif op is RANGE:
            out.append(chr(av[0]))
        elif op is CATEGORY:
            out.append(_CATEGORY.get(av, "a"))
    return "".join(out)[:8]


def _chars(op, av) -> str:
    """Characters one element can match, one per useful kind."""
    if op is LITERAL:
        return chr(av)
    if op is NOT_LITERAL:
        return "a" if chr(av) != "a" else "b"
    if op is ANY:
        return "a"
    if op is IN:
        return _class_chars(av)
    if op is CATEGORY:
        return _CATEGORY.get(av, "a")
    return ""


def sample(items) -> str:
    """One short string matching the element sequence (first choices)."""
    out = []
    for op, av in items:
        if op in (LITERAL, NOT_LITERAL, ANY, IN, CATEGORY):
            out.append(_chars(op, av)[:1])
        elif op in _REPEATS:
            lo, _hi, sub = av
            out.append(sample(sub) * max(lo, 1))
        elif op is SUBPATTERN:
            out.append(sample(av[-1]))
        elif op is ATOMIC_GROUP:
            out.append(sample(av))
        elif op is BRANCH:
            out.append(sample(av[1][0]))
        # AT, ASSERT, ASSERT_NOT, GROUPREF: zero width, or not needed for an attack
    return "".join(out)


def _pumps(sub) -> list[str]:
    """What a repeat of `sub` can pump: each useful character of a one-element repeat, else its sample."""
    if len(sub) == 1 and sub[0][0] in (LITERAL, NOT_LITERAL, ANY, IN, CATEGORY):
        return list(dict.fromkeys(_chars(*sub[0])))
    pumps = [sample(sub)]
    if len(sub) == 1 and sub[0][0] is SUBPATTERN and any(op is BRANCH for op, _ in sub[0][1][-1]):
        for op, av in sub[0][1][-1]:
            if op is BRANCH:
                pumps += [sample(b) for b in av[1][:6]]
    return [p for p in dict.fromkeys(pumps) if p]


def _walk(items, prefix: str, n_chars: int, pumped: list[str], opened: list[str], depth: int = 0) -> None:
    """Collect pump attacks in `pumped` and repeated prefixes in `opened`."""
    for i, (op, av) in enumerate(items):
        head = prefix + sample(items[:i])
        if head:
            opened.append(head * max(1, n_chars // len(head)))  # many openings, none finished
        if op in _REPEATS:
            for pump in _pumps(av[2]):
                pumped.append(head + pump * max(1, n_chars // len(pump)) + "\x00")
            if depth < 4:
                _walk(av[2], head, n_chars, pumped, opened, depth + 1)
        elif op is SUBPATTERN and depth < 4:
            _walk(av[-1], head, n_chars, pumped, opened, depth + 1)
        elif op is ATOMIC_GROUP and depth < 4:
            _walk(av, head, n_chars, pumped, opened, depth + 1)
        elif op is BRANCH and depth < 4:
            for branch in av[1]:
                _walk(branch, head, n_chars, pumped, opened, depth + 1)
    whole = prefix + sample(items)
    if whole:
        opened.append(whole * max(1, n_chars // len(whole)))


def attacks(pattern: re.Pattern, n_chars: int = 1_000_000, limit: int = 40) -> list[str | bytes]:
    """Up to `limit` distinct attack strings of about `n_chars` characters for `pattern`: the
    pumped repeats first (they find the overlaps), then the repeated prefixes."""
    source = pattern.pattern if isinstance(pattern.pattern, str) else pattern.pattern.decode("latin-1")
    pumped: list[str] = []
    opened: list[str] = []
    _walk(list(sre_parse.parse(source, pattern.flags)), "", n_chars, pumped, opened)
    out = list(dict.fromkeys(pumped + opened))[:limit]
    if isinstance(pattern.pattern, bytes):
        return [s.encode("latin-1", "replace") for s in out]
    return out


def exercise(pattern: re.Pattern, text: str | bytes) -> None:
    """Every way the code base uses a pattern: search, match, findall over the whole text."""
    pattern.search(text)
    pattern.match(text)
    for _ in pattern.finditer(text):
        pass
