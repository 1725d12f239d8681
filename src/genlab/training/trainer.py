"""The one trainer: it calls a family's ``train_step`` and knows nothing else about it.

Seeded and resumable bit-for-bit: the :class:`~genlab.training.state.TrainingState` (model,
optimizers, both random streams, batcher position, monitor, ...) goes into each checkpoint.
The caller's global RNG is left untouched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.atomic import atomic_write_text
from genlab.data import Batcher, load_dataset, source_record
from genlab.errors import ConfigError, GenlabError
from genlab.files import MAX_CONFIG_BYTES, read_json
from genlab.models.registry import get_family
from genlab.runs import RunConfig, read_config, write_config
from genlab.runs.checkpoint import step_checkpoints
from genlab.runs.device import resolve_device, resolve_device_for
from genlab.runs.lock import run_lock
from genlab.runs.rundir import load_resumable_checkpoint, remove_write_debris, truncate_metrics
from genlab.training import speed
from genlab.training.distributed import Replicas, rank_device
from genlab.training.loop import Evaluate, Loop, LoopSettings, StepClock, TrainResult
from genlab.training.state import TrainingState
from genlab.training.trackers import NoTracker, check_tracker, make_tracker

__all__ = ["StepClock", "TrainResult", "drop_classes", "train"]


def drop_classes(
    images: np.ndarray, labels: np.ndarray, classes: tuple[int, ...], dataset: str
) -> tuple[np.ndarray, np.ndarray]:
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
        raise ConfigError(
            f"exclude_classes {list(classes)} removes every class of {dataset}: nothing left to train on"
        )
    return images[keep], labels[keep]


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
    cpu, cuda, cuda:N, mps or auto (see genlab.runs.device); the noise is drawn on the CPU
    whatever the device, and checkpoints hold CPU tensors, so a run can resume on another.
    The model card is not written here: the caller does that once ``result.complete``
    (``genlab.api.train`` and the CLI do). The main rank holds ``run_dir``'s lock
    (:func:`genlab.runs.lock.run_lock`) throughout: a second trainer of the same run stops
    in one line instead of corrupting it.
    """
    resolve_device(device)  # a bad name fails before anything is read or written
    run_dir = Path(run_dir)
    main_rank = not (torch.distributed.is_available() and torch.distributed.is_initialized())
    main_rank = main_rank or torch.distributed.get_rank() == 0
    with run_lock(run_dir, "genlab train") if main_rank else contextlib.nullcontext():
        return _train(run, run_dir, resume, data_dir, quiet, stop_at, evaluate, clock, device)


def _train(
    run: RunConfig | None,
    run_dir: Path,
    resume: bool,
    data_dir: str | Path | None,
    quiet: bool,
    stop_at: int | None,
    evaluate: Evaluate | None,
    clock: StepClock | None,
    requested: str | torch.device,
) -> TrainResult:
    """:func:`train` once the run directory is locked."""
    # 1. What to train: a new config, or the run found in run_dir and its newest good checkpoint.
    run, checkpoint = _what_to_train(run, run_dir, resume)
    run.train.check()
    check_tracker(run.train.tracker)
    if run.train.eval_every and evaluate is None:
        raise ConfigError(
            "eval_every is set but no evaluator was given (the CLI builds one from the shipped extractor)"
        )
    spec = get_family(run.family)
    device = rank_device(
        resolve_device_for(requested, spec.family_cls.device_types)
    )  # auto: the CPU for NumPy families
    tc = run.train
    # 2. The data (train split, minus any excluded classes).
    images, labels, info = load_dataset(tc.dataset, "train", data_dir, tc.data_options())
    images, labels = drop_classes(images, labels, tc.exclude_classes, tc.dataset)
    replicas = (
        Replicas()
    )  # the data-parallel ranks under torchrun, else just this process; rank 0 alone writes run_dir
    quiet = quiet or not replicas.is_main
    cuda_rng = (
        [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    )
    with torch.random.fork_rng(devices=cuda_rng), replicas.output_dir(run_dir) as run_dir:
        # 3. The training state, fresh from the seed, then the checkpoint's when resuming.
        torch.manual_seed(tc.seed)
        family = spec.family_cls(run.model, info)  # built on the CPU: the same initial weights on every device
        if family.conditional and info.num_classes < 1:
            fields = {f.name for f in dataclasses.fields(run.model)}
            switch = next((f for f in ("class_conditional", "conditional") if f in fields), None)
            off = f"train it unconditionally (--set {switch}=false)" if switch else "train an unconditional family"
            raise ConfigError(
                f"{run.family} is conditional and needs class labels, but {tc.dataset} has none: put the images in "
                f"class folders (--labels folders), or {off}"
            )
        family.to(device)  # before loading a checkpoint, whose optimizer state then lands on the device too
        speed.check_applicable(family, tc.precision, tc.channels_last, tc.fused_optimizer)
        batcher = Batcher(images, labels, batch_size=tc.batch_size, seed=tc.seed, scale=family.data_scale)
        state = TrainingState(family, torch.Generator().manual_seed(tc.seed), batcher, device)
        settings = LoopSettings(run, run_dir, device, data_dir, quiet, evaluate, clock)
        loop = Loop(settings, state)  # checks the fault policy against the family before anything is written
        step = 0
        if checkpoint is not None:
            step = state.load_state_dict(*checkpoint, where=f"the latest checkpoint of {run_dir}")
            truncate_metrics(run_dir, step)
        else:
            atomic_write_text(run_dir / "metrics.jsonl", "")  # creates run_dir; an unwritable --out is one clear line
        # 4. Speed options after any checkpoint (its optimiser state gets the layout too), then train.
        speed.prepare(family, channels_last=tc.channels_last, fused_optimizer=tc.fused_optimizer)
        write_config(run_dir, run, device)
        record_data(run_dir, tc, resumed=checkpoint is not None)
        # 5. The tracker (train.tracker), fed every record metrics.jsonl gets; rank 0 alone writes one.
        settings.tracker = make_tracker(tc.tracker, run_dir, step, run.to_dict()) if replicas.is_main else NoTracker()
        try:
            return loop.execute(step, stop_at)
        finally:
            settings.tracker.close()


def record_data(run_dir: Path, tc: Any, resumed: bool) -> None:
    """``data.json``: what a path source was prepared into (the model card quotes it); a resumed run whose data
    changed since it started gets a warning."""
    record = source_record(tc.dataset, tc.data_options())
    if record is None:
        return
    path = run_dir / "data.json"
    if resumed and path.is_file():
        try:
            before = read_json(path, MAX_CONFIG_BYTES, "run data record").get("arrays_sha256")
        except (GenlabError, AttributeError):
            before = None  # unreadable or not an object: a record to rewrite, not a reason to stop
        if before is not None and before != record["arrays_sha256"]:
            print(f"genlab: warning: the data in {tc.dataset} changed since this run started", file=sys.stderr)
    atomic_write_text(path, json.dumps(record, indent=1) + "\n")


def _what_to_train(
    run: RunConfig | None, run_dir: Path, resume: bool
) -> tuple[RunConfig, tuple[dict[str, Any], dict[str, Any]] | None]:
    """(config, checkpoint to resume from or None). A caller's ``run`` may extend a resumed
    run's steps or epochs; without one, the run's config.yaml is used."""
    if resume and not step_checkpoints(run_dir / "checkpoints") and (run_dir / "config.yaml").is_file():
        # Killed before its first checkpoint: there is nothing to continue, so start again from step 0.
        remove_write_debris(run_dir)
        print(
            f"genlab: warning: {run_dir} has no checkpoint yet; starting it again from step 0 with its config.yaml",
            file=sys.stderr,
        )
        return (read_config(run_dir) if run is None else run), None
    if not resume:
        if run is None:
            raise ConfigError("train() needs a RunConfig, or resume=True with a run directory")
        return run, None
    checkpoint = load_resumable_checkpoint(
        run_dir, warn=lambda line: print(f"genlab: warning: {line}", file=sys.stderr)
    )
    saved = read_config(run_dir)
    return (saved if run is None else run), checkpoint
