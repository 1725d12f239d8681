"""The progress display: step, losses, images/s and ETA on one line (rich)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

stderr_console = Console(stderr=True)


def make_progress(quiet: bool) -> Progress:
    """A rich progress bar on stderr; disabled with ``quiet`` or when stderr is no terminal."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=stderr_console,
        disable=quiet or not sys.stderr.isatty(),
        transient=False,
    )


def format_metrics(metrics: dict[str, float], keys: int = 4) -> str:
    return "  ".join(f"{k} {v:.4g}" for k, v in list(metrics.items())[:keys])
