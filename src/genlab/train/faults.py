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
every step from a schedule (the GANs' ``lr_decay_steps``) keeps the rollback's factor. The skip and rollback counts go into every checkpoint
too, so a resumed run logs exactly what an unbroken one logs.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import torch

from genlab.errors import CheckpointError, ConfigError, GenlabError
from genlab.train.progress import stderr_console
from genlab.train.rundir import append_metrics, load_resumable_checkpoint, truncate_metrics


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
    """Applies ``train.nonfinite`` to the training loop ``loop`` (a ``genlab.train.trainer._Loop``).

    It reads and restores the loop's family, generator, batcher, monitor, log window and
    best FID; it never touches the loop's control flow: :meth:`after_step` says where to go on.
    """

    def __init__(self, loop: Any) -> None:
        self.loop = loop
        self.policy = loop.run.train.nonfinite
        self.run = 0  # bad steps in a row
        self.total = 0  # bad steps in this run, over every session
        self.rollbacks = 0  # rollbacks in this run, over every session
        if self.policy == "rollback" and not loop.family.opts:
            raise ConfigError(f"nonfinite=rollback lowers the learning rates of torch optimisers, and {loop.run.family} has none; use nonfinite=skip")

    @property
    def undoes_steps(self) -> bool:
        """Whether the loop must snapshot the family before each step (skip and rollback)."""
        return self.policy in ("skip", "rollback")

    def state_dict(self) -> dict[str, int]:
        return {"nonfinite_total": self.total, "rollbacks": self.rollbacks}

    def load_state_dict(self, meta: dict[str, Any]) -> None:
        """Counts from a checkpoint's metadata (0 for checkpoints from before they were saved)."""
        self.total = int(meta.get("nonfinite_total", 0))
        self.rollbacks = int(meta.get("rollbacks", 0))

    def after_step(self, metrics: dict[str, float], step: int, last: dict[str, float], undo: dict[str, Any]) -> tuple[int, dict[str, float]] | None:
        """None when step ``step + 1`` was finite; else undo it and return (step, last logged
        metrics) to carry on from: unchanged after a skip, the checkpoint's after a rollback.
        The bad step's batch is used up (the next step gets the next one), so a skip is reproducible."""
        bad = nonfinite_metrics(metrics)
        if not bad:
            self.run = 0
            return None
        loop, tc = self.loop, self.loop.run.train
        loop.family.load_state_dict(undo)
        self.run += 1
        self.total += 1
        what = ", ".join(f"{k}={v}" for k, v in bad.items())
        append_metrics(loop.run_dir, {"step": step + 1, "skipped_nonfinite": what, "skipped_total": self.total})
        stderr_console.print(f"[yellow]warning (step {step + 1}): {what}: step undone and skipped ({self.total} so far)")
        if self.run < tc.nonfinite_patience:
            return step, last
        if self.policy == "rollback" and self.rollbacks < tc.max_rollbacks:
            return self._roll_back(step + 1, what)
        tried = f" and {self.rollbacks} rollback(s) with a lower lr" if self.policy == "rollback" else ""
        raise TrainingDiverged(
            f"{tc.nonfinite_patience} non-finite steps in a row (last: {what}) at step {step + 1}{tried}: training diverged; "
            f"resume from the last checkpoint in {loop.run_dir} with a lower lr (--set lr=...)"
        )

    def _roll_back(self, step: int, what: str) -> tuple[int, dict[str, float]]:
        """Reload the newest good checkpoint, lower every learning rate, log it; (its step, its metrics)."""
        loop, tc = self.loop, self.loop.run.train
        try:
            state, meta = load_resumable_checkpoint(loop.run_dir, warn=lambda line: print(f"genlab: warning: {line}", file=sys.stderr))
        except CheckpointError as e:
            raise TrainingDiverged(
                f"{tc.nonfinite_patience} non-finite steps in a row (last: {what}) at step {step} and no checkpoint to roll back to ({e}); "
                "checkpoint more often (--set checkpoint_every=N) or lower the lr"
            ) from None
        lrs = {name: [(g["lr"], g.get("lr_scale", 1.0)) for g in opt.param_groups] for name, opt in loop.family.opts.items()}
        back_to = restore_training_state(loop, state, meta)
        for name, opt in loop.family.opts.items():  # the rate in use now, not the checkpoint's, is lowered
            for group, (lr, scale) in zip(opt.param_groups, lrs[name], strict=True):
                group["lr"], group["lr_scale"] = lr, scale
        new_lrs = scale_learning_rates(loop.family.opts, tc.rollback_lr_factor)
        self.run = 0
        self.rollbacks += 1
        truncate_metrics(loop.run_dir, back_to)  # the steps after the checkpoint are trained again
        record = {"step": back_to, "rollback": self.rollbacks, "from_step": step, "reason": what, "lr_factor": tc.rollback_lr_factor, "lr": new_lrs}
        append_metrics(loop.run_dir, record)
        stderr_console.print(
            f"[yellow]warning (step {step}): {tc.nonfinite_patience} non-finite steps in a row: rolled back to step {back_to} "
            f"with the learning rates times {tc.rollback_lr_factor:g} (rollback {self.rollbacks} of at most {tc.max_rollbacks})"
        )
        return back_to, dict(meta.get("metrics") or {})


def restore_training_state(loop: Any, state: dict[str, Any], meta: dict[str, Any]) -> int:
    """Put a checkpoint's family, random streams, data position, monitor, log window and
    best FID back into ``loop``; returns the checkpoint's step."""
    try:
        loop.family.load_state_dict(state["family"])
        loop.generator.set_state(state["rng"]["generator"])
        torch.set_rng_state(state["rng"]["torch"])
        if loop.device.type == "cuda" and "cuda" in state["rng"]:  # dropout's stream on the GPU, as on resume
            torch.cuda.set_rng_state(state["rng"]["cuda"], loop.device)
        loop.batcher.load_state_dict(meta["batcher"])
        loop.monitor.load_state_dict(meta["monitor"])
        step = int(meta["step"])
    except (KeyError, RuntimeError, TypeError, ValueError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise CheckpointError(f"the latest checkpoint of {loop.run_dir} does not match its config.yaml ({first})") from None
    loop.window.clear()
    loop.window.update({k: list(v) for k, v in meta.get("log_window", {}).items()})
    loop.best_fid = meta.get("best_fid")
    return step
