"""What the trainer does when a step goes wrong numerically (``train.nonfinite``).

- ``stop`` (default): the trainer raises :class:`TrainingDiverged` at the first NaN/Inf metric.
- ``skip``: a step whose metrics hold a NaN/Inf is undone (weights, optimiser states, step
  counter), logged and skipped; ``nonfinite_patience`` bad steps in a row stop the run.
- ``rollback``: as ``skip``, but ``nonfinite_patience`` bad steps in a row send the run back
  to its newest good checkpoint with every optimiser's learning rate multiplied by
  ``rollback_lr_factor``; after ``max_rollbacks`` rollbacks the run stops.

The lowered learning rate lives in the optimisers' state dicts, so the next checkpoint
carries it and a resume keeps it. Each parameter group also records the product of the
factors applied so far as ``lr_scale``, so a family that recomputes its learning rate
every step from a schedule (the GANs' ``lr_decay_steps``) keeps the rollback's factor. The skip and rollback counts go
into every checkpoint
too, so a resumed run logs exactly what an unbroken one logs.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from genlab.config import TrainConfig
from genlab.console import stderr_console
from genlab.errors import CheckpointError, ConfigError, GenlabError
from genlab.models.base import Family
from genlab.runs.rundir import append_metrics, load_resumable_checkpoint, truncate_metrics
from genlab.training.state import GuardCounts


class TrainingDiverged(GenlabError):
    """A loss became NaN or infinite (and the nonfinite policy gave up)."""


def nonfinite_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The metrics whose value is NaN or infinite."""
    return {k: v for k, v in metrics.items() if not math.isfinite(v)}


def scale_learning_rates(opts: dict[str, torch.optim.Optimizer], factor: float) -> dict[str, list[float]]:
    """Multiply the ``lr`` of every parameter group of every optimiser by ``factor``.

    Returns the new learning rates, by optimiser name, one per parameter group. The group's
    ``lr_scale`` (1 when absent) is multiplied too: a schedule that sets ``lr`` every step
    multiplies its rate by it (see ``genlab.models.gan``), so the lowering lasts.
    """
    new: dict[str, list[float]] = {}
    for name, opt in opts.items():
        for group in opt.param_groups:
            group["lr"] = group["lr"] * factor
            group["lr_scale"] = group.get("lr_scale", 1.0) * factor
        new[name] = [group["lr"] for group in opt.param_groups]
    return new


class NonfiniteGuard:
    """Applies ``train.nonfinite`` after each step of a run.

    It undoes a bad step on ``family``, logs to ``run_dir``, counts into ``counts`` (part of
    the training state, so a resume continues the counts) and, to roll back, reads the
    newest good checkpoint and hands it to ``restore`` (``TrainingState.load_state_dict``
    with ``rollback=True``), which returns the checkpoint's step. It never touches the
    loop's control flow: :meth:`after_step` says where to go on.
    """

    def __init__(
        self,
        tc: TrainConfig,
        family: Family,
        run_dir: Path,
        counts: GuardCounts,
        restore: Callable[[dict[str, Any], dict[str, Any]], int],
        record: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.tc, self.family, self.run_dir, self.counts, self.restore = tc, family, run_dir, counts, restore
        # where its records go: metrics.jsonl (and the loop's tracker, when the loop passes its own)
        self.record = record or (lambda r: append_metrics(run_dir, r))
        self.policy = tc.nonfinite
        self.run = 0  # bad steps in a row
        if self.policy == "rollback" and not family.opts:
            raise ConfigError(
                f"nonfinite=rollback lowers the learning rates of torch optimisers, and {family.registry_name} has "
                "none; "
                "use nonfinite=skip"
            )

    @property
    def undoes_steps(self) -> bool:
        """Whether the loop must snapshot the family before each step (skip and rollback)."""
        return self.policy in ("skip", "rollback")

    def after_step(
        self, metrics: dict[str, float], step: int, last: dict[str, float], undo: dict[str, Any]
    ) -> tuple[int, dict[str, float]] | None:
        """None when step ``step + 1`` was finite; else undo it and return (step, last logged
        metrics) to carry on from: unchanged after a skip, the checkpoint's after a rollback.
        The bad step's batch is used up (the next step gets the next one), so a skip is reproducible."""
        bad = nonfinite_metrics(metrics)
        if not bad:
            self.run = 0
            return None
        tc = self.tc
        self.family.load_state_dict(undo)
        self.run += 1
        self.counts.nonfinite_total += 1
        total = self.counts.nonfinite_total
        what = ", ".join(f"{k}={v}" for k, v in bad.items())
        self.record({"step": step + 1, "skipped_nonfinite": what, "skipped_total": total})
        stderr_console.print(f"[yellow]warning (step {step + 1}): {what}: step undone and skipped ({total} so far)")
        if self.run < tc.nonfinite_patience:
            return step, last
        if self.policy == "rollback" and self.counts.rollbacks < tc.max_rollbacks:
            return self._roll_back(step + 1, what)
        tried = f" and {self.counts.rollbacks} rollback(s) with a lower lr" if self.policy == "rollback" else ""
        raise TrainingDiverged(
            f"{tc.nonfinite_patience} non-finite steps in a row (last: {what}) at step {step + 1}{tried}: training "
            "diverged; "
            f"resume from the last checkpoint in {self.run_dir} with a lower lr (--set lr=...)"
        )

    def _roll_back(self, step: int, what: str) -> tuple[int, dict[str, float]]:
        """Reload the newest good checkpoint, lower every learning rate, log it; (its step, its metrics)."""
        tc, opts = self.tc, self.family.opts
        try:
            state, meta = load_resumable_checkpoint(
                self.run_dir, warn=lambda line: print(f"genlab: warning: {line}", file=sys.stderr)
            )
        except CheckpointError as e:
            raise TrainingDiverged(
                f"{tc.nonfinite_patience} non-finite steps in a row (last: {what}) at step {step} "
                f"and no checkpoint to roll back to ({e}); checkpoint more often (--set checkpoint_every=N) or lower "
                "the lr"
            ) from None
        lrs = {name: [(g["lr"], g.get("lr_scale", 1.0)) for g in opt.param_groups] for name, opt in opts.items()}
        back_to = self.restore(state, meta)
        for name, opt in opts.items():  # the rate in use now, not the checkpoint's, is lowered
            for group, (lr, scale) in zip(opt.param_groups, lrs[name], strict=True):
                group["lr"], group["lr_scale"] = lr, scale
        new_lrs = scale_learning_rates(opts, tc.rollback_lr_factor)
        self.run = 0
        self.counts.rollbacks += 1
        truncate_metrics(self.run_dir, back_to)  # the steps after the checkpoint are trained again
        record = {
            "step": back_to,
            "rollback": self.counts.rollbacks,
            "from_step": step,
            "reason": what,
            "lr_factor": tc.rollback_lr_factor,
            "lr": new_lrs,
        }
        self.record(record)
        stderr_console.print(
            f"[yellow]warning (step {step}): {tc.nonfinite_patience} non-finite steps in a row: rolled back to step "
            f"{back_to} "
            f"with the learning rates times {tc.rollback_lr_factor:g} "
            f"(rollback {self.counts.rollbacks} of at most {tc.max_rollbacks})"
        )
        return back_to, dict(meta.get("metrics") or {})
