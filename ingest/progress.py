"""One progress line for long commands (backfill, reextract, export), on a terminal only.

    from ingest.progress import progress

    with progress("export", total=n, unit="articles") as bar:   # total=None when unknown
        for row in rows:
            ...
            bar.advance()            # or bar(), or bar.advance(k)
        bar.total = m                # the total can be learnt or corrected on the way
        bar.show(done, total, "scanned 5,200, stored 310, 870 records/s, ETA 1:20", unit="files")
                                     # or set everything at once, with a line of figures of one's own

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
from typing import IO, Any


class Progress:
    def __init__(self, label: str, total: int | None = None, unit: str = "records", *,
                 enabled: bool | None = None, stream: IO[str] | None = None):
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
        self._bar: Any = None  # rich's Progress, imported only on a terminal
        self._task: Any = None

    # --- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                SpinnerColumn,
                Task,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress
            from rich.text import Text

            class _Eta(TimeRemainingColumn):
                """rich's time remaining, unless the caller gives its own (`show`: in its note)."""

                def render(self, task: Task) -> Text:
                    own = task.fields.get("eta")
                    return Text(own) if own is not None else Text("ETA ") + super().render(task)

            console = Console(file=self._stream, stderr=self._stream is sys.stderr)
            self._bar = RichProgress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[unit]}"), TaskProgressColumn(), TextColumn("{task.fields[note]}"),
                TextColumn("{task.fields[rate]}"), _Eta(), TimeElapsedColumn(), console=console, transient=True,
                redirect_stdout=False, redirect_stderr=False, refresh_per_second=4)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=self._total, rate="", note="", unit=self.unit,
                                            eta=None)
        return self

    def __exit__(self, *exc: object) -> None:
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

    __call__ = advance  # `tick()` style

    def show(self, completed: int, total: int | None, note: str, unit: str | None = None) -> None:
        """Set the bar and a line of the caller's own figures (with its own rate and ETA: rich's
        estimates are left out, they would be of the bar's unit)."""
        self.completed, self._total = completed, total
        if unit is not None:
            self.unit = unit
        if self._bar is not None:
            self._bar.update(self._task, completed=completed, total=total, note=note, unit=self.unit, rate="",
                             eta="")

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
        speed: float | None = self._bar.tasks[0].speed
        return speed


def progress(label: str, total: int | None = None, unit: str = "records", **kw: Any) -> Progress:
    """A Progress for `with` (see the module docstring)."""
    return Progress(label, total, unit, **kw)
