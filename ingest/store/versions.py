"""When a re-fetched page is a new version: small pure rules, used by the writer.

Versions are compared on the *normalised* extracted text and title (`text_hash`:
NFKC, folded quotes/dashes/odd spaces, collapsed whitespace), so re-layouts, markup,
typography and boilerplate that extraction drops never make a version. On top of
that, two guards from the prior art (NewsDiffs, NewsSniffer, diffengine#7):

- flip-flop: a text+title equal to one of the last few versions is a *sighting*
  (outcome "flipflop"), not a version, and the current version stays current. Pages
  that alternate between two variants (A/B headline tests, CDN nodes serving a stale
  copy; cbc and calgaryherald in the NewsEdits sample alternate at every check) would
  otherwise flap `latest`, the full-text index and the re-check schedule at every
  fetch. The newest *new* text stays current; the sighting names the version seen.
- collapse: an extraction with a small fraction of the current version's words is an
  extraction failure (a cookie wall, a one-paragraph teaser, a layout the extractor
  misreads), not an edit: flag `extraction_suspect`, keep the current version.

Everything here is pure and decided from hashes and word counts, so the rules are
tested without a database and the writer only executes the decision.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from ingest.records import DiffOp
from ingest.text import normalise_lines, normalise_text, text_hash, words


@dataclass(frozen=True)
class VersionRules:
    """Thresholds of the version decision (docs/versions.md has the figures behind them)."""

    flipflop_window: int = 5  # earlier versions a text is compared with (besides the current one)
    collapse_ratio: float = 0.4  # fewer than this share of the current version's words: suspect
    collapse_min_words: int = 50  # a current version shorter than this is never "collapsed from"


RULES = VersionRules()


@dataclass(frozen=True)
class Seen:
    """A stored version, as far as the decision needs it."""

    n: int
    text_hash: str
    title_hash: str
    n_words: int = 0
    body_hash: str | None = None  # `body_hash` of the text; None: same as text_hash

    @classmethod
    def of(cls, n: int, text_hash: str, title_hash: str, title: str, text: str) -> Seen:
        return cls(n, text_hash, title_hash, count_words(text), body_hash(title, text))


@dataclass(frozen=True)
class Fetched:
    """The newly extracted page, as far as the decision needs it."""

    text_hash: str
    title_hash: str
    n_words: int
    body_hash: str | None = None

    @classmethod
    def of(cls, text_hash: str, title_hash: str, title: str, text: str) -> Fetched:
        return cls(text_hash, title_hash, count_words(text), body_hash(title, text))


@dataclass(frozen=True)
class Decision:
    outcome: Literal["unchanged", "flipflop", "suspect", "version"]
    change: Literal["edit", "title"] | None = None  # for a version: the text changed, or only the title
    matched: int | None = None  # the stored version the page equals (unchanged, flipflop)
    ratio: float | None = None  # new words / current words (suspect)


def count_words(text: str) -> int:
    """Words of the normalised text: the unit of the collapse rule and of the word diffs."""
    return len(words(normalise_text(text)))


def decide(new: Fetched, current: Seen, earlier: list[Seen], rules: VersionRules = RULES) -> Decision:
    """What a re-fetch of a stored article is. `earlier`: versions before the current one, newest first."""
    if (new.text_hash, new.title_hash) == (current.text_hash, current.title_hash):
        return Decision("unchanged", matched=current.n)
    for old in earlier[:rules.flipflop_window]:
        if (new.text_hash, new.title_hash) == (old.text_hash, old.title_hash):
            return Decision("flipflop", matched=old.n)
    if new.text_hash != current.text_hash and is_collapse(new.n_words, current.n_words, rules):
        return Decision("suspect", ratio=round(new.n_words / current.n_words, 3))
    # extractors keep the <h1> as the text's first line: a headline change alone is a "title" change
    body_changed = (new.body_hash or new.text_hash) != (current.body_hash or current.text_hash)
    return Decision("version", change="edit" if body_changed else "title")


def body_hash(title: str, text: str) -> str:
    """Hash of the text without a first line that repeats the title (the page's headline)."""
    first, _, rest = text.strip().partition("\n")
    if title and normalise_text(first) == normalise_text(title):
        text = rest
    return text_hash(text)


def is_collapse(new_words: int, current_words: int, rules: VersionRules = RULES) -> bool:
    return current_words >= rules.collapse_min_words and new_words < rules.collapse_ratio * current_words


# --- word-level changes between versions --------------------------------------------------
def word_ops(old: str, new: str) -> list[DiffOp]:
    """Word diff of two texts (difflib on whitespace-split words of the normalised texts)."""
    a, b = normalise_text(old).split(), normalise_text(new).split()
    out: list[DiffOp] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(DiffOp("same", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(DiffOp("del", " ".join(a[i1:i2])))
        if j2 > j1:
            out.append(DiffOp("add", " ".join(b[j1:j2])))
    return out


def word_changes(old: str, new: str) -> tuple[int, int]:
    """(words added, words removed) between two texts: what the versions table stores."""
    if not old or not new:  # a first version (or an emptied one): no diff to run
        # the words of normalise_text(x) are those of normalise_lines(x): its join is not needed
        return len(normalise_lines(new).split()), len(normalise_lines(old).split())
    added = removed = 0
    for op in word_ops(old, new):
        if op.op == "add":
            added += len(op.text.split())
        elif op.op == "del":
            removed += len(op.text.split())
    return added, removed


def overlap(a: str, b: str) -> float:
    """Share of the smaller text's distinct words found in the other (0..1).

    Used to tell a re-used feed GUID (a different story) from an edit of the same story:
    an edit, even a large one, keeps most of the shorter text's vocabulary.
    """
    wa = {w for w in words(normalise_text(a)) if len(w) > 3}  # short words are shared by any two texts
    wb = {w for w in words(normalise_text(b)) if len(w) > 3}
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / min(len(wa), len(wb))
