"""When to poll a feed next and when to re-check a stored article: the whole policy.

Pure functions of a feed's last poll or an article's last check, so the policy is tested
without a clock; the store applies them inside the transaction that records the poll or
stores the article, and the state they need (interval, failures, first seen) lives in the
database, surviving restarts.

Feeds: adaptive (shorter while a feed brings new items, longer when it repeats itself),
bounded, with server hints (RSS ttl, Cache-Control, Retry-After) as a floor, failures
backed off by weight, never disabled. Articles: re-fetched for edits on a decaying schedule
(first after `recheck_after`, growing while unchanged, reset by an edit, stopped after
`recheck_max_age_days`).
"""
from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from ingest.config import ScheduleConfig
from ingest.records import FeedState, Poll

FASTER = 0.5  # a poll that brought new items halves the interval
SLOWER = 1.5  # a poll that brought nothing new stretches it
MAX_DOUBLINGS = 10  # backoff stops growing after 2**10 (then max_interval caps it anyway)
# Consecutive failures are counted weighted by kind: a transient network problem counts 1,
# a response that will not change by itself (a refusal, a binary type, a robots ban) counts
# more, so the feed backs off faster. A feed is never disabled: max_interval is the ceiling
# (feeds "come back from what looks like death", Media Cloud's UNDEAD_FEEDS lesson).
FAILURE_WEIGHT = {"http": 1.0, "timeout": 1.0, "connection": 1.0, "too_large": 2.0, "refused": 4.0,
                  "content_type": 4.0, "redirects": 2.0, "invalid": 4.0, "robots": 4.0, "parse": 2.0}

_MAX_AGE = re.compile(r"(?:^|,)\s*(s-maxage|max-age)\s*=\s*\"?(\d+)", re.I)


def next_interval(cfg: ScheduleConfig, previous: float | None, *, ok: bool, new_items: int = 0,
                  failures: float = 0.0, hint: float | None = None) -> float:
    """Seconds until the next poll of a feed.

    ok and new items: shorter; ok and nothing new: longer; failure: exponential backoff on
    the weighted count of consecutive failures (never disabled, capped at max_interval).
    `hint` (RSS ttl, Cache-Control max-age, Retry-After) is a floor, capped at max_interval.
    """
    base = previous or cfg.default_interval
    if not ok:
        interval = cfg.default_interval * 2 ** min(max(failures, 0.0), MAX_DOUBLINGS)
    elif new_items > 0:
        interval = base * FASTER
    else:
        interval = base * SLOWER
    interval = min(max(interval, cfg.min_interval), cfg.max_interval)
    return max(interval, floor(cfg, hint))


def floor(cfg: ScheduleConfig, hint: float | None) -> float:
    """The lowest interval a server hint allows (the hint, but never above max_interval)."""
    return min(hint, cfg.max_interval) if hint and hint > 0 else 0.0


def jittered(seconds: float, spread: float = 0.1, rng: random.Random | None = None, *,
             lo: float = 0.0, hi: float = float("inf")) -> float:
    """`seconds` +- `spread`, kept within [lo, hi].

    Feeds that share a host and an interval drift apart instead of firing together, and
    the jitter never takes an interval under its server hint or over max_interval.
    """
    value = seconds * (1 + (rng or random).uniform(-spread, spread))
    return min(max(value, lo), max(hi, lo))


def cache_hint(headers: dict[str, str] | None) -> float | None:
    """Seconds the feed response says it stays fresh: Cache-Control max-age, else Expires - Date.

    `no-cache`/`no-store` give no floor (they are about caches, not about how often to ask).
    """
    if not headers:
        return None
    cc = headers.get("cache-control") or headers.get("Cache-Control") or ""
    ages = [int(m.group(2)) for m in _MAX_AGE.finditer(cc)]
    if ages:
        return float(max(ages)) or None
    expires = headers.get("expires") or headers.get("Expires")
    date = headers.get("date") or headers.get("Date")
    if expires and date:
        try:
            delta = (parsedate_to_datetime(expires) - parsedate_to_datetime(date)).total_seconds()
        except (TypeError, ValueError, IndexError):
            return None
        return delta if delta > 0 else None
    return None


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def stagger(urls: list[str], gap: float, rng: random.Random | None = None) -> dict[str, float]:
    """Offsets (seconds from now) for first polls: feeds on one host go `gap` apart, plus jitter.

    Feeds on different hosts start together; the k-th feed of a host waits k*gap plus up to
    half a gap of jitter, so a restart does not hit one site with all its feeds at once.
    """
    uniform = rng.uniform if rng else random.uniform
    seen: dict[str, int] = defaultdict(int)
    out = {}
    for url in urls:
        host = host_of(url)
        k = seen[host]
        seen[host] += 1
        out[url] = k * gap + (uniform(0, gap / 2) if k and gap > 0 else 0.0)
    return out


@dataclass(frozen=True)
class PollPlan:
    """A feed's health and schedule after a poll."""

    failures: float
    interval: float
    next_poll_at: datetime


def plan_next_poll(cfg: ScheduleConfig, feed: FeedState, poll: Poll, now: datetime,
                   rng: random.Random | None = None) -> PollPlan:
    """The failure count, interval and next poll time that follow `poll` of `feed`."""
    failures = 0.0 if poll.ok else feed.failures + FAILURE_WEIGHT.get(poll.failure or "parse", 1.0)
    interval = next_interval(cfg, feed.interval, ok=poll.ok, new_items=poll.new, failures=failures, hint=poll.hint)
    wait = jittered(interval, lo=max(cfg.min_interval, floor(cfg, poll.hint)), hi=cfg.max_interval, rng=rng)
    return PollPlan(failures, interval, now + timedelta(seconds=wait))


def next_check(cfg: ScheduleConfig, at: datetime, first_seen: datetime, interval: float | None,
               changed: bool) -> tuple[datetime | None, float]:
    """(next re-check time or None for never again, interval) after a check at `at`.

    Reset to `recheck_after` by an edit (or the first time), grown by `recheck_growth` while
    unchanged (also when a re-check stored nothing), stopped once past the maximum age.
    """
    interval = cfg.recheck_after if changed or not interval else interval * cfg.recheck_growth
    # capped: an article listed in hundreds of polls would otherwise overflow datetime
    interval = min(interval, max(cfg.recheck_max_age_days * 86400.0, cfg.recheck_after))
    when = at + timedelta(seconds=interval)
    if when - first_seen > timedelta(days=cfg.recheck_max_age_days):
        return None, interval
    return when, interval
