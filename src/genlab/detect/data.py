"""The detector's data: where images come from, the edits applied before testing, the splits.

An image source is ``mnist-train``, ``mnist-test`` or a samples ``.npz`` (from
``genlab sample``); everything is uint8 (N, C, H, W) until a detector reads it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genlab.data import load_dataset, load_samples
from genlab.errors import ConfigError, DataError
from genlab.marks import attacks

REAL_SOURCES = ("mnist-train", "mnist-test")
ATTACK_RE = re.compile(r"^(?:(none)|jpeg(\d+)|resize([0-9.]+)|blur([0-9.]+))$")
ATTACK_HELP = (
    "none, jpegQ (Q = 1..95, e.g. jpeg70), resizeF (scale by F in (0, 1) and back, e.g. resize0.5), blurR "
    "(Gaussian sigma R px, e.g. blur1)"
)


def load_images(source: str | Path, data_dir: str | Path | None = None) -> np.ndarray:
    """uint8 (N, C, H, W) images of ``mnist-train``, ``mnist-test`` or a samples .npz."""
    name = str(source)
    if name in REAL_SOURCES:
        return np.ascontiguousarray(load_dataset("mnist", name.split("-")[1], data_dir)[0])
    if not name.endswith(".npz"):
        raise DataError(f"image source must be {' or '.join(REAL_SOURCES)} or a samples .npz, got {name!r}")
    return load_samples(Path(name))[0]


def load_many(sources: list[str] | list[Path], data_dir: str | Path | None = None) -> np.ndarray:
    """The images of several sources, concatenated (they must share one shape)."""
    if not sources:
        raise DataError("give at least one image source")
    sets = [load_images(s, data_dir) for s in sources]
    shapes = {s.shape[1:] for s in sets}
    if len(shapes) > 1:
        raise DataError(f"the image sources have different shapes: {', '.join(str(s) for s in sorted(shapes))}")
    return np.concatenate(sets)


def parse_attack(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The edit named ``name`` (see ATTACK_HELP) as a function on one uint8 (H, W) or (H, W, 3) image."""
    m = ATTACK_RE.match(name)
    if m is None:
        raise ConfigError(f"unknown attack {name!r}; use {ATTACK_HELP}")
    _, quality, factor, radius = m.groups()
    if quality is not None:
        if not 1 <= int(quality) <= 95:
            raise ConfigError(f"JPEG quality must be in 1..95, got {quality}")
        return lambda x: attacks.jpeg(x, int(quality))
    if factor is not None:
        if not 0.0 < float(factor) < 1.0:
            raise ConfigError(f"resize factor must be in (0, 1), got {factor}")
        return lambda x: attacks.resize(x, float(factor))
    if radius is not None:
        if not float(radius) > 0.0:
            raise ConfigError(f"blur radius must be > 0, got {radius}")
        return lambda x: attacks.blur(x, float(radius))
    return lambda x: x


def apply_attack(images: np.ndarray, name: str) -> np.ndarray:
    """Apply the edit ``name`` to every image. Shapes: uint8 (N, C, H, W) -> the same."""
    edit = parse_attack(name)
    if name == "none":
        return images
    # (N, C, H, W) -> (N, H, W) for grey or (N, H, W, 3) for colour: the layouts Pillow reads.
    pixels = images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)
    edited = np.stack([edit(np.ascontiguousarray(p)) for p in pixels])
    return edited[:, None] if images.shape[1] == 1 else edited.transpose(0, 3, 1, 2).copy()


@dataclass(frozen=True)
class TrainingSplit:
    """Real images for fitting, real images held out for the 1 % FPR threshold, and the fakes."""

    real_fit: np.ndarray
    real_holdout: np.ndarray
    fake: np.ndarray


def split_training(real: np.ndarray, fake: np.ndarray, *, seed: int, holdout: int = 2000) -> TrainingSplit:
    """Shuffle the real images (seeded), take as many as there are fakes for fitting, hold out up to ``holdout`` more.

    With too few real images the fit keeps 80 % and the rest is held out, so both parts exist.
    """
    if real.shape[1:] != fake.shape[1:]:
        raise DataError(f"real images are {real.shape[1:]} but generated ones are {fake.shape[1:]}: they must match")
    if real.shape[0] < 2 or fake.shape[0] < 2:
        raise DataError(
            f"training needs at least 2 real and 2 generated images, got {real.shape[0]} and {fake.shape[0]}"
        )
    order = np.random.default_rng(seed).permutation(real.shape[0])
    n_fit = min(fake.shape[0], int(0.8 * real.shape[0]))
    held = order[n_fit : n_fit + holdout]
    return TrainingSplit(real[np.sort(order[:n_fit])], real[np.sort(held)], fake)


def labelled(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stack real (label 0) and generated (label 1) images. Shapes: -> (N_r + N_f, C, H, W), (N_r + N_f,)."""
    if real.shape[1:] != fake.shape[1:]:
        raise DataError(f"real images are {real.shape[1:]} but generated ones are {fake.shape[1:]}: they must match")
    labels = np.concatenate([np.zeros(real.shape[0], np.int64), np.ones(fake.shape[0], np.int64)])
    return np.concatenate([real, fake]), labels
