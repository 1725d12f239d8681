"""Train any registered GAN on 2-D toy mixtures (ring of 8, grid of 25) and score its modes.

Points are fed to the family as (B, 2, 1, 1) "images". With G's default tanh output they
are divided by ``scale`` to sit inside its range (samples are scaled back before
scoring); with ``output=identity`` they are used as they are. Fresh points are drawn
from the mixture for every batch (the data set is the distribution itself).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from genlab.config import apply_overrides
from genlab.data import DataInfo
from genlab.data.toy import grid25, grid25_centres, ring8, ring8_centres
from genlab.errors import ConfigError
from genlab.eval.modes import mode_coverage
from genlab.models.registry import get_family


@dataclass(frozen=True)
class ToyData:
    sample: Callable[[int, torch.Generator], torch.Tensor]  # (n, 2) points
    centres: np.ndarray  # (K, 2)
    std: float
    scale: float  # points / scale lie in about [-0.8, 0.8]


TOY_DATA = {
    "ring8": ToyData(ring8, ring8_centres().numpy(), 0.02, 2.5),
    "grid25": ToyData(grid25, grid25_centres().numpy(), 0.05, 5.0),
}
INFO = DataInfo(channels=2, height=1, width=1, num_classes=0)


def toy_data(name: str) -> ToyData:
    if name not in TOY_DATA:
        raise ConfigError(f"unknown toy data set {name!r}; known: {', '.join(TOY_DATA)}")
    return TOY_DATA[name]


def train_toy_gan(
    dataset: str,
    overrides: dict[str, Any],
    *,
    family: str = "gan",
    seed: int = 0,
    steps: int = 5000,
    batch_size: int = 256,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
):
    """Train ``family`` (config defaults <- ``overrides``) for ``steps`` steps; returns (family, seconds)."""
    data, spec = toy_data(dataset), get_family(family)
    (cfg,) = apply_overrides([spec.config_cls()], overrides)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = spec.family_cls(cfg, INFO)
        g = torch.Generator().manual_seed(seed)
        k = model.batches_per_step
        start = time.perf_counter()
        scale = _scale(model, data)
        for step in range(1, steps + 1):
            x = data.sample(batch_size * k, g) / scale
            metrics = model.train_step(x.view(-1, 2, 1, 1), None, g)
            if on_step is not None:
                on_step(step, metrics)
    return model, time.perf_counter() - start


def toy_samples(model, dataset: str, n: int = 2500, seed: int = 0) -> np.ndarray:
    """``n`` generated points (n, 2) in data units."""
    with torch.random.fork_rng(devices=[]):
        x = model.sample(n, generator=torch.Generator().manual_seed(seed))
    return x.view(n, 2).numpy().astype(np.float64) * _scale(model, toy_data(dataset))


def _scale(model, data: ToyData) -> float:
    return data.scale if model.bounded_output else 1.0


def score_toy(model, dataset: str, n: int = 2500, seed: int = 0) -> dict[str, Any]:
    """VEEGAN/PacGAN mode statistics of ``n`` samples (see genlab.eval.modes)."""
    data = toy_data(dataset)
    return mode_coverage(toy_samples(model, dataset, n, seed), data.centres, data.std)
