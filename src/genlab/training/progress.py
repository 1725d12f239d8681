"""Progress people can watch: a live bar in a terminal, plain lines in a log file.

Shows step, losses, images/s and ETA. ``quiet`` silences both.
"""

from __future__ import annotations

import sys
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from genlab.console import stderr_console


class TrainingProgress:
    """A rich bar on a terminal; without one, a plain line at each ``milestone`` call."""

    def __init__(self, title: str, total: int, start: int, quiet: bool) -> None:
        self.total, self.quiet = total, quiet
        self.live = not quiet and sys.stderr.isatty()
        self._t0, self._s0 = time.perf_counter(), start
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=stderr_console,
            disable=not self.live,
        )
        self._task = self._bar.add_task(title, total=total, completed=start, info="")

    def __enter__(self) -> TrainingProgress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._bar.__exit__(*exc)

    def update(self, step: int, metrics: dict[str, float], images_per_s: float) -> None:
        self._bar.update(self._task, completed=step, info=f"{format_metrics(metrics)}  {images_per_s:.0f} img/s")

    def milestone(self, step: int, metrics: dict[str, float], images_per_s: float) -> None:
        """A plain progress line for logs (only when no live bar is shown)."""
        if self.quiet or self.live:
            return
        done = step - self._s0
        eta = (time.perf_counter() - self._t0) / max(done, 1) * (self.total - step)
        print(
            f"step {step}/{self.total}  {format_metrics(metrics)}  {images_per_s:.0f} img/s  ETA {eta / 60:.1f} min",
            file=sys.stderr,
            flush=True,
        )


def format_metrics(metrics: dict[str, float], keys: int = 4) -> str:
    return "  ".join(f"{k} {v:.4g}" for k, v in list(metrics.items())[:keys])
