"""Progress people can watch: a live bar in a terminal, a plain line every ``progress_every`` seconds elsewhere.

Both show the step, the latest losses, images/s and the ETA (the plain line also the steps/s).
``quiet`` silences both. The plain lines come from a background thread
(:class:`genlab.console.Progress`), so a log shows one even while a long evaluation runs.
"""

from __future__ import annotations

import sys

from genlab.console import Progress, bar_columns


class TrainingProgress(Progress):
    """The training bar (kept on screen when done) or the plain lines of a log."""

    def __init__(self, title: str, total: int, start: int, quiet: bool, every: float) -> None:
        columns = bar_columns(spinner=False)  # no spinner: the bar stays on screen when done
        super().__init__(
            title, total, completed=start, unit="steps", quiet=quiet, every=every, transient=False, columns=columns
        )

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        if not self.quiet and not self.live:  # a log ends with where the session stopped
            print(self.line(), file=sys.stderr, flush=True)

    def step(self, step: int, metrics: dict[str, float], images_per_s: float) -> None:
        self.update(step, info=f"{format_metrics(metrics)}  {images_per_s:.0f} img/s")


def format_metrics(metrics: dict[str, float], keys: int = 4) -> str:
    return "  ".join(f"{k} {v:.4g}" for k, v in list(metrics.items())[:keys])
