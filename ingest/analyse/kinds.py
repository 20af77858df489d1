"""What kind of page a text is: an article, or a page that holds pieces of many stories.

Same-story coverage is full of pages that are not one article: photo galleries (a run of
captions and photo credits), roundups (AP's "The Latest" timelines, "News in Brief" digests,
newsletters, live blogs), listings (link lists, aggregator and section pages) and video
stubs. They reuse other articles' sentences by design, so they are neither judged as garbled
articles nor allowed to join two stories into one copy cluster (ingest/analyse/judge.py).

The rules read the extracted lines only (tokens and prefixes, no backtracking regex: the
text is a stranger's) and are deliberately conservative: calling an article a gallery would
excuse it from every check, so a page is an article unless the signals are plain. Figures
against hand labels: docs/analysis.md.
"""

from __future__ import annotations

from ingest.records import PageKind
from ingest.text import words

# The last word of a photo-credit line ("Pablo Martinez Monsivais, AP", "BRENDAN SMIALOWSKI,
# AFP/Getty Images") or its first ("Photo: Mel Evans, AP", "Credit: ...", "Image 3 of 15").
_CREDIT_LAST = {"ap", "afp", "reuters", "images", "efe", "epa", "getty", "shutterstock", "pool", "photo", "photos",
                "press", "xinhua", "tass", "sputnik"}
_CREDIT_FIRST = {"photo", "photos", "credit", "image", "images", "caption"}
_GALLERY_UI = {"fullscreen", "close", "prev", "next", "previous", "enlarge", "expand", "hide", "caption", "toggle",
               "slideshow", "gallery", "of", "view", "photos", "image"}
_VIDEO_MARKS = ("now playing", "watch:", "watch now", "videos •", "video:", "full episode", "trending videos",
                "live stream", "replay")
# How roundups announce themselves at the top of the page (the start of a line or title).
_ROUNDUP_STARTS = ("the latest:", "ap news in brief", "news in brief", "live updates:", "live blog", "live:",
                   "start your week smart", "start your monday smart")
_SEPARATORS = {"___", "____", "***", "* * *", "---"}
_AMPM = {"a.m.", "p.m.", "am", "pm"}


def page_kind(title: str, lines: list[str]) -> PageKind:
    """The kind of page an extracted text is (lines: its non-empty, normalised lines)."""
    n = len(lines)
    if n == 0:
        return "article"
    prose = sum(1 for line in lines if _is_prose(line))
    credits = sum(1 for line in lines if _is_credit(line))
    if credits >= 6 and credits >= 0.3 * n and credits >= prose:  # captions and credits, little running text
        return "gallery"
    head = [title.lower()] + [line.lower() for line in lines[:8]]
    stamps = sum(1 for line in lines if _is_time_stamp(line))
    separators = sum(1 for line in lines if line.strip() in _SEPARATORS)
    if (any(h.startswith(t) for h in head for t in _ROUNDUP_STARTS) or any(h.endswith("briefing") for h in head)
            or stamps >= 2 or separators >= 4):
        return "roundup"
    total_words = sum(len(line.split()) for line in lines)
    if total_words < 400 and any(m in line.lower() for line in lines for m in _VIDEO_MARKS) and prose <= 3:
        return "video"
    short = sum(1 for line in lines if 2 <= len(line.split()) <= 16 and not _is_prose(line))
    if prose <= 1 and short >= 6 and short >= 0.6 * n and total_words < 600:  # headlines and teasers, no story
        return "listing"
    return "article"


def _is_credit(line: str) -> bool:
    toks = words(line)
    if not toks or len(toks) > 10:
        return "(ap photo" in line.lower() or "(photo" in line.lower()
    if toks[0] in _CREDIT_FIRST or toks[-1] in _CREDIT_LAST and "," in line:
        return True
    return len(toks) <= 4 and all(t in _GALLERY_UI or t.isdigit() for t in toks)


def _is_time_stamp(line: str) -> bool:
    """"1:10 p.m." on its own line: the item headers of AP's "The Latest" timelines."""
    parts = line.strip().split()
    if len(parts) != 2 or parts[1].lower() not in _AMPM:
        return False
    hour, _, minute = parts[0].partition(":")
    return hour.isdigit() and minute.isdigit() and len(minute) == 2


def _is_prose(line: str) -> bool:
    """A sentence-like paragraph: long enough and ending like a sentence."""
    return len(line.split()) >= 12 and line.rstrip()[-1:] in '.!?"\u201d\''
