"""One progress line for long commands (backfill, reextract, export), on a terminal only.

    from ingest.progress import progress

    with progress("export", total=n, unit="articles") as bar:   # total=None when unknown
        for row in rows:
            ...
            bar.advance()            # or bar(), or bar.advance(k)
        bar.total = m                # the total can be learnt or corrected on the way

On a terminal (stderr is a TTY) it draws a rich progress line: with a known total a bar,
done/total, rate and ETA; without one a spinner, the count, rate and elapsed time. The
line is transient (gone when the command ends, leaving the command's own summary). In
logs, pipes, CI and tests (stderr not a TTY) it does nothing at all, so JSON logs stay
one event per line. `enabled=True/False` overrides the TTY test (tests use it).

Updates are throttled by rich's own refresh thread (a few per second), so `advance()`
is cheap enough to call once per record from the event loop.
"""
from __future__ import annotations

import sys
from typing import IO


class Progress:
    def __init__(self, label: str, total: int | None = None, unit: str = "records", *,
                 enabled: bool | None = None, stream: IO | None = None):
        self.label, self.unit = label, unit
        self._total = total
        self.completed = 0
        self._stream = stream if stream is not None else sys.stderr
        if enabled is None:
            try:
                enabled = self._stream.isatty()
            except (AttributeError, ValueError):
                enabled = False
        self.enabled = enabled
        self._bar = None
        self._task = None

    # --- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                SpinnerColumn,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            console = Console(file=self._stream, stderr=self._stream is sys.stderr)
            self._bar = RichProgress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn(f"{self.unit}"), TaskProgressColumn(),
                TextColumn("{task.fields[rate]}"), TextColumn("ETA"), TimeRemainingColumn(), TimeElapsedColumn(),
                console=console, transient=True, redirect_stdout=False, redirect_stderr=False,
                refresh_per_second=4)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self._total, rate="")
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    # --- updates -------------------------------------------------------------------------------
    def advance(self, n: int = 1) -> None:
        self.completed += n
        if self._bar is not None:
            task = self._bar.tasks[0]
            speed = task.finished_speed or task.speed
            self._bar.update(self._task, advance=n, rate=f"{speed:,.1f}/s" if speed else "")

    __call__ = advance  # `tick()` style, as backfill used it

    @property
    def total(self) -> int | None:
        return self._total

    @total.setter
    def total(self, value: int | None) -> None:
        self._total = value
        if self._bar is not None:
            self._bar.update(self._task, total=value)

    def rate(self) -> float | None:
        """Records per second so far (None before two updates or when disabled)."""
        if self._bar is None:
            return None
        return self._bar.tasks[0].speed


def progress(label: str, total: int | None = None, unit: str = "records", **kw) -> Progress:
    """A Progress for `with` (see the module docstring)."""
    return Progress(label, total, unit, **kw)
