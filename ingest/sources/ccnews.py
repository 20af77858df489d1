"""CC-NEWS, Common Crawl's news crawl, as a WARC backfill source: which files to read.

Each month has a listing, `crawl-data/CC-NEWS/YYYY/MM/warc.paths.gz` under the data
endpoint (`cc_news.base_url`, default https://data.commoncrawl.org/), one path per
line, e.g. `crawl-data/CC-NEWS/2018/06/CC-NEWS-20180612101425-00133.warc.gz`; the
timestamp in the name is when the crawler started the file. A month is every file of
its listing; a day, or a --since/--until range, the files whose name carries a time in
it. The files are then read like any --warc URL (ingest/sources/remote.py: streamed,
resumable per record).

    urls = cc_news_files("https://data.commoncrawl.org/", *period("2018-06-12"))
"""
from __future__ import annotations

import gzip
import io
import logging
import re
from datetime import UTC, datetime, timedelta

from .remote import RemoteError, filesystem, one_line

log = logging.getLogger(__name__)

LISTING = "crawl-data/CC-NEWS/{year:04d}/{month:02d}/warc.paths.gz"
MAX_LISTING = 50_000_000  # bytes, inflated: a month lists a few thousand files (~100 KB)
_STAMP = re.compile(r"CC-NEWS-(\d{14})-\d+\.warc(?:\.gz)?$")
FIRST_MONTH = (2016, 8)  # CC-NEWS starts in August 2016


class CCNewsError(Exception):
    """Nothing to read: a bad period, or no listing answered. One line."""


def period(text: str) -> tuple[datetime, datetime]:
    """"2018-06" -> [2018-06-01, 2018-07-01); "2018-06-12" -> that day. Aware UTC, end exclusive."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}", text):
            start = datetime.strptime(text, "%Y-%m").replace(tzinfo=UTC)
            end = (start + timedelta(days=32)).replace(day=1)
            return start, end
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            start = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
            return start, start + timedelta(days=1)
    except ValueError:
        pass
    raise CCNewsError(f"--cc-news: expected a month (2018-06) or a day (2018-06-12), got {text!r}")


def months(start: datetime, end: datetime) -> list[tuple[int, int]]:
    """(year, month) of every month overlapping [start, end)."""
    out: list[tuple[int, int]] = []
    year, month = start.year, start.month
    while datetime(year, month, 1, tzinfo=UTC) < end:
        if (year, month) >= FIRST_MONTH:
            out.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def stamp(path: str) -> datetime | None:
    """The time in a CC-NEWS file name (CC-NEWS-20180612101425-00133.warc.gz), aware UTC."""
    m = _STAMP.search(path)
    if not m:
        return None
    try:
        return datetime.strptime(m.group(1), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def listing(base_url: str, year: int, month: int, *, user_agent: str | None = None, timeout: float = 60.0) -> list[str]:
    """The paths a month's warc.paths.gz lists. RemoteError if it cannot be fetched or read."""
    url = base_url.rstrip("/") + "/" + LISTING.format(year=year, month=month)
    scheme = url.split("://", 1)[0].lower()
    fs = filesystem(scheme, user_agent, timeout)
    try:
        raw = fs.cat_file(url)
    except FileNotFoundError:
        raise RemoteError(f"{url}: not found (HTTP 404)") from None
    except Exception as e:  # noqa: BLE001 - aiohttp, botocore: any failure is "cannot fetch"
        raise RemoteError(f"{url}: cannot fetch: {one_line(e)}") from None
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
            text = gz.read(MAX_LISTING + 1)
    except (OSError, EOFError) as e:
        raise RemoteError(f"{url}: not a gzip'd listing: {one_line(e)}") from None
    if len(text) > MAX_LISTING:
        raise RemoteError(f"{url}: listing larger than {MAX_LISTING} bytes")
    return [line.strip() for line in text.decode("utf-8", "replace").splitlines() if line.strip()]


def cc_news_files(base_url: str, start: datetime, end: datetime, *, user_agent: str | None = None,
                  timeout: float = 60.0) -> list[str]:
    """URLs of the CC-NEWS files whose name carries a time in [start, end), in listing order.

    A month whose listing cannot be fetched is one warning line (the others are read);
    CCNewsError when none of them could be."""
    if start >= end:
        raise CCNewsError("CC-NEWS: the period is empty (--since is not before --until)")
    wanted = months(start, end)
    if not wanted:
        raise CCNewsError(f"CC-NEWS: nothing before {FIRST_MONTH[0]}-{FIRST_MONTH[1]:02d}")
    urls: list[str] = []
    failures: list[str] = []
    for year, month in wanted:
        try:
            paths = listing(base_url, year, month, user_agent=user_agent, timeout=timeout)
        except RemoteError as e:
            failures.append(str(e))
            continue
        for path in paths:
            when = stamp(path)
            if when is not None and start <= when < end:
                urls.append(base_url.rstrip("/") + "/" + path.lstrip("/"))
    if failures and len(failures) == len(wanted):
        raise CCNewsError(failures[0] if len(failures) == 1 else f"no CC-NEWS listing could be fetched: {failures[0]}")
    for failure in failures:  # some months answered: the others are one line each
        log.warning("CC-NEWS listing skipped: %s", failure)
    return urls
