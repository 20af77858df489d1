"""Timestamps: aware datetimes in the program, one text form in the database.

Records carry aware datetimes; the store writes them as UTC ISO 8601 to the second
("2018-06-12T08:30:00+00:00"), a form that sorts as text, that SQLite's date functions
and every ISO parser read, and that compares correctly across sources whatever offset a
publisher used. Reading accepts what the database and publishers hold: ISO dates and
datetimes (naive means UTC, "Z" allowed) and RFC 822 dates from feeds.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from email.utils import parsedate_to_datetime

UTC = UTC


def now() -> datetime:
    """The current time, aware, UTC, to the second (what the store records)."""
    return datetime.now(UTC).replace(microsecond=0)


def utc(dt: datetime) -> datetime:
    """`dt` as aware UTC (naive means UTC)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def to_text(dt: datetime | None) -> str | None:
    """The database form of a timestamp: UTC ISO 8601 to the second."""
    return None if dt is None else utc(dt).isoformat(timespec="seconds")


def parse(value: str | date | None) -> datetime | None:
    """A timestamp from text (ISO date or datetime, RFC 822), aware UTC; None when absent or unreadable.

    A date without a time is midnight UTC of that day.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, date):
        return datetime.combine(value, time(0), UTC)
    text = value.strip()
    if not text:
        return None
    try:
        return utc(datetime.fromisoformat(text))  # Python 3.11 reads every ISO 8601 form, "Z" included
    except ValueError:
        pass
    try:
        return utc(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        return None
