"""Feature extractors behind one small interface, chosen by name (``--extractor``).

FID, KID and precision/recall/density/coverage depend on the features; report which
extractor a number was measured with. ``digits`` (default) is the classifier genlab
trains and ships; ``shapes`` is its twin for the 64x64 RGB shapes64 images;
``random-projection`` needs no training; ``inception`` is the standard FID network, with
the weights ``genlab eval fetch-weights`` fetched once (or a safetensors file the user names);
``learned`` is a network trained on the reference data itself (``genlab eval train-extractor --data``,
``genlab.eval.learned``).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from genlab.atomic import atomic_write, atomic_write_text
from genlab.data import iterate_batches
from genlab.errors import ConfigError, DataError


class Extractor(Protocol):
    name: str
    feature_dim: int

    def features(self, images: np.ndarray) -> np.ndarray:
        """Shapes: uint8 (N, C, H, W) -> float64 (N, feature_dim)."""
        ...


class ClassifierExtractor(ABC):
    """Base for extractors that are classifiers: features and class probabilities in one pass.

    Subclasses set ``batch_size`` and implement ``forward`` on a float batch in [-1, 1].
    """

    batch_size: int

    @abstractmethod
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Shapes: (B, C, H, W) in [-1, 1] -> features (B, D), logits (B, K)."""

    @torch.no_grad()
    def features_and_probs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Shapes: uint8 (N, H, W) or (N, C, H, W) -> float64 (N, D), (N, K)."""
        feats, probs = [], []
        for x, _ in iterate_batches(images, None, self.batch_size, scale="-1,1"):
            f, logits = self.forward(x)
            feats.append(f.double().numpy())
            probs.append(torch.softmax(logits.double(), 1).numpy())
        return np.concatenate(feats), np.concatenate(probs)

    def features(self, images: np.ndarray) -> np.ndarray:
        return self.features_and_probs(images)[0]

    def probs(self, images: np.ndarray) -> np.ndarray:
        return self.features_and_probs(images)[1]


def save_classifier(model: nn.Module, report: dict, path: Path) -> None:
    """A shipped classifier: weights as safetensors, its training report as JSON beside them (both atomic)."""
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata={"report": json.dumps(report)}))
    atomic_write_text(Path(path).with_suffix(".json"), json.dumps(report, indent=1) + "\n")


def load_classifier(model: nn.Module, path: Path, what: str, retrain: str) -> nn.Module:
    """Load ``path`` into ``model`` (eval mode); a missing or damaged file says how to recreate it."""
    if not Path(path).is_file():
        raise DataError(f"{what} weights {path} are missing; recreate them with `{retrain}`")
    try:
        model.load_state_dict(load_file(str(path)))
    except Exception as e:  # safetensors raises several types for damaged files
        raise DataError(
            f"{what} weights {path} are unreadable ({str(e).splitlines()[0]}); recreate them with `{retrain}`"
        ) from None
    return model.eval()


class RandomProjectionExtractor:
    """Pixels in [0, 1] times a fixed Gaussian matrix (seed 0) scaled by 1/sqrt(D): no training.

    Johnson-Lindenstrauss: distances between images are roughly preserved, so this is a
    pixel-space baseline, blind to what makes a digit a digit.
    """

    name = "random-projection"
    feature_dim = 128

    def features(self, images: np.ndarray) -> np.ndarray:
        x = torch.tensor(images.reshape(images.shape[0], -1), dtype=torch.float64) / 255.0  # (N, D)
        g = torch.Generator().manual_seed(0)
        projection = torch.randn(x.shape[1], self.feature_dim, generator=g, dtype=torch.float64) / x.shape[1] ** 0.5
        return (x @ projection).numpy()


def _digits(weights: Path | None) -> Extractor:
    from genlab.eval.features import WEIGHTS, DigitExtractor

    return DigitExtractor(weights or WEIGHTS)


def _shapes(weights: Path | None) -> Extractor:
    from genlab.eval.shapes_features import WEIGHTS, ShapesExtractor

    return ShapesExtractor(weights or WEIGHTS)


def _random_projection(weights: Path | None) -> Extractor:
    if weights is not None:
        raise ConfigError("the random-projection extractor takes no --extractor-weights")
    return RandomProjectionExtractor()


def _learned(weights: Path | None) -> Extractor:
    from genlab.eval.learned_extractor import LearnedExtractor

    if weights is None:
        raise ConfigError(
            "the learned extractor needs its weights: --extractor-weights FILE, or a cached one trained on the "
            "reference with `genlab eval train-extractor --data REF`"
        )
    return LearnedExtractor(weights)


def _inception(weights: Path | None) -> Extractor:
    return _inception_with(weights)


def _inception_with(weights: Path | None, resize: str | None = None, dims: int | None = None) -> Extractor:
    from genlab.eval.inception_features import InceptionBlockFeatures, InceptionExtractor
    from genlab.eval.weights import cache_dir, cached_weights

    path = weights or cached_weights()
    if path is None:
        raise ConfigError(
            "the inception extractor needs the FID Inception weights: run `genlab eval fetch-weights` once "
            f"(96 MB into {cache_dir()}), or pass --extractor-weights FILE.safetensors"
        )
    if dims in (None, 2048):
        return InceptionExtractor(path, resize=resize or "pytorch-fid")
    return InceptionBlockFeatures(path, dims=dims, resize=resize or "pytorch-fid")


EXTRACTORS: dict[str, Callable[[Path | None], Extractor]] = {
    "digits": _digits,
    "shapes": _shapes,
    "random-projection": _random_projection,
    "inception": _inception,
    "learned": _learned,
}


def get_extractor(
    name: str, weights: str | Path | None = None, *, resize: str | None = None, dims: int | None = None
) -> Extractor:
    """Build the extractor registered as ``name``; unknown names list the known ones.

    ``resize`` (a rule of ``genlab.eval.resize``) and ``dims`` (64, 192, 768 or 2048) apply to the
    inception extractor only; the others have one fixed input rule (``genlab.eval.resize.conform``).
    """
    if name not in EXTRACTORS:
        raise ConfigError(f"unknown extractor {name!r}; known: {', '.join(EXTRACTORS)}")
    path = None if weights is None else Path(weights)
    if resize is not None:
        from genlab.eval.resize import check_rule

        check_rule(resize)
    if name == "inception":
        return _inception_with(path, resize, dims)
    if resize is not None or dims is not None:
        raise ConfigError(f"--resize and --dims apply to the inception extractor only, not {name}")
    return EXTRACTORS[name](path)
