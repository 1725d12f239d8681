"""The console every command writes its progress and warnings to: stderr, so stdout stays data.

:class:`Progress` fits where stderr goes. On a terminal it is a live rich bar; otherwise (a log
file, a pipe, CI) it prints one plain line every ``every`` seconds from a background thread, so
a line comes even while one long call (a test-set pass, a reference-feature pass) runs, and a
quick command prints nothing extra. Every command that can take more than a few seconds
shows one; ``quiet`` silences it. This is a base module: it imports no other genlab module.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

stderr_console = Console(stderr=True)

PROGRESS_EVERY = 30.0  # seconds between plain lines; GENLAB_PROGRESS_EVERY overrides it for every command


def progress_every(default: float = PROGRESS_EVERY) -> float:
    """``default``, or the GENLAB_PROGRESS_EVERY environment variable when it holds a number > 0."""
    try:
        value = float(os.environ.get("GENLAB_PROGRESS_EVERY", ""))
    except ValueError:
        return default
    return value if 0 < value < float("inf") else default


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def duration(seconds: float) -> str:
    """``42 s``, ``3.5 min`` or ``2.1 h``: how long something takes, for a progress line."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


class Progress:
    """Progress of one command: a description, an optional count (``total`` units) and an info text.

    Use as a context manager; :meth:`update` moves the count and sets the info, :meth:`stage`
    starts a new stage (a new description and count). ``completed`` is where the count starts
    (a resumed training run); rate and ETA are measured over this session only.
    """

    def __init__(
        self,
        description: str,
        total: int | None = None,
        *,
        completed: int = 0,
        unit: str = "",
        quiet: bool = False,
        every: float | None = None,
        transient: bool = True,
        columns: tuple | None = None,
    ) -> None:
        self.every = progress_every() if every is None else every
        self.quiet, self.unit = quiet, unit
        self.live = not quiet and stderr_is_terminal()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._set_stage(description, total, completed)
        self._bar = RichProgress(
            *(columns or bar_columns()),
            console=stderr_console,
            disable=not self.live,
            transient=transient,
            refresh_per_second=4,  # light on a 2-core machine (bench measures while it runs)
        )
        self._task = self._bar.add_task(description, total=total, completed=completed, info="")

    def _set_stage(self, description: str, total: int | None, completed: int) -> None:
        self.description, self.total, self.completed = description, total, completed
        self.info = ""
        self._t0, self._c0 = time.perf_counter(), completed

    def __enter__(self) -> Progress:
        self._bar.__enter__()
        if not self.quiet and not self.live:
            self._thread = threading.Thread(target=self._tick, name="genlab-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._bar.__exit__(*exc)

    def update(self, completed: int | None = None, *, advance: int = 0, info: str | None = None) -> None:
        with self._lock:
            if completed is not None:
                self.completed = completed
            self.completed += advance
            if info is not None:
                self.info = info
        self._bar.update(self._task, completed=self.completed, info=self.info)

    def stage(self, description: str, total: int | None = None) -> None:
        """A new stage of the command (e.g. "sampling", then "reference features")."""
        with self._lock:
            self._set_stage(description, total, 0)
        self._bar.reset(self._task, total=total, completed=0, description=description, info="")

    def advance(self, k: int = 1) -> None:
        self.update(advance=k)

    def rate(self) -> float | None:
        """Units per second over this stage of this session; None before the first unit."""
        done = self.completed - self._c0
        spent = time.perf_counter() - self._t0
        return done / spent if done > 0 and spent > 0 else None

    def line(self) -> str:
        """The plain progress line: description, count, rate, ETA, info and elapsed time."""
        with self._lock:
            spent = time.perf_counter() - self._t0
            parts = [self.description]
            rate = self.rate()
            if self.total:
                unit = f" {self.unit}" if self.unit else ""
                parts.append(f"{self.completed}/{self.total}{unit}")
                if rate:
                    parts.append(f"{rate:.3g}{unit}/s, ETA {duration(max(self.total - self.completed, 0) / rate)}")
                else:
                    parts.append("ETA unknown yet")
            if self.info:
                parts.append(self.info)
            parts.append(f"({duration(spent)} elapsed)")
        return "  ".join(parts)

    def _tick(self) -> None:
        while not self._stop.wait(self.every):
            print(self.line(), file=sys.stderr, flush=True)


def bar_columns(spinner: bool = True) -> tuple:
    """The columns of a progress bar: [spinner,] description, bar, done/total, info, elapsed, ETA."""
    return (
        *((SpinnerColumn(),) if spinner else ()),
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
