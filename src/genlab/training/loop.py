"""The training loop: steps, logging, sample grids, evaluations, checkpoints, budgets, Ctrl-C.

It holds no state of its own that a checkpoint needs: that is the :class:`TrainingState`.
"""

from __future__ import annotations

import copy
import math
import resource
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from rich.markup import escape

from genlab.console import stderr_console
from genlab.data import iterate_batches, load_dataset, save_grid, to_uint8
from genlab.runs import RunConfig, grid_labels, sample_in_batches, weights_hash
from genlab.runs.checkpoint import prune_checkpoints, save_checkpoint
from genlab.runs.marks import png_options
from genlab.runs.rundir import append_metrics
from genlab.training import speed
from genlab.training.collapse import collapse_signs
from genlab.training.distributed import Replicas
from genlab.training.faults import NonfiniteGuard, TrainingDiverged
from genlab.training.progress import TrainingProgress
from genlab.training.state import TrainingState
from genlab.training.trackers import NoTracker, Tracker

GRID_SEED_OFFSET = 12_345  # fixed-noise grids use seed + this, never the training stream
EVAL_SEED_OFFSET = 54_321  # in-training evaluations draw their samples from seed + this

# Scores uint8 images (N, C, H, W) (+ labels) and returns metrics including "fid".
Evaluate = Callable[[np.ndarray, np.ndarray | None], dict[str, Any]]


@dataclass
class StepClock:
    """Wall and process-CPU seconds spent in training steps alone (batch fetch + ``train_step``).

    Sample grids, held-out and in-training evaluations and checkpoints are left out, so
    "training time until X" means the steps' cost. Pass one to ``train(clock=...)``; it
    counts this session's steps only.
    """

    wall: float = 0.0
    cpu: float = 0.0


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    total_steps: int
    wall_seconds: float
    interrupted: bool
    last_metrics: dict[str, float]
    num_parameters: int
    budget_reached: bool = False  # stopped by train.max_minutes; the run counts as finished
    main_process: bool = True  # False on the other ranks under torchrun, which write nothing

    @property
    def complete(self) -> bool:
        """Whether the run is finished (all its steps, or its time budget): time for its model card."""
        return not self.interrupted or self.budget_reached


@dataclass
class LoopSettings:
    """What the loop is told, as opposed to what it trains (the :class:`TrainingState`)."""

    run: RunConfig
    run_dir: Path
    device: torch.device
    data_dir: str | Path | None = None
    quiet: bool = False
    evaluate: Evaluate | None = None
    clock: StepClock | None = None
    tracker: Tracker | None = None  # a sink for every record appended to metrics.jsonl (genlab.training.trackers)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Loop:
    """Runs the steps of ``state`` as ``settings`` say; :meth:`execute` returns a :class:`TrainResult`."""

    def __init__(self, settings: LoopSettings, state: TrainingState) -> None:
        self.s, self.state = settings, state
        if settings.clock is None:
            settings.clock = StepClock()
        tc = settings.run.train
        self.k = max(1, int(state.family.batches_per_step))  # e.g. a GAN's n_critic real batches
        spe = max(1, state.batcher.steps_per_epoch // self.k)  # training steps per pass over the data
        self.steps_per_epoch = spe
        self.total = tc.steps or tc.epochs * spe
        self.sample_every = tc.sample_every or spe
        self.checkpoint_every = tc.checkpoint_every or spe
        self.stop_requested = False
        self.png = png_options(tc, settings.run.to_dict())  # visible/invisible marks, provenance, signing key
        where = f"the latest checkpoint of {settings.run_dir}"
        self.guard = NonfiniteGuard(
            tc,
            state.family,
            settings.run_dir,
            state.guard,
            lambda st, meta: state.load_state_dict(st, meta, rollback=True, where=where),
            record=self._record,
        )
        self.start = time.perf_counter()
        self.budget_reached = False
        self.replicas = Replicas()  # runs each step data-parallel when torch.distributed is initialised

    def execute(self, step: int, stop_at: int | None) -> TrainResult:
        tc = self.s.run.train
        window = self.state.window
        last: dict[str, float] = {}
        start = self.start = time.perf_counter()
        window_start, window_images, window_step_s, window_steps = start, 0, 0.0, 0
        restore = self._catch_sigint()
        spent = self.s.run.train.max_minutes and self.state.seconds_before >= self.s.run.train.max_minutes * 60
        self.budget_reached = bool(spent)  # a resumed run whose budget is already used takes no step
        try:
            with TrainingProgress(
                self.s.run.family, self.total, step, self.s.quiet, tc.progress_every, tc.budget_only
            ) as progress:
                while step < self.total and not self.replicas.any(self.stop_requested) and not self.budget_reached:
                    wall0, cpu0 = time.perf_counter(), time.process_time()
                    x, y = self._next_batches()
                    undo = copy.deepcopy(self.state.family.state_dict()) if self.guard.undoes_steps else None
                    with speed.step_context(tc.precision, self.s.device.type):
                        metrics = self.replicas.train_step(self.state.family, x, y, self.state.generator)
                    carry_on = self.guard.after_step(metrics, step, last, undo) if undo is not None else None
                    step_s = time.perf_counter() - wall0
                    self.s.clock.wall += step_s
                    self.s.clock.cpu += time.process_time() - cpu0
                    if carry_on is not None:  # a bad step was undone (and maybe the run rolled back)
                        step, last = carry_on
                        continue
                    step += 1
                    self._check_finite(metrics, step)
                    for k, v in metrics.items():
                        window[k].append(v)
                    window_images += x.shape[0]
                    window_step_s, window_steps = window_step_s + step_s, window_steps + 1
                    for message in self.state.monitor.update(metrics) if self.state.family.monitor_losses else ():
                        stderr_console.print(f"[yellow]warning (step {step}): {message}")
                        self._record({"step": step, "warning": message})
                    now = time.perf_counter()
                    rate = window_images / max(now - window_start, 1e-9)
                    progress.step(step, metrics, rate, tc.max_minutes * 60 - self.train_seconds())
                    if step % tc.log_every == 0 or step == self.total:
                        last = {k: sum(v) / len(v) for k, v in window.items()}
                        record = {"step": step, "epoch": step / self.steps_per_epoch, **last}
                        self._record(
                            {
                                **record,
                                **self._learning_rates(),
                                "images_per_s": rate,
                                "step_s": window_step_s / max(window_steps, 1),  # the steps alone, per step
                                "elapsed_s": now - start,
                                "peak_rss_mb": peak_rss_mb(),
                            }
                        )
                        window.clear()
                        window_start, window_images, window_step_s, window_steps = now, 0, 0.0, 0
                    if step % self.sample_every == 0 or step == self.total:
                        self._sample_and_evaluate(step)
                    if tc.eval_every and (step % tc.eval_every == 0 or step == self.total):
                        self._evaluate_and_keep_best(step, last)
                    if step % self.checkpoint_every == 0 or step == self.total:
                        self._checkpoint(step, last)
                    if step == stop_at:
                        break
                    if self._over_budget(step, last):
                        break
            interrupted = step < self.total
            if interrupted and step % self.checkpoint_every and not self.budget_reached and step:
                self._checkpoint(step, last)
        finally:
            restore()
        elapsed = time.perf_counter() - start
        return TrainResult(
            self.s.run_dir,
            step,
            self.total,
            elapsed,
            interrupted,
            last,
            self.state.family.num_parameters(),
            self.budget_reached,
            self.replicas.is_main,
        )

    def _over_budget(self, step: int, last: dict[str, float]) -> bool:
        """``max_minutes``: stop once the run's training time (all sessions) reaches the budget.

        The step count at which that happens depends on the machine's speed, so a budgeted run
        is reproducible from its config only up to where it stopped; ``metrics.jsonl`` records it.
        """
        budget = self.s.run.train.max_minutes
        if not budget or step >= self.total or not self.replicas.any(self.train_seconds() >= budget * 60):
            return False
        self.budget_reached = True
        self._record({"step": step, "stopped": "max_minutes", "train_seconds": self.train_seconds()})
        stderr_console.print(
            f"[yellow]time budget of {budget:g} min reached at step {step}: checkpointing and stopping"
        )
        if step % self.checkpoint_every:
            self._checkpoint(step, last)
        return True

    @property
    def tracker(self) -> Tracker:
        return self.s.tracker or NoTracker()

    def _record(self, record: dict[str, Any]) -> None:
        """Append ``record`` to metrics.jsonl (the source of truth), then hand it to the tracker."""
        append_metrics(self.s.run_dir, record)
        self.tracker.log_record(record)

    def _learning_rates(self) -> dict[str, float]:
        """The learning rate in use of each torch optimiser (its first parameter group), as ``lr_<name>``."""
        return {f"lr_{name}": float(opt.param_groups[0]["lr"]) for name, opt in self.state.family.opts.items()}

    def train_seconds(self) -> float:
        """Training wall time of this run so far, over every session."""
        return self.state.seconds_before + time.perf_counter() - self.start

    def _next_batches(self):
        """One batch, or k consecutive ones concatenated when the family asks for k per step, on the device."""
        if self.k == 1:
            x, y = self.state.batcher.next_batch()
        else:
            xs, ys = zip(*(self.state.batcher.next_batch() for _ in range(self.k)))
            x, y = torch.cat(xs), None if ys[0] is None else torch.cat(ys)
        return speed.batch_layout(x.to(self.s.device), self.s.run.train.channels_last), None if y is None else y.to(
            self.s.device
        )

    def _check_finite(self, metrics: dict[str, float], step: int) -> None:
        bad = {k: v for k, v in metrics.items() if not math.isfinite(v)}
        if bad:
            raise TrainingDiverged(
                f"{', '.join(f'{k}={v}' for k, v in bad.items())} at step {step}: training diverged; "
                f"resume from the last checkpoint in {self.s.run_dir} with a lower lr (--set lr=...)"
            )

    def _sample_and_evaluate(self, step: int) -> None:
        tc = self.s.run.train
        n = tc.grid_size
        labels = grid_labels(n, self.state.family.info.num_classes) if self.state.family.conditional else None
        images = self.state.family.sample(
            n, labels=labels, generator=torch.Generator().manual_seed(tc.seed + GRID_SEED_OFFSET)
        )
        fields = {
            "step": step,
            "checkpoint_hash": weights_hash(self.state.family.state_dict()["nets"]),
            "seed": tc.seed + GRID_SEED_OFFSET,
            "sampler": {"n": n, "labels": None if labels is None else "grid"},
        }
        grid = save_grid(
            self.s.run_dir / "samples" / f"step_{step:08d}.png",
            to_uint8(images),
            **{**self.png, "provenance": {**self.png["provenance"], **fields}},
        )
        if not isinstance(self.tracker, NoTracker):  # the grid as published, marks included
            with Image.open(grid) as picture:
                self.tracker.log_image(step, "samples", np.asarray(picture.convert("RGB")))
        held_out = self._evaluate()
        if held_out:
            self._record({"step": step, **held_out})

    def _evaluate(self) -> dict[str, float]:
        tc = self.s.run.train
        images, labels, _ = load_dataset(tc.dataset, "test", self.s.data_dir, tc.data_options())
        totals: dict[str, float] = defaultdict(float)
        for x, y in iterate_batches(images, labels, tc.eval_batch_size, scale=self.state.family.data_scale):
            sums = self.state.family.evaluate(x.to(self.s.device), None if y is None else y.to(self.s.device))
            if not sums:
                return {}
            for k, v in sums.items():
                totals[k] += v
        means = self.state.family.summarise_evaluation({k: v / images.shape[0] for k, v in totals.items()})
        return {f"test_{k}": v for k, v in means.items()}

    def _evaluate_and_keep_best(self, step: int, last: dict[str, float]) -> None:
        tc = self.s.run.train
        n, info = tc.eval_samples, self.state.family.info
        labels = torch.arange(n) % info.num_classes if self.state.family.conditional else None
        images = sample_in_batches(self.state.family, n, labels=labels, seed=tc.seed + EVAL_SEED_OFFSET)
        result = self.s.evaluate(images, None if labels is None else labels.numpy())
        scalars = {f"eval_{k}": v for k, v in result.items() if isinstance(v, (int, float, str))}
        if "class_histogram" in result:  # for collapse diagnosis: which classes the samples fall in
            scalars["eval_class_histogram"] = [int(c) for c in result["class_histogram"]]
        self._record({"step": step, **scalars})
        self._say_evaluation(step, result)
        if self.state.best_fid is None or result["fid"] < self.state.best_fid:
            self.state.best_fid = float(result["fid"])
            self._checkpoint(step, last, name="best")

    def _say_evaluation(self, step: int, result: dict[str, Any]) -> None:
        """The in-training FID and class coverage on the console; a warning for each collapse sign
        (one class over half the samples; for a GAN, recall under a floor: genlab.training.collapse)."""
        counts = result.get("class_histogram")
        coverage = ""
        if counts:
            coverage = f", classes covered {result.get('modes_covered', '?')}/{len(counts)}"
        if not self.s.quiet:
            stderr_console.print(
                f"eval at step {step}: FID {result['fid']:.2f} (n={result.get('n')}, {result.get('extractor')} "
                f"extractor){coverage}"
            )
        for message in collapse_signs(result, gan=self.state.family.kind == "gan"):
            stderr_console.print(f"[yellow]warning (step {step}): {escape(message)}")
            self._record({"step": step, "warning": message})

    def _checkpoint(self, step: int, last: dict[str, float], name: str | None = None) -> None:
        state, meta = self.state.state_dict(step, self.steps_per_epoch)
        meta = {
            "family": self.s.run.family,
            **meta,
            "config": self.s.run.to_dict(),
            "metrics": last,
            "train_seconds": self.train_seconds(),
            **self.replicas.checkpoint_meta(self.state.family),  # every rank's weights hash, under torchrun
        }
        folder = self.s.run_dir / "checkpoints"
        save_checkpoint(folder / (name or f"step_{step:08d}"), state, meta)
        if name is None:
            prune_checkpoints(folder, self.s.run.train.keep_last)

    def _catch_sigint(self):
        """Ctrl-C finishes the current step, checkpoints and stops (a second one aborts)."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum, frame):
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True
            stderr_console.print(
                "[yellow]interrupt: finishing this step and saving a checkpoint (Ctrl-C again to abort)"
            )

        signal.signal(signal.SIGINT, handler)
        return lambda: signal.signal(signal.SIGINT, previous)
