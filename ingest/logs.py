"""One line per event, as text or JSON (`--log-format json`), to stderr or a file.

Everything a command says goes through here: log events, its summary line (`say`) and its
last error (`error`), so with `--log-format json` every line a command writes is one JSON
object, and with `--log-file` the log goes to the file while stderr keeps only the errors.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_NOISY = ("trafilatura", "htmldate", "courlan", "charset_normalizer", "apscheduler", "urllib3", "readability",
          "aiohttp", "asyncio", "datasette", "uvicorn", "fsspec")
_FORMAT = {"fmt": "text"}  # the format of this process's output (set by setup_logging)


class JsonFormatter(logging.Formatter):
    """A JSON object per record; fields passed with `extra=` (feed, url, outcome...) are kept."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        return line.replace("\n", " | ")  # one event, one line


def setup_logging(fmt: str = "text", verbosity: int = 0, file: str | None = None) -> None:
    """verbosity: -1 quiet (warnings and errors), 0 events, 1 debug for ingest, 2 debug for everything."""
    _FORMAT["fmt"] = fmt
    stream: TextIO = open(file, "a", encoding="utf-8", buffering=1) if file else sys.stderr  # noqa: SIM115
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel({-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG))
    logging.captureWarnings(True)  # a library's warnings.warn() becomes a log line too (JSON in json mode)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity >= 2 else logging.WARNING)


def say(line: str, **fields: Any) -> None:
    """A command's own summary line on stderr: plain text, or a JSON object with `fields`."""
    print(_render("info", line, fields), file=sys.stderr, flush=True)


def warn(line: str, **fields: Any) -> None:
    """A command's warning on stderr ("ingest: warning: ..." in text, a JSON object in json)."""
    print(_render("warning", line, fields), file=sys.stderr, flush=True)


def error(line: str, **fields: Any) -> None:
    """A command's one-line error on stderr ("ingest: ..." in text, a JSON object in json)."""
    print(_render("error", line, fields), file=sys.stderr, flush=True)


def _render(level: str, line: str, fields: dict[str, Any]) -> str:
    if _FORMAT["fmt"] == "json":
        ts = datetime.now(UTC).isoformat(timespec="milliseconds")
        return json.dumps({"ts": ts, "level": level, "logger": "ingest", "msg": line, **fields}, default=str,
                          ensure_ascii=False)
    return {"error": f"ingest: {line}", "warning": f"ingest: warning: {line}"}.get(level, line)


class Quota:
    """At most `lines` warnings per key (a feed) in `window` seconds; the rest are demoted to debug
    and counted, and the count is told once, with the key's first warning of a later window.

    A feed whose thousand links all fail at each poll writes its first few failures and one line
    saying how many more there were, not a thousand lines per poll (each failure is still a row of
    the fetch log).
    """

    def __init__(self, lines: int = 10, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.lines = lines
        self.window = window
        self._clock = clock
        self._keys: dict[str, list[float]] = {}  # key -> [window start, warnings in it, demoted since told]

    def take(self, key: str) -> tuple[int, int]:
        """(the level for the next line of `key`, how many were demoted since last told: tell them now)."""
        at = self._clock()
        state = self._keys.get(key)
        if state is None or at - state[0] >= self.window:
            demoted = int(state[2]) if state is not None else 0
            self._keys[key] = [at, 1, 0]
            return logging.WARNING, demoted
        if state[1] < self.lines:
            state[1] += 1
            return logging.WARNING, 0
        state[2] += 1
        return logging.DEBUG, 0
