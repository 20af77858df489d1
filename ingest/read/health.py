"""`ingest health`: is the daemon on this database alive and well? One verdict, one reason.

Read-only, from three places: the daemon's lock (held while it runs, released by the kernel
when it dies), its status file (rewritten every `schedule.status_every` seconds; stopped or
stale means trouble) and the feeds table (when a feed was last read; how many fail).
"""
from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ingest.config import Config
from ingest.run.status import StatusFile
from ingest.times import now, parse

from .query import open_readonly


@dataclass(frozen=True)
class Health:
    ok: bool
    reason: str


def daemon_running(database: str) -> bool:
    """Whether a process holds the daemon lock of `database` (tried without taking it for long)."""
    path = Path(f"{database}.lock")
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock we took
    return False


def check_health(cfg: Config, *, max_poll_age: float | None = None, max_failing: float = 0.5,
                 max_lag: float = 30.0) -> Health:
    from ingest.store import is_postgres

    # a PostgreSQL corpus has any number of daemons, on any machines: the status file is this machine's
    if not is_postgres(cfg.database) and not daemon_running(cfg.database):
        return Health(False, f"no daemon is running on {cfg.database}")
    status = StatusFile(cfg.database).read()
    stale_after = 2 * cfg.schedule.status_every + 60
    if status is None:
        return Health(False, f"the daemon has written no status file ({StatusFile(cfg.database).path})")
    written = parse(status.get("written_at"))
    if status.get("stopped") or written is None or now() - written > timedelta(seconds=stale_after):
        return Health(False, f"the daemon's status is {'final' if status.get('stopped') else 'stale'} "
                             f"(written {status.get('written_at')})")
    lag = status.get("writer_lag_ms")
    if lag is None or lag > max_lag * 1000:
        return Health(False, f"the writer is not keeping up (a no-op took {lag} ms)")
    conn = open_readonly(cfg.database)
    try:
        total, failing, last_ok = conn.execute(
            "SELECT count(*), sum(CASE WHEN status = 'failing' THEN 1 ELSE 0 END), max(last_success) "
            "FROM feed_health").fetchone()
    finally:
        conn.close()
    if total and (failing or 0) / total > max_failing:
        return Health(False, f"{failing} of {total} feeds are failing")
    limit = max_poll_age if max_poll_age is not None else 2 * cfg.schedule.max_interval
    last = parse(last_ok)
    started = parse(status.get("started_at"))
    if total and (last is None or now() - last > timedelta(seconds=limit)):
        if last is not None or (started is not None and now() - started > timedelta(seconds=limit)):
            return Health(False, f"no feed was read successfully for over {limit:.0f} s (last: {last_ok})")
    return Health(True, f"daemon pid {status.get('pid')} up since {status.get('started_at')}, "
                        f"{(failing or 0)} of {total} feeds failing, writer lag {lag} ms")
