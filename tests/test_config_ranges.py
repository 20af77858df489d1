"""Every number in the config has a range; a value outside it stops the program at start with one
line naming the key (`fetch.timeout: must be > 0, got 0`), exit 2.

Before: `fetch.timeout: 0` switched the timeout off and `fetch.retries: -1` failed every fetch
with an AssertionError traceback while the run exited 0.
"""
from __future__ import annotations

import dataclasses
import math
import typing

import pytest
import yaml
from conftest import ingest_cli

from ingest.config import (
    AnalysisConfig,
    Config,
    ConfigError,
    FetchConfig,
    Range,
    ScheduleConfig,
    parse_config,
)

SECTIONS = {"": Config, "fetch": FetchConfig, "schedule": ScheduleConfig, "analysis": AnalysisConfig}


def numeric_fields():
    """(key, field, type) of every int or float field of every section."""
    for prefix, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if hints[f.name] in (int, float):
                yield (f"{prefix}.{f.name}" if prefix else f.name), f, hints[f.name]


NUMERIC = list(numeric_fields())


# min_interval <= max_interval is checked too: each bound of one is tried with the other out of the way
PARTNER = {"schedule.min_interval": {"max_interval": 30 * 86400.0}, "schedule.max_interval": {"min_interval": 0.001}}


def data_for(key: str, value) -> dict:
    section, _, name = key.rpartition(".")
    return {section: {name: value, **PARTNER.get(key, {})}} if section else {name: value}


def test_every_number_has_a_range():
    assert len(NUMERIC) >= 25
    for key, f, _ in NUMERIC:
        assert isinstance(f.metadata.get("range"), Range), f"{key} has no range"


@pytest.mark.parametrize("key, f, kind", NUMERIC, ids=[k for k, _, _ in NUMERIC])
def test_each_number_is_checked_at_both_ends(key, f, kind):
    r: Range = f.metadata["range"]
    default = f.default if f.default is not dataclasses.MISSING else None
    assert r.problem(default) is None, f"{key}: the default {default} is out of its own range"
    if r.low is not None:
        below = r.low if r.low_open else (r.low - 1 if kind is int else r.low - 0.5)
        with pytest.raises(ConfigError) as e:
            parse_config(data_for(key, kind(below)))
        message = str(e.value)
        assert message.startswith(f"{key}: must be {'>' if r.low_open else '>='} ") and "\n" not in message
        assert message.endswith(f"got {kind(below):g}" if kind is float else f"got {below}"), message
        if not r.low_open:
            parse_config(data_for(key, kind(r.low)))  # the bound itself is allowed
    if r.high is not None:
        with pytest.raises(ConfigError, match=rf"^{key}: must be <= "):
            parse_config(data_for(key, kind(r.high + 1)))
        parse_config(data_for(key, kind(r.high)))
    if kind is float:
        for bad in (math.inf, -math.inf, math.nan):
            with pytest.raises(ConfigError, match=rf"^{key}: must be a finite number, got "):
                parse_config(data_for(key, bad))


@pytest.mark.parametrize("data, message", [
    ({"fetch": {"timeout": 0}}, "fetch.timeout: must be > 0, got 0"),
    ({"fetch": {"retries": -1}}, "fetch.retries: must be >= 0, got -1"),
    ({"fetch": {"connect_timeout": -5}}, "fetch.connect_timeout: must be > 0, got -5"),
    ({"fetch": {"max_bytes": 0}}, "fetch.max_bytes: must be >= 1, got 0"),
    ({"schedule": {"min_interval": 0}}, "schedule.min_interval: must be > 0, got 0"),
    ({"fetch": {"retries": 1000}}, "fetch.retries: must be <= 10, got 1000"),
    ({"analysis": {"near_threshold": 1.5}}, "analysis.near_threshold: must be <= 1, got 1.5"),
    ({"workers": 0}, "workers: must be >= 1, got 0"),
    ({"extract_timeout": 0}, "extract_timeout: must be > 0, got 0"),
    ({"schedule": {"min_interval": 600, "max_interval": 300}},
     "schedule.max_interval: must be >= schedule.min_interval (600), got 300"),
])
def test_messages(data, message):
    with pytest.raises(ConfigError) as e:
        parse_config(data)
    assert str(e.value) == message


def test_yaml_infinities_and_nan_are_refused():
    for text in ("fetch: {timeout: .inf}", "fetch: {per_host_delay: .nan}", "schedule: {recheck_growth: -.inf}"):
        with pytest.raises(ConfigError, match="must be a finite number"):
            parse_config(yaml.safe_load(text))


@pytest.mark.parametrize("fetch, line", [({"timeout": 0}, "fetch.timeout: must be > 0, got 0"),
                                         ({"retries": -1}, "fetch.retries: must be >= 0, got -1")])
def test_cli_exits_2_with_one_line(tmp_path, fetch, line):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"database": str(tmp_path / "x.db"), "feeds": [], "fetch": fetch}))
    res = ingest_cli("run", "--once", "--config", str(config), cwd=tmp_path, timeout=60)
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert res.stderr.strip() == f"ingest: config error: {line}"
    assert not (tmp_path / "x.db").exists()
