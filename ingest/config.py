"""Configuration: a YAML file read into typed, validated dataclasses.

Validation is by hand over the dataclass fields (no pydantic dependency) so that
every error names the offending key, e.g. ``fetch.timeout: expected a number``.
Every number has a range, declared beside its field (`metadata=at_least(0)`...), so a
value that would switch a safeguard off or break the run stops the program at start
(``fetch.timeout: must be > 0, got 0``) instead of failing every fetch later.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit


class ConfigError(Exception):
    """A config problem; the message names the key and fits on one line."""


@dataclass(frozen=True)
class Range:
    """The values a number may take: `low`/`high` bounds (None: unbounded), each inclusive unless open."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def problem(self, value: float) -> str | None:
        """Why `value` is out of range ("must be > 0"), or None."""
        if isinstance(value, float) and not math.isfinite(value):
            return "must be a finite number"
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return f"must be {'>' if self.low_open else '>='} {_show(self.low)}"
        if self.high is not None and value > self.high:
            return f"must be <= {_show(self.high)}"
        return None


def _show(value: object) -> str:
    return format(value, "g") if isinstance(value, float) else str(value)


def at_least(low: float, high: float | None = None) -> dict[str, Range]:
    """Field metadata: low <= value (<= high)."""
    return {"range": Range(low, high)}


def above(low: float, high: float | None = None) -> dict[str, Range]:
    """Field metadata: low < value (<= high)."""
    return {"range": Range(low, high, low_open=True)}


HOUR, DAY = 3600.0, 86400.0


@dataclass
class FeedConfig:
    url: str
    name: str | None = None
    # "user:password" for HTTP Basic auth; credentials written in the URL (https://user:pw@host/...)
    # are moved here at load, so the URL that is logged, stored and shown never holds them
    auth: str | None = field(default=None, repr=False)


@dataclass
class TopicConfig:
    name: str
    keywords: list[str] = field(default_factory=list)


@dataclass
class FetchConfig:
    allow_private_addresses: bool = False
    per_host_concurrency: int = field(default=2, metadata=at_least(1, 100))
    # seconds between request starts to one host
    per_host_delay: float = field(default=1.0, metadata=at_least(0, HOUR))
    # seconds for one request, connect to last byte (0 would switch the limit off)
    timeout: float = field(default=30.0, metadata=above(0, HOUR))
    connect_timeout: float = field(default=10.0, metadata=above(0, HOUR))
    # cap on the decompressed body
    max_bytes: int = field(default=10_000_000, metadata=at_least(1, 1_000_000_000))
    max_redirects: int = field(default=5, metadata=at_least(0, 50))
    # extra attempts; the backoff doubles per retry, so 10 already waits ~17 min with base 1
    retries: int = field(default=3, metadata=at_least(0, 10))
    backoff_base: float = field(default=1.0, metadata=at_least(0, 60))  # seconds; doubled per retry, with jitter
    max_retry_after: float = field(default=300.0, metadata=at_least(0, DAY))  # cap on a server's Retry-After
    obey_robots: bool = True
    user_agent: str = "ingest/0.1 (+https://github.com/ingest-news/ingest)"
    # seconds a fetched robots.txt is trusted (RFC 9309: at most 24 h)
    robots_ttl: float = field(default=86400.0, metadata=at_least(0, DAY))
    # seconds a host whose robots.txt fails (5xx/unreachable) stays disallowed
    robots_error_ttl: float = field(default=600.0, metadata=at_least(0, DAY))
    max_crawl_delay: float = field(default=60.0, metadata=at_least(0, HOUR))  # cap on a robots.txt Crawl-delay


@dataclass
class ScheduleConfig:
    # seconds between polls of one feed, at the fastest
    min_interval: float = field(default=300.0, metadata=above(0, 7 * DAY))
    max_interval: float = field(default=6 * 3600.0, metadata=above(0, 30 * DAY))
    default_interval: float = field(default=900.0, metadata=above(0, 30 * DAY))
    recheck_after: float = field(default=1800.0, metadata=above(0, 30 * DAY))  # first re-fetch of a stored article
    recheck_growth: float = field(default=1.5, metadata=at_least(1, 100))
    recheck_max_age_days: float = field(default=7.0, metadata=at_least(0, 3650))
    recheck_budget: int = field(default=50, metadata=at_least(0, 100_000))  # article re-checks per tick
    # seconds between the daemon's status lines (and status file updates)
    status_every: float = field(default=300.0, metadata=above(0, DAY))


@dataclass
class AnalysisConfig:
    near_threshold: float = field(default=0.8, metadata=at_least(0, 1))
    syndicated_threshold: float = field(default=0.5, metadata=at_least(0, 1))
    subset_containment: float = field(default=0.8, metadata=at_least(0, 1))
    patchwork_coverage: float = field(default=0.5, metadata=at_least(0, 1))
    garble_threshold: float = field(default=0.5, metadata=at_least(0, 1))


@dataclass
class RetentionConfig:
    """How long the fetch log (`fetches`: one row per request) keeps its rows; the store prunes it.

    Every request is logged, failures included, so a feed listing a thousand refused links that
    change at each poll would grow it by gigabytes a day. Articles, versions and feeds are never
    pruned.
    """

    # days a fetch-log row is kept
    fetch_log_days: float = field(default=30.0, metadata=above(0, 36500))
    # newest fetch-log rows kept per feed (its polls and its articles' fetches), pruned at each poll
    fetch_log_rows_per_feed: int = field(default=20_000, metadata=at_least(10, 1_000_000_000))


@dataclass
class CCNewsConfig:
    """Where `ingest backfill --cc-news` reads Common Crawl's news crawl (listings and WARC files)."""

    base_url: str = "https://data.commoncrawl.org/"  # http(s):// or s3:// (s3://commoncrawl/ needs AWS credentials)


@dataclass
class Config:
    database: str = "ingest.db"
    feeds: list[FeedConfig] = field(default_factory=list)
    topics: list[TopicConfig] = field(default_factory=list)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    cc_news: CCNewsConfig = field(default_factory=CCNewsConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    workers: int = field(default=max(1, min(2, os.cpu_count() or 1)), metadata=at_least(1, 256))
    # seconds one page may take in an extraction worker before the worker is killed and replaced
    extract_timeout: float = field(default=30.0, metadata=above(0, HOUR))
    log_format: str = "text"  # "text" | "json"


def _check(value: Any, hint: Any, key: str) -> Any:
    """Return `value` converted to the type `hint`, or raise ConfigError naming `key`."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _check(value, args[0], key)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__}")
        (item,) = typing.get_args(hint)
        return [_check(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported type")  # pragma: no cover - schema bug


def _build(cls: Any, data: Any, prefix: str = "") -> Any:
    if data is None:
        data = {}
    if isinstance(data, str) and cls is FeedConfig:
        data = {"url": data}  # a bare URL is a feed
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            where = f"{prefix}.{key}" if prefix else str(key)
            raise ConfigError(f"{where}: unknown key (expected one of: {', '.join(sorted(names))})")
    kwargs = {}
    for f in dataclasses.fields(cls):
        key = f"{prefix}.{f.name}" if prefix else f.name
        if f.name in data:
            kwargs[f.name] = _check(data[f.name], hints[f.name], key)
            bounds = f.metadata.get("range")
            if bounds is not None and (problem := bounds.problem(kwargs[f.name])) is not None:
                raise ConfigError(f"{key}: {problem}, got {_show(data[f.name])}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{key}: required")
    return cls(**kwargs)


def _validate(cfg: Config) -> Config:
    for i, feed in enumerate(cfg.feeds):
        if not re.match(r"^https?://", feed.url):
            raise ConfigError(f"feeds[{i}].url: expected an http(s) URL, got {strip_credentials(feed.url)!r}")
        parts = urlsplit(feed.url)
        if parts.username is not None or parts.password is not None:
            if feed.auth is not None:
                raise ConfigError(f"feeds[{i}]: credentials both in the url and in auth")
            feed.auth = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
            feed.url = strip_credentials(feed.url)
        if feed.auth is not None and ":" not in feed.auth:
            raise ConfigError(f"feeds[{i}].auth: expected 'user:password'")
    for i, topic in enumerate(cfg.topics):
        if not topic.keywords:
            raise ConfigError(f"topics[{i}].keywords: at least one keyword needed")
        for j, kw in enumerate(topic.keywords):
            try:
                re.compile(kw)
            except re.error as e:
                raise ConfigError(f"topics[{i}].keywords[{j}]: bad pattern {kw!r}: {e}") from None
    if not re.match(r"^(https?|s3)://", cfg.cc_news.base_url):
        raise ConfigError(f"cc_news.base_url: expected an http(s):// or s3:// URL, got {cfg.cc_news.base_url!r}")
    if cfg.log_format not in ("text", "json"):
        raise ConfigError(f"log_format: expected 'text' or 'json', got {cfg.log_format!r}")
    s = cfg.schedule
    if s.max_interval < s.min_interval:
        raise ConfigError(f"schedule.max_interval: must be >= schedule.min_interval ({_show(s.min_interval)}), "
                          f"got {_show(s.max_interval)}")
    return cfg


def parse_config(data: Any) -> Config:
    """Build a Config from already-parsed YAML data."""
    return _validate(_build(Config, data))


def load_config(path: str | os.PathLike[str] | None, db_override: str | None = None) -> Config:
    """Read `path` (YAML). None means built-in defaults. `db_override` replaces `database`."""
    if path is None:
        cfg = parse_config({})
    else:
        p = Path(path)
        try:
            raw = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{p}: config file not found") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{p}: cannot read config: {e}") from None
        import yaml  # here, not with the module: the extraction workers import this module too (start-up)

        try:
            data = yaml.safe_load(raw)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark else ""
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise ConfigError(f"{p}: invalid YAML{where}: {problem}") from None
        cfg = parse_config(data)
    if db_override:
        cfg.database = db_override
    return cfg


def strip_credentials(url: str) -> str:
    """`url` without a `user:password@` part (unchanged when it has none, or is not a URL)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def describe(cfg: Config) -> dict[str, Any]:
    """The effective config as plain data, for the start-up log line (feed passwords masked)."""
    data = dataclasses.asdict(cfg)
    for feed in data["feeds"]:
        if feed["auth"] is not None:
            feed["auth"] = feed["auth"].partition(":")[0] + ":***"
    return data
