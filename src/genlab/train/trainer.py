"""The one trainer: it calls a family's ``train_step`` and knows nothing else about it.

Seeded and resumable bit-for-bit: the model, optimizers, both random streams (the
trainer's generator and torch's global one, used by dropout), the batcher position and
the monitor all go into each checkpoint. The caller's global RNG is left untouched.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import resource
import signal
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.atomic import atomic_write_text
from genlab.data import Batcher, iterate_batches, load_dataset, save_grid, to_uint8
from genlab.errors import CheckpointError, ConfigError
from genlab.models.registry import get_family
from genlab.publish.provenance import weights_hash
from genlab.publish.run import png_options
from genlab.train import speed
from genlab.train.checkpoint import prune_checkpoints, save_checkpoint, step_checkpoints
from genlab.train.device import resolve_device, resolve_device_for
from genlab.train.distributed import Replicas, rank_device
from genlab.train.faults import NonfiniteGuard, TrainingDiverged
from genlab.train.monitor import DivergenceMonitor
from genlab.train.loading import sample_in_batches
from genlab.train.progress import TrainingProgress, stderr_console
from genlab.train.rundir import (
    RunConfig, append_metrics, load_resumable_checkpoint, read_config, remove_write_debris, truncate_metrics, versions, write_config,
)

GRID_SEED_OFFSET = 12_345  # fixed-noise grids use seed + this, never the training stream
EVAL_SEED_OFFSET = 54_321  # in-training evaluations draw their samples from seed + this

# Scores uint8 images (N, C, H, W) (+ labels) and returns metrics including "fid".
Evaluate = Callable[[np.ndarray, np.ndarray | None], dict[str, Any]]


def grid_labels(n: int, num_classes: int) -> torch.Tensor:
    """Labels for a conditional sample grid: one row per class when n fills whole rows.

    The grid has ceil(sqrt(n)) columns (see make_grid); a 100-image grid of 10 classes is
    ten rows of ten images of one class each. Otherwise labels cycle 0, 1, ..., K-1.
    """
    cols = math.ceil(math.sqrt(n))
    if n % cols == 0 and n // cols == num_classes:
        return torch.arange(n) // cols
    return torch.arange(n) % num_classes


def drop_classes(images: np.ndarray, labels: np.ndarray, classes: tuple[int, ...], dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """The images whose label is not in ``classes`` (``exclude_classes``: train on all digits but one).

    A class the data lacks, or leaving nothing to train on, is a ConfigError.
    Shapes: images (N, C, H, W), labels (N,) -> (M, C, H, W), (M,), M <= N.
    """
    if not classes:
        return images, labels
    present = set(np.unique(labels).tolist())
    missing = sorted(set(classes) - present)
    if missing:
        raise ConfigError(f"exclude_classes {missing} not in {dataset}, whose classes are {sorted(present)}")
    keep = ~np.isin(labels, classes)
    if not keep.any():
        raise ConfigError(f"exclude_classes {list(classes)} removes every class of {dataset}: nothing left to train on")
    return images[keep], labels[keep]


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


def train(
    run: RunConfig | None,
    run_dir: str | Path,
    *,
    resume: bool = False,
    data_dir: str | Path | None = None,
    quiet: bool = False,
    stop_at: int | None = None,
    evaluate: Evaluate | None = None,
    clock: StepClock | None = None,
    device: str | torch.device = "cpu",
) -> TrainResult:
    """Train ``run`` into ``run_dir`` (or, with ``resume``, continue the run found there).

    ``stop_at`` ends the session after that step with a checkpoint, as an interruption would.
    ``evaluate`` is called every ``eval_every`` steps (required when that is set); the
    checkpoint with the lowest FID so far is kept as ``checkpoints/best``. ``clock``, when
    given, accumulates the time of the training steps alone (see StepClock). ``device``:
    cpu, cuda, cuda:N, mps or auto (see genlab.train.device); the noise is drawn on the CPU
    whatever the device, and checkpoints hold CPU tensors, so a run can resume on another.
    """
    requested, device = device, resolve_device(device)  # a bad name fails before anything is read or written
    run_dir = Path(run_dir)
    if resume and not step_checkpoints(run_dir / "checkpoints") and (run_dir / "config.yaml").is_file():
        # Killed before its first checkpoint: there is nothing to continue, so start again from step 0.
        remove_write_debris(run_dir)
        print(f"genlab: warning: {run_dir} has no checkpoint yet; starting it again from step 0 with its config.yaml", file=sys.stderr)
        run, resume = (read_config(run_dir) if run is None else run), False
    if resume:
        ckpt_state, ckpt_meta = load_resumable_checkpoint(run_dir, warn=lambda line: print(f"genlab: warning: {line}", file=sys.stderr))
        saved = read_config(run_dir)
        run = saved if run is None else run  # a caller may extend steps/epochs
    if run is None:
        raise ConfigError("train() needs a RunConfig, or resume=True with a run directory")
    run.train.check()
    if run.train.eval_every and evaluate is None:
        raise ConfigError("eval_every is set but no evaluator was given (the CLI builds one from the shipped extractor)")
    spec = get_family(run.family)
    device = rank_device(resolve_device_for(requested, spec.family_cls.device_types))  # auto: the CPU for NumPy families
    tc = run.train
    images, labels, info = load_dataset(tc.dataset, "train", data_dir)
    images, labels = drop_classes(images, labels, tc.exclude_classes, tc.dataset)  # train split only
    replicas = Replicas()  # the data-parallel ranks under torchrun, else just this process; rank 0 alone writes run_dir
    quiet = quiet or not replicas.is_main
    cuda_rng = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda_rng), replicas.output_dir(run_dir) as run_dir:
        torch.manual_seed(tc.seed)
        family = spec.family_cls(run.model, info)  # built on the CPU: the same initial weights on every device
        family.to(device)  # before loading a checkpoint, whose optimizer state then lands on the device too
        speed.check_applicable(family, tc.precision, tc.channels_last, tc.fused_optimizer)
        batcher = Batcher(images, labels, batch_size=tc.batch_size, seed=tc.seed, scale=family.data_scale)
        generator = torch.Generator().manual_seed(tc.seed)
        monitor = DivergenceMonitor()
        step = 0
        if resume:
            try:
                family.load_state_dict(ckpt_state["family"])
                generator.set_state(ckpt_state["rng"]["generator"])
                torch.set_rng_state(ckpt_state["rng"]["torch"])
                if device.type == "cuda" and "cuda" in ckpt_state["rng"]:  # dropout's stream on the GPU
                    torch.cuda.set_rng_state(ckpt_state["rng"]["cuda"], device)
                batcher.load_state_dict(ckpt_meta["batcher"])
                monitor.load_state_dict(ckpt_meta["monitor"])
                step = int(ckpt_meta["step"])
            except (KeyError, RuntimeError, TypeError, ValueError) as e:
                first = str(e).splitlines()[0] if str(e) else type(e).__name__
                raise CheckpointError(f"the latest checkpoint of {run_dir} does not match its config.yaml ({first})") from None
            truncate_metrics(run_dir, step)
        else:
            atomic_write_text(run_dir / "metrics.jsonl", "")  # creates run_dir; an unwritable --out is one clear line
        speed.prepare(family, channels_last=tc.channels_last, fused_optimizer=tc.fused_optimizer)  # after a checkpoint: its state gets the layout too
        write_config(run_dir, run, device)
        loop = _Loop(run, run_dir, family, batcher, generator, monitor, data_dir, quiet, evaluate, clock or StepClock(), device)
        if resume:
            loop.window.update({k: list(v) for k, v in ckpt_meta.get("log_window", {}).items()})
            loop.best_fid = ckpt_meta.get("best_fid")
            loop.seconds_before = float(ckpt_meta.get("train_seconds", 0.0))
            loop.guard.load_state_dict(ckpt_meta)
        result = loop.execute(step, stop_at)
    if (not result.interrupted or result.budget_reached) and replicas.is_main:
        from genlab.publish.card import write_card  # late import: the card reads runs through genlab.train

        write_card(run_dir)
    return result


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Loop:
    def __init__(self, run, run_dir, family, batcher, generator, monitor, data_dir, quiet, evaluate, clock, device) -> None:
        self.run, self.run_dir, self.family, self.clock, self.device = run, run_dir, family, clock, device
        self.batcher, self.generator, self.monitor = batcher, generator, monitor
        self.data_dir, self.quiet, self.evaluate = data_dir, quiet, evaluate
        self.best_fid: float | None = None
        tc = run.train
        self.k = max(1, int(family.batches_per_step))  # e.g. a GAN's n_critic real batches
        spe = max(1, batcher.steps_per_epoch // self.k)  # training steps per pass over the data
        self.steps_per_epoch = spe
        self.total = tc.steps or tc.epochs * spe
        self.sample_every = tc.sample_every or spe
        self.checkpoint_every = tc.checkpoint_every or spe
        self.stop_requested = False
        self.window: dict[str, list[float]] = defaultdict(list)  # metrics since the last log line
        self.png = png_options(tc, run.to_dict())  # visible/invisible marks, provenance, signing key
        self.guard = NonfiniteGuard(self)  # nonfinite=skip|rollback (genlab.train.faults)
        self.seconds_before = 0.0  # training wall time of earlier sessions of this run (from the checkpoint)
        self.start = time.perf_counter()
        self.budget_reached = False
        self.replicas = Replicas()  # runs each step data-parallel when torch.distributed is initialised

    def execute(self, step: int, stop_at: int | None) -> TrainResult:
        tc = self.run.train
        window = self.window
        last: dict[str, float] = {}
        start = self.start = time.perf_counter()
        window_start, window_images = start, 0
        restore = self._catch_sigint()
        spent = self.run.train.max_minutes and self.seconds_before >= self.run.train.max_minutes * 60
        self.budget_reached = bool(spent)  # a resumed run whose budget is already used takes no step
        try:
            with TrainingProgress(self.run.family, self.total, step, self.quiet) as progress:
                while step < self.total and not self.replicas.any(self.stop_requested) and not self.budget_reached:
                    wall0, cpu0 = time.perf_counter(), time.process_time()
                    x, y = self._next_batches()
                    undo = copy.deepcopy(self.family.state_dict()) if self.guard.undoes_steps else None
                    with speed.step_context(tc.precision, self.device.type):
                        metrics = self.replicas.train_step(self.family, x, y, self.generator)
                    carry_on = self.guard.after_step(metrics, step, last, undo) if undo is not None else None
                    self.clock.wall += time.perf_counter() - wall0
                    self.clock.cpu += time.process_time() - cpu0
                    if carry_on is not None:  # a bad step was undone (and maybe the run rolled back)
                        step, last = carry_on
                        continue
                    step += 1
                    self._check_finite(metrics, step)
                    for k, v in metrics.items():
                        window[k].append(v)
                    window_images += x.shape[0]
                    for message in self.monitor.update(metrics) if self.family.monitor_losses else ():
                        stderr_console.print(f"[yellow]warning (step {step}): {message}")
                        append_metrics(self.run_dir, {"step": step, "warning": message})
                    now = time.perf_counter()
                    rate = window_images / max(now - window_start, 1e-9)
                    progress.update(step, metrics, rate)
                    if step % tc.log_every == 0 or step == self.total:
                        last = {k: sum(v) / len(v) for k, v in window.items()}
                        record = {"step": step, "epoch": step / self.steps_per_epoch, **last}
                        append_metrics(self.run_dir, {**record, "images_per_s": rate, "elapsed_s": now - start, "peak_rss_mb": peak_rss_mb()})
                        window.clear()
                        window_start, window_images = now, 0
                    if step % self.sample_every == 0 or step == self.total:
                        self._sample_and_evaluate(step)
                        progress.milestone(step, metrics, rate)
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
        return TrainResult(self.run_dir, step, self.total, elapsed, interrupted, last, self.family.num_parameters(), self.budget_reached)

    def _over_budget(self, step: int, last: dict[str, float]) -> bool:
        """``max_minutes``: stop once the run's training time (all sessions) reaches the budget.

        The step count at which that happens depends on the machine's speed, so a budgeted run
        is reproducible from its config only up to where it stopped; ``metrics.jsonl`` records it.
        """
        budget = self.run.train.max_minutes
        if not budget or step >= self.total or not self.replicas.any(self.train_seconds() >= budget * 60):
            return False
        self.budget_reached = True
        append_metrics(self.run_dir, {"step": step, "stopped": "max_minutes", "train_seconds": self.train_seconds()})
        stderr_console.print(f"[yellow]time budget of {budget:g} min reached at step {step}: checkpointing and stopping")
        if step % self.checkpoint_every:
            self._checkpoint(step, last)
        return True

    def train_seconds(self) -> float:
        """Training wall time of this run so far, over every session."""
        return self.seconds_before + time.perf_counter() - self.start

    def _next_batches(self):
        """One batch, or k consecutive ones concatenated when the family asks for k per step, on the device."""
        if self.k == 1:
            x, y = self.batcher.next_batch()
        else:
            xs, ys = zip(*(self.batcher.next_batch() for _ in range(self.k)))
            x, y = torch.cat(xs), None if ys[0] is None else torch.cat(ys)
        return speed.batch_layout(x.to(self.device), self.run.train.channels_last), None if y is None else y.to(self.device)

    def _check_finite(self, metrics: dict[str, float], step: int) -> None:
        bad = {k: v for k, v in metrics.items() if not math.isfinite(v)}
        if bad:
            raise TrainingDiverged(
                f"{', '.join(f'{k}={v}' for k, v in bad.items())} at step {step}: training diverged; "
                f"resume from the last checkpoint in {self.run_dir} with a lower lr (--set lr=...)"
            )

    def _sample_and_evaluate(self, step: int) -> None:
        tc = self.run.train
        n = tc.grid_size
        labels = grid_labels(n, self.family.info.num_classes) if self.family.conditional else None
        images = self.family.sample(n, labels=labels, generator=torch.Generator().manual_seed(tc.seed + GRID_SEED_OFFSET))
        fields = {
            "step": step,
            "checkpoint_hash": weights_hash(self.family.state_dict()["nets"]),
            "seed": tc.seed + GRID_SEED_OFFSET,
            "sampler": {"n": n, "labels": None if labels is None else "grid"},
        }
        save_grid(self.run_dir / "samples" / f"step_{step:08d}.png", to_uint8(images), **{**self.png, "provenance": {**self.png["provenance"], **fields}})
        held_out = self._evaluate()
        if held_out:
            append_metrics(self.run_dir, {"step": step, **held_out})

    def _evaluate(self) -> dict[str, float]:
        tc = self.run.train
        images, labels, _ = load_dataset(tc.dataset, "test", self.data_dir)
        totals: dict[str, float] = defaultdict(float)
        for x, y in iterate_batches(images, labels, tc.eval_batch_size, scale=self.family.data_scale):
            sums = self.family.evaluate(x.to(self.device), None if y is None else y.to(self.device))
            if not sums:
                return {}
            for k, v in sums.items():
                totals[k] += v
        means = self.family.summarise_evaluation({k: v / images.shape[0] for k, v in totals.items()})
        return {f"test_{k}": v for k, v in means.items()}

    def _evaluate_and_keep_best(self, step: int, last: dict[str, float]) -> None:
        tc = self.run.train
        n, info = tc.eval_samples, self.family.info
        labels = torch.arange(n) % info.num_classes if self.family.conditional else None
        images = sample_in_batches(self.family, n, labels=labels, seed=tc.seed + EVAL_SEED_OFFSET)
        result = self.evaluate(images, None if labels is None else labels.numpy())
        scalars = {f"eval_{k}": v for k, v in result.items() if isinstance(v, (int, float))}
        if "class_histogram" in result:  # for collapse diagnosis: which classes the samples fall in
            scalars["eval_class_histogram"] = [int(c) for c in result["class_histogram"]]
        append_metrics(self.run_dir, {"step": step, **scalars})
        if self.best_fid is None or result["fid"] < self.best_fid:
            self.best_fid = float(result["fid"])
            self._checkpoint(step, last, name="best")

    def _checkpoint(self, step: int, last: dict[str, float], name: str | None = None) -> None:
        rng = {"generator": self.generator.get_state(), "torch": torch.get_rng_state()}
        if self.device.type == "cuda":  # dropout draws from the GPU's own stream
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        state = {"family": self.family.state_dict(), "rng": rng}
        meta: dict[str, Any] = {
            "family": self.run.family,
            "step": step,
            "epoch": step / self.steps_per_epoch,
            "batcher": self.batcher.state_dict(),
            "data_info": dataclasses.asdict(self.family.info),
            "monitor": self.monitor.state_dict(),
            "config": self.run.to_dict(),
            "versions": versions(self.device),
            "metrics": last,
            "log_window": dict(self.window),
            "best_fid": self.best_fid,
            "train_seconds": self.train_seconds(),
            **self.replicas.checkpoint_meta(self.family),  # every rank's weights hash, under torchrun
            **self.guard.state_dict(),
        }
        folder = self.run_dir / "checkpoints"
        save_checkpoint(folder / (name or f"step_{step:08d}"), state, meta)
        if name is None:
            prune_checkpoints(folder, self.run.train.keep_last)

    def _catch_sigint(self):
        """Ctrl-C finishes the current step, checkpoints and stops (a second one aborts)."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum, frame):
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True
            stderr_console.print("[yellow]interrupt: finishing this step and saving a checkpoint (Ctrl-C again to abort)")

        signal.signal(signal.SIGINT, handler)
        return lambda: signal.signal(signal.SIGINT, previous)
