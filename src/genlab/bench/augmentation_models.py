"""The generative arms of the rare-class benchmark: train a conditional model on the reduced set, sample a class.

Each model trains through genlab's own trainer on the reduced set written as an ``.npz``
(``x_train``/``y_train`` = the reduced training set, ``x_test``/``y_test`` = a slice of the
real test set, so that no training image is held out), exactly what ``genlab train FAMILY
--data reduced.npz`` does. A finished run leaves ``augmentation.json`` in its folder with its
steps and wall time; a later call finds it and reuses the run instead of retraining.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.atomic import atomic_write_bytes, atomic_write_text
from genlab.config import TrainConfig
from genlab.errors import CheckpointError
from genlab.files import MAX_JSON_BYTES, read_json
from genlab.models.registry import get_family
from genlab.runs import RunConfig, read_metrics
from genlab.runs.loading import load_family, sample_in_batches
from genlab.training import train

DONE = "augmentation.json"  # written into a run folder once its training finished


@dataclass(frozen=True)
class GeneratorSpec:
    """One generative arm: a registered conditional family, its preset and its training budget."""

    family: str
    preset: str = "small"
    steps: int = 1000
    model: dict[str, Any] = field(default_factory=dict)  # model-config keys over the preset
    sampling: dict[str, Any] = field(default_factory=dict)  # sampling-time overrides (a diffusion sampler's steps)

    def model_config(self, tiny: bool) -> Any:
        spec = get_family(self.family)
        values = dict(spec.tiny) if tiny else dict(spec.presets.get(self.preset, {}))
        return spec.config_cls(**(values | self.model))


def write_reduced_npz(
    path: Path, images: np.ndarray, labels: np.ndarray, test_images: np.ndarray, test_labels: np.ndarray
) -> Path:
    """The reduced set as an ``.npz`` genlab reads as own data (train and test splits both given), atomically.

    Shapes: uint8 (N, 1, H, W) images are stored as (N, H, W); labels int64 (N,).
    """
    buffer = io.BytesIO()
    np.savez(
        buffer,
        x_train=np.ascontiguousarray(images[:, 0]),
        y_train=np.asarray(labels, dtype=np.int64),
        x_test=np.ascontiguousarray(test_images[:, 0]),
        y_test=np.asarray(test_labels, dtype=np.int64),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def train_generator(
    gen: GeneratorSpec,
    data: Path,
    run_dir: Path,
    *,
    seed: int,
    batch_size: int,
    max_minutes: float,
    tiny: bool = False,
) -> dict[str, Any]:
    """Train ``gen`` on the ``.npz`` ``data`` into ``run_dir`` (or reuse the finished run there).

    Returns the run's record: family, steps asked and reached, training wall time (the run's own
    ``elapsed_s``), parameters, whether the ``max_minutes`` cap stopped it, and its model config.
    """
    done = run_dir / DONE
    if done.is_file():
        record = read_json(done, MAX_JSON_BYTES, "augmentation run record", CheckpointError)
        same = (record.get("data"), record.get("steps_asked"), record.get("batch_size"))
        if same == (str(data), gen.steps, batch_size):
            return record | {"reused": True}
    tc = TrainConfig(
        dataset=str(data),
        seed=seed,
        batch_size=batch_size,
        steps=gen.steps,
        log_every=max(1, gen.steps // 20),
        sample_every=gen.steps,
        checkpoint_every=gen.steps,
        keep_last=1,
        grid_size=100,
        max_minutes=max_minutes,
    )
    run = RunConfig(gen.family, gen.model_config(tiny), tc)
    result = train(run, run_dir, quiet=True)
    if not result.complete:
        raise CheckpointError(f"training {gen.family} in {run_dir} was interrupted at step {result.step}")
    elapsed = [r["elapsed_s"] for r in read_metrics(run_dir) if "elapsed_s" in r]
    record = {
        "family": gen.family,
        "preset": "tiny" if tiny else gen.preset,
        "data": str(data),
        "steps_asked": gen.steps,
        "steps": result.step,
        "batch_size": batch_size,
        "train_s": max(elapsed) if elapsed else result.wall_seconds,
        "capped": result.budget_reached,
        "params": result.num_parameters,
        "model": run.to_dict()["model"],
    }
    atomic_write_text(done, json.dumps(record, indent=1, default=str))
    return record | {"reused": False}


def sample_class(gen: GeneratorSpec, run_dir: Path, n: int, label: int, seed: int) -> tuple[np.ndarray, float]:
    """``n`` samples of class ``label`` from the trained run and the seconds they took.

    Shapes: -> uint8 (n, C, H, W).
    """
    family, _, _ = load_family(run_dir, "latest", gen.sampling or None)
    start = time.perf_counter()
    with torch.inference_mode():
        images = sample_in_batches(family, n, labels=torch.full((n,), label, dtype=torch.long), seed=seed)
    return images, time.perf_counter() - start
