"""When to try again: which failures are transient, and how long to wait."""
from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})


def retryable_status(status: int) -> bool:
    """408/429 and server errors may pass; other 4xx will not change by asking again."""
    return status in RETRY_STATUSES or status >= 500


def parse_retry_after(value: str | None, cap: float, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date), clamped to [0, cap]."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # HTTP-dates are GMT
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return float(min(max(seconds, 0.0), cap))


def backoff(attempt: int, base: float) -> float:
    """Exponential backoff with jitter: base * 2**attempt, scaled by a random 0.5..1.5.

    The jitter spreads retries of many fetches that failed together (one host
    going down) so they do not come back in lockstep.
    """
    return base * (2.0**attempt) * random.uniform(0.5, 1.5)
