"""Config: defaults, the shipped config.yaml, and one-line errors naming the key."""
from __future__ import annotations

from pathlib import Path

import pytest

from ingest.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[1]


def test_defaults():
    cfg = parse_config({})
    assert cfg.database == "ingest.db" and cfg.feeds == [] and cfg.topics == []
    assert cfg.fetch.allow_private_addresses is False
    assert cfg.fetch.per_host_concurrency == 2 and cfg.fetch.per_host_delay == 1.0


def test_shipped_config_has_summit_topic_and_real_feeds():
    cfg = load_config(ROOT / "config.yaml")
    assert cfg.topics[0].name == "trump-kim-summit"
    assert len(cfg.feeds) >= 5 and all(f.url.startswith("https://") for f in cfg.feeds)
    assert cfg.fetch.allow_private_addresses is False


def test_bare_url_feeds_and_db_override(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("feeds:\n  - https://example.com/rss\n")
    cfg = load_config(p, db_override="/tmp/other.db")
    assert cfg.feeds[0].url == "https://example.com/rss" and cfg.database == "/tmp/other.db"


@pytest.mark.parametrize("data, key", [
    ({"fetch": {"timeout": "soon"}}, "fetch.timeout"),
    ({"fetch": {"per_host_concurrency": 1.5}}, "fetch.per_host_concurrency"),
    ({"fetch": {"allow_private_addresses": "yes"}}, "fetch.allow_private_addresses"),
    ({"fetch": {"per_host_concurrency": 0}}, "fetch.per_host_concurrency"),
    ({"feeds": [{"name": "no url"}]}, "feeds[0].url"),
    ({"feeds": ["ftp://x"]}, "feeds[0].url"),
    ({"feeds": {"url": "https://x"}}, "feeds"),
    ({"topics": [{"name": "t", "keywords": ["(unclosed"]}]}, "topics[0].keywords[0]"),
    ({"topics": [{"name": "t"}]}, "topics[0].keywords"),
    ({"fetch": {"tiemout": 3}}, "fetch.tiemout"),
    ({"log_format": "xml"}, "log_format"),
    (["a list"], "config"),
])
def test_errors_name_the_key(data, key):
    with pytest.raises(ConfigError) as e:
        parse_config(data)
    assert str(e.value).startswith(key) and "\n" not in str(e.value)


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds: [\n  - x\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad)
