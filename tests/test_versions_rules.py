"""The version decision rules (ingest/store/versions.py), without a database."""
from __future__ import annotations

from ingest.store.versions import Fetched, Seen, VersionRules, body_hash, decide, overlap, word_changes, word_ops
from ingest.text import normalise_text


def seen(n, text="t", title="h", words=200, body=None):
    return Seen(n, text, title, words, body)


def test_unchanged_flipflop_suspect_and_versions():
    cur = seen(3, "C", "h")
    earlier = [seen(2, "B", "h"), seen(1, "A", "h")]
    assert decide(Fetched("C", "h", 200), cur, earlier).outcome == "unchanged"
    d = decide(Fetched("A", "h", 200), cur, earlier)
    assert (d.outcome, d.matched) == ("flipflop", 1)
    # the same text under another title is not a flip-flop to that version
    assert decide(Fetched("A", "h2", 200), cur, earlier).change == "edit"
    d = decide(Fetched("D", "h", 30), cur, earlier)
    assert (d.outcome, d.ratio) == ("suspect", 0.15)
    assert decide(Fetched("D", "h", 150), cur, earlier).change == "edit"
    assert decide(Fetched("C", "h2", 200), cur, earlier).change == "title"


def test_flipflop_window_and_collapse_thresholds():
    rules = VersionRules(flipflop_window=1, collapse_ratio=0.5, collapse_min_words=100)
    cur = seen(3, "C")
    earlier = [seen(2, "B"), seen(1, "A")]
    assert decide(Fetched("B", "h", 200), cur, earlier, rules).outcome == "flipflop"
    assert decide(Fetched("A", "h", 200), cur, earlier, rules).outcome == "version"  # beyond the window: a revert
    assert decide(Fetched("D", "h", 99), cur, earlier, rules).outcome == "suspect"  # 99/200 < 0.5
    assert decide(Fetched("D", "h", 100), cur, earlier, rules).outcome == "version"  # 100/200: not below 0.5
    assert decide(Fetched("D", "h", 20), seen(1, "C", words=80), [], rules).outcome == "version"  # too short to collapse


def test_a_collapse_to_a_title_change_is_still_suspect_but_a_short_first_version_is_not():
    assert decide(Fetched("D", "h2", 10), seen(1, words=300), []).outcome == "suspect"
    assert decide(Fetched("D", "h", 300), seen(1, words=10), []).outcome == "version"


def test_headline_line_in_text_makes_a_title_change():
    old_body = body_hash("Old headline", "Old headline\nThe body text.")
    new_body = body_hash("New headline", "New headline\nThe body text.")
    assert old_body == new_body
    d = decide(Fetched("x2", "h2", 200, new_body), seen(1, "x1", "h1", 200, old_body), [])
    assert (d.outcome, d.change) == ("version", "title")


def test_word_changes_and_ops():
    old = "The leaders met in Singapore on Tuesday."
    new = "The two leaders met in Singapore on Tuesday, officials said."
    assert word_changes(old, new) == (4, 1)
    ops = word_ops(old, new)
    assert [o.op for o in ops] == ["same", "add", "same", "del", "add"]
    assert word_changes("a  b\n\nc", "a b c") == (0, 0)  # whitespace is not a change
    assert word_changes("", "one two three") == (3, 0)
    # a first version's count is the words of its normalised text, odd spaces and breaks included
    odd = "Un\u00a0deux\u2007trois \u200bquatre\n\n\tcinq\u3000six \ufb01n \u2014 fin"
    assert word_changes("", odd) == (len(normalise_text(odd).split()), 0) == (9, 0)
    assert word_changes(odd, "") == (0, 9)


def test_overlap_tells_an_edit_from_another_story():
    a = "European natural gas prices fell sharply on Monday as mild weather reduced heating demand."
    b = "European natural gas prices fell on Monday, traders said, as mild weather cut heating demand in Germany."
    c = "A fire broke out overnight in a crowded bar at a Swiss ski resort, police said on Thursday."
    assert overlap(a, b) > 0.6 and overlap(a, c) < 0.2
