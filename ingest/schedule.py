"""Feed poll intervals: adaptive, bounded, with server hints as a floor.

Pure functions of a feed's last poll, so the policy is tested without a clock and the
state it needs (interval, failures) lives in the feeds table, surviving restarts.
"""
from __future__ import annotations

import random

from .config import ScheduleConfig

FASTER = 0.5  # a poll that brought new items halves the interval
SLOWER = 1.5  # a poll that brought nothing new stretches it
FAILURE_WEIGHT = {"http": 1.0, "timeout": 1.0, "connection": 1.0, "too_large": 2.0, "refused": 4.0,
                  "content_type": 4.0, "redirects": 2.0, "invalid": 4.0, "robots": 4.0, "parse": 2.0}


def next_interval(cfg: ScheduleConfig, previous: float | None, *, ok: bool, new_items: int = 0,
                  failures: float = 0.0, hint: float | None = None) -> float:
    """Seconds until the next poll of a feed.

    ok and new items: shorter; ok and nothing new: longer; failure: exponential backoff on
    the weighted count of consecutive failures (never disabled, capped at max_interval).
    `hint` (RSS ttl, Cache-Control max-age, Retry-After) is a floor, capped at max_interval.
    """
    base = previous or cfg.default_interval
    if not ok:
        interval = cfg.default_interval * 2 ** min(failures, 10)
    elif new_items > 0:
        interval = base * FASTER
    else:
        interval = base * SLOWER
    interval = min(max(interval, cfg.min_interval), cfg.max_interval)
    if hint:
        interval = max(interval, min(hint, cfg.max_interval))
    return interval


def jittered(seconds: float, spread: float = 0.1, rng: random.Random | None = None) -> float:
    """Spread polls of feeds on one host so they do not fire together."""
    return seconds * (1 + (rng or random).uniform(-spread, spread))
