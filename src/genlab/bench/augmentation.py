"""Does generated data help a rare class? The reusable pieces of ``benchmarks/augmentation.py``.

One class of a labelled image set is cut to a small fraction of its images (seeded); the
rare class is then brought back to the median class count by oversampling, by classic
augmentation (random affine maps) or by a generative model's samples, and a small CNN
trained for a fixed number of optimiser steps on each version is scored on the full test
set: the rare class's recall and precision, and overall accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genlab.errors import ConfigError

__all__ = [
    "ClassifierSettings",
    "SmallCNN",
    "augment_affine",
    "label_following",
    "median_count",
    "oversample_indices",
    "reduce_class",
    "score_classifier",
    "train_classifier",
]


def reduce_class(
    images: np.ndarray, labels: np.ndarray, rare: int, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The data with class ``rare`` cut to ``round(fraction * count)`` images (at least 1), chosen by ``seed``.

    Every other class is kept whole and in its order; the kept rare images keep their order too.
    Shapes: images (N, C, H, W), labels (N,) -> (M, C, H, W), (M,).
    """
    if not (isinstance(fraction, float | int) and 0.0 < fraction <= 1.0):
        raise ConfigError(f"the rare fraction must be in (0, 1], got {fraction!r}")
    present = np.unique(labels).tolist()
    if rare not in present:
        raise ConfigError(f"class {rare!r} is not in the data, whose classes are {present}")
    where = np.flatnonzero(labels == rare)
    keep_n = max(1, round(fraction * len(where)))
    rng = np.random.default_rng(seed)
    kept = np.sort(rng.choice(where, size=keep_n, replace=False))
    mask = labels != rare
    mask[kept] = True
    return images[mask], labels[mask]


def median_count(labels: np.ndarray, rare: int) -> int:
    """The median image count of the classes other than ``rare`` (rounded down): the rare class's target."""
    others = [int((labels == k).sum()) for k in np.unique(labels) if k != rare]
    if not others:
        raise ConfigError("the data has no class besides the rare one")
    return int(np.median(others))


def oversample_indices(n: int, target: int, generator: torch.Generator) -> torch.Tensor:
    """``target`` indices into ``n`` images: each repeated ``target // n`` times, plus ``target % n``
    distinct ones drawn by ``generator``, so every image appears ``target // n`` or one more times."""
    if n < 1 or target < n:
        raise ConfigError(f"oversampling needs 1 <= n <= target, got n={n}, target={target}")
    whole = torch.arange(n).repeat(target // n)
    extra = torch.randperm(n, generator=generator)[: target % n]
    return torch.cat([whole, extra])


def augment_affine(
    images: np.ndarray,
    n: int,
    generator: torch.Generator,
    *,
    max_rotation: float = 15.0,
    max_shift: float = 2.0,
    scale: tuple[float, float] = (0.9, 1.1),
) -> np.ndarray:
    """``n`` random affine copies of random ``images``: rotation in +-``max_rotation`` degrees, shift
    in +-``max_shift`` pixels, zoom in ``scale``; bilinear, zero (black) outside the image.

    Shapes: uint8 (M, C, H, W) -> uint8 (n, C, H, W).
    """
    m, c, h, w = images.shape
    pick = torch.randint(0, m, (n,), generator=generator)
    angle = (torch.rand(n, generator=generator, dtype=torch.float64) * 2 - 1) * math.radians(max_rotation)
    zoom = scale[0] + torch.rand(n, generator=generator, dtype=torch.float64) * (scale[1] - scale[0])
    shift = (torch.rand(n, 2, generator=generator, dtype=torch.float64) * 2 - 1) * max_shift
    # affine_grid maps output coordinates in [-1, 1] to input ones: the inverse of the zoom and rotation.
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [
            torch.stack([cos, -sin, -shift[:, 0] * 2 / w], 1),
            torch.stack([sin, cos, -shift[:, 1] * 2 / h], 1),
        ],
        1,
    ).float()  # (n, 2, 3)
    x = torch.from_numpy(np.array(images[pick.numpy()], dtype=np.float32))  # (n, C, H, W) in [0, 255]
    grid = F.affine_grid(theta, [n, c, h, w], align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8).numpy()


class SmallCNN(nn.Module):
    """The classifier under test: two 3x3 conv blocks (16, 32 channels, ReLU, 2x2 max-pool), a
    64-unit hidden layer and a linear read-out; 105,866 parameters for 28x28 grey images and 10 classes.

    Shapes: (B, C, H, W) in [-1, 1] -> logits (B, K).
    """

    def __init__(self, channels: int, side: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Linear(32 * (side // 4) ** 2, 64), nn.ReLU(), nn.Linear(64, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))  # (B, 32, H/4, W/4) -> (B, 32 H W / 16) -> (B, K)


@dataclass(frozen=True)
class ClassifierSettings:
    """The classifier's fixed training budget, identical across arms."""

    steps: int = 1500
    batch_size: int = 64
    lr: float = 1e-3


def _as_float(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(images, dtype=np.float32)) / 127.5 - 1.0  # a copy: the input may be read-only


def train_classifier(
    images: np.ndarray, labels: np.ndarray, num_classes: int, settings: ClassifierSettings, seed: int
) -> SmallCNN:
    """A :class:`SmallCNN` trained by Adam on minibatches drawn uniformly with replacement from
    (images, labels) for ``settings.steps`` steps; ``seed`` fixes the initial weights and the batches."""
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # the weights' initialisation without touching the caller's RNG
        torch.manual_seed(seed)
        model = SmallCNN(images.shape[1], images.shape[2], num_classes)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    x_all, y_all = _as_float(images), torch.from_numpy(np.asarray(labels, dtype=np.int64))
    model.train()
    for _ in range(settings.steps):
        idx = torch.randint(0, len(y_all), (settings.batch_size,), generator=generator)
        loss = F.cross_entropy(model(x_all[idx]), y_all[idx])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return model.eval()


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The class the model gives each image. Shapes: uint8 (N, C, H, W) -> int64 (N,)."""
    out = [model(_as_float(images[i : i + batch_size])).argmax(1) for i in range(0, len(images), batch_size)]
    return torch.cat(out).numpy()


def score_predictions(predicted: np.ndarray, labels: np.ndarray, rare: int) -> dict[str, float]:
    """Rare-class recall and precision, overall accuracy, and the mean recall of the other classes."""
    is_rare, said_rare = labels == rare, predicted == rare
    hits = float((is_rare & said_rare).sum())
    others = [float((predicted[labels == k] == k).mean()) for k in np.unique(labels) if k != rare]
    return {
        "rare_recall": hits / max(1, int(is_rare.sum())),
        "rare_precision": hits / int(said_rare.sum()) if said_rare.any() else 0.0,
        "accuracy": float((predicted == labels).mean()),
        "other_recall": float(np.mean(others)),
    }


def score_classifier(model: nn.Module, images: np.ndarray, labels: np.ndarray, rare: int) -> dict[str, float]:
    """:func:`score_predictions` of ``model`` on a test set."""
    return score_predictions(predict(model, images), labels, rare)


def label_following(probs: np.ndarray, rare: int) -> float:
    """The share of images a reference classifier (probabilities (N, K)) reads as class ``rare``."""
    return float((probs.argmax(1) == rare).mean()) if len(probs) else 0.0
