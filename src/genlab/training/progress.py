"""Progress people can watch: a live bar in a terminal, a plain line every ``progress_every`` seconds elsewhere.

Both show the step, the latest losses, images/s and the ETA (the plain line also the steps/s); a run
sized by its wall-clock budget alone (``TrainConfig.budget_only``) shows the budget left instead of an ETA.
``quiet`` silences both. The plain lines come from a background thread
(:class:`genlab.console.Progress`), so a log shows one even while a long evaluation runs.
"""

from __future__ import annotations

import sys

from genlab.console import Progress, bar_columns, duration


class TrainingProgress(Progress):
    """The training bar (kept on screen when done) or the plain lines of a log."""

    def __init__(
        self, title: str, total: int, start: int, quiet: bool, every: float, budget_only: bool = False
    ) -> None:
        columns = bar_columns(spinner=False)  # no spinner: the bar stays on screen when done
        self.budget_only = budget_only  # the step count is only a cap: show the step and the budget left
        super().__init__(
            title,
            None if budget_only else total,
            completed=start,
            unit="steps",
            quiet=quiet,
            every=every,
            transient=False,
            columns=columns,
        )

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        if not self.quiet and not self.live:  # a log ends with where the session stopped
            print(self.line(), file=sys.stderr, flush=True)

    def step(self, step: int, metrics: dict[str, float], images_per_s: float, budget_left_s: float = 0.0) -> None:
        info = f"{format_metrics(metrics)}  {images_per_s:.0f} img/s"
        if self.budget_only:
            info = f"step {step}  {info}  budget left {duration(max(budget_left_s, 0.0))}"
        self.update(step, info=info)


def format_metrics(metrics: dict[str, float], keys: int = 4) -> str:
    return "  ".join(f"{k} {v:.4g}" for k, v in list(metrics.items())[:keys])
