"""Rebuild a trained family from a run directory (for sampling, evaluation, reports)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.config import apply_overrides
from genlab.data import DataInfo, to_uint8
from genlab.errors import CheckpointError
from genlab.models.base import Family
from genlab.models.registry import get_family, install_run_loader
from genlab.runs.checkpoint import load_checkpoint
from genlab.runs.device import resolve_device, resolve_device_for
from genlab.runs.rundir import RunConfig, find_checkpoint


def load_family(
    run_dir: str | Path,
    which: str = "latest",
    overrides: dict[str, Any] | None = None,
    *,
    device: str | torch.device = "cpu",
) -> tuple[Family, RunConfig, dict[str, Any]]:
    """The family of a run with the weights of checkpoint ``which``; returns (family, run, meta).

    ``overrides`` change model-config keys that matter at sampling time (a diffusion
    model's sampler, steps, guidance); a change to the architecture fails to load.
    ``device`` (cpu, cuda, cuda:N, mps or auto) is where the family is put; its samples
    come back on that device (``to_uint8`` and ``sample_in_batches`` copy them to the CPU).
    """
    resolve_device(device)  # a bad name fails before the checkpoint is read
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory {run_dir} does not exist")
    state, meta = load_checkpoint(find_checkpoint(run_dir, which))
    try:
        run = RunConfig.from_dict(meta["config"])
        info = DataInfo(**meta["data_info"])
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"checkpoint of {run_dir} lacks its config or data info ({e})") from None
    if overrides:
        (model,) = apply_overrides([run.model], overrides)
        model.check()
        run = RunConfig(run.family, model, run.train)
    family_cls = get_family(run.family).family_cls
    family = family_cls(run.model, info).to(resolve_device_for(device, family_cls.device_types))
    try:
        family.load_state_dict(state["family"], weights_only=True)
    except (KeyError, RuntimeError, TypeError, ValueError) as e:
        first = str(e).splitlines()[0]
        raise CheckpointError(f"checkpoint of {run_dir} does not match its {run.family} config: {first}") from None
    family.train(False)
    return family, run, meta


def grid_labels(n: int, num_classes: int) -> torch.Tensor:
    """Labels for a conditional sample grid: one row per class when n fills whole rows.

    The grid has ceil(sqrt(n)) columns (see make_grid); a 100-image grid of 10 classes is
    ten rows of ten images of one class each. Otherwise labels cycle 0, 1, ..., K-1.
    """
    cols = math.ceil(math.sqrt(n))
    if n % cols == 0 and n // cols == num_classes:
        return torch.arange(n) // cols
    return torch.arange(n) % num_classes


def sample_in_batches(
    family: Family,
    n: int,
    *,
    labels: torch.Tensor | None = None,
    seed: int = 0,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """``n`` samples as uint8 (n, C, H, W), drawn in batches from one seeded generator;
    ``progress`` is told how many are done after each batch (a command's progress bar)."""
    chunks = []
    for batch in iter_sample_batches(family, n, labels=labels, seed=seed, batch_size=batch_size):
        chunks.append(batch)
        if progress is not None:
            progress(sum(len(c) for c in chunks))
    return np.concatenate(chunks)


def iter_sample_batches(
    family: Family, n: int, *, labels: torch.Tensor | None = None, seed: int = 0, batch_size: int = 500
) -> Iterator[np.ndarray]:
    """The batches of :func:`sample_in_batches` (uint8 (b, C, H, W), b <= ``batch_size``) one at a
    time, so ``n`` images need never be in memory at once (``genlab sample`` streams them to disk)."""
    generator = torch.Generator().manual_seed(seed)
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        chunk_labels = None if labels is None else labels[start:stop]
        yield to_uint8(family.sample(stop - start, labels=chunk_labels, generator=generator))


def _load_run_family(path: str, which: str) -> tuple[Family, str]:
    family, run, _ = load_family(path, which)
    return family, run.family


install_run_loader(_load_run_family)
