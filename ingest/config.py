"""Configuration: a YAML file read into typed, validated dataclasses.

Validation is by hand over the dataclass fields (no pydantic dependency) so that
every error names the offending key, e.g. ``fetch.timeout: expected a number``.
"""
from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class ConfigError(Exception):
    """A config problem; the message names the key and fits on one line."""


@dataclass
class FeedConfig:
    url: str
    name: str | None = None


@dataclass
class TopicConfig:
    name: str
    keywords: list[str] = field(default_factory=list)


@dataclass
class FetchConfig:
    allow_private_addresses: bool = False
    per_host_concurrency: int = 2
    per_host_delay: float = 1.0  # seconds between request starts to one host
    timeout: float = 30.0  # seconds for one request, connect to last byte
    connect_timeout: float = 10.0
    max_bytes: int = 10_000_000  # cap on the decompressed body
    max_redirects: int = 5
    retries: int = 3
    backoff_base: float = 1.0  # seconds; doubled per retry, with jitter
    max_retry_after: float = 300.0  # cap on a server's Retry-After
    obey_robots: bool = True
    user_agent: str = "ingest/0.1 (+https://github.com/ingest-news/ingest)"
    robots_ttl: float = 86400.0  # seconds a fetched robots.txt is trusted (RFC 9309: at most 24 h)
    robots_error_ttl: float = 600.0  # seconds a host whose robots.txt fails (5xx/unreachable) stays disallowed
    max_crawl_delay: float = 60.0  # cap on a robots.txt Crawl-delay


@dataclass
class ScheduleConfig:
    min_interval: float = 300.0  # seconds between polls of one feed, at the fastest
    max_interval: float = 6 * 3600.0
    default_interval: float = 900.0
    recheck_after: float = 1800.0  # first re-fetch of a stored article
    recheck_growth: float = 1.5
    recheck_max_age_days: float = 7.0
    recheck_budget: int = 50  # article re-checks per tick
    status_every: float = 300.0  # seconds between the daemon's status lines (and status file updates)


@dataclass
class AnalysisConfig:
    near_threshold: float = 0.8
    syndicated_threshold: float = 0.5
    subset_containment: float = 0.8
    patchwork_coverage: float = 0.5
    garble_threshold: float = 0.5


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
    workers: int = max(1, min(2, os.cpu_count() or 1))
    log_format: str = "text"  # "text" | "json"


def _check(value, hint, key: str):
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


def _build(cls, data, prefix: str = ""):
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
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{key}: required")
    return cls(**kwargs)


def _validate(cfg: Config) -> Config:
    for i, feed in enumerate(cfg.feeds):
        if not re.match(r"^https?://", feed.url):
            raise ConfigError(f"feeds[{i}].url: expected an http(s) URL, got {feed.url!r}")
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
    for name in ("per_host_concurrency", "max_bytes", "workers"):
        obj = cfg if name == "workers" else cfg.fetch
        if getattr(obj, name) < 1:
            key = name if name == "workers" else f"fetch.{name}"
            raise ConfigError(f"{key}: must be at least 1")
    return cfg


def parse_config(data) -> Config:
    """Build a Config from already-parsed YAML data."""
    return _validate(_build(Config, data))


def load_config(path: str | os.PathLike | None, db_override: str | None = None) -> Config:
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


def describe(cfg: Config) -> dict:
    """The effective config as plain data, for the start-up log line."""
    return dataclasses.asdict(cfg)
