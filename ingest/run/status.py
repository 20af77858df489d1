"""The daemon's status file (`<database>.status`, JSON), for `ingest health` and for people.

The daemon rewrites it at start, every `schedule.status_every` seconds and at stop: its pid,
when it started and last wrote, polls and failing feeds, work in flight, and how long a no-op
took through the writer (its lag). Written whole to a temporary file and renamed, so a reader
never sees half of it; a daemon killed with -9 leaves the last one, whose age tells.
"""
from __future__ import annotations

import json
import os
from typing import Any

from ingest.times import now


class StatusFile:
    def __init__(self, database: str):
        from ingest.store import local_file

        self.path = local_file(database, ".status")

    def write(self, fields: dict[str, Any], stopped: bool = False) -> None:
        data = {**fields, "written_at": now().isoformat(), "stopped": stopped}
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(data, default=str), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:  # a full or read-only disk shows in health as a stale file, not as a crash here
            tmp.unlink(missing_ok=True)

    def read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None
