"""The spectral baseline: spectral features, standardised, then logistic regression.

scikit-learn fits the scaler and the regression; the fitted numbers (scaler mean and
scale, weights, intercept) are kept as plain arrays, so scoring is one line of NumPy and
a saved detector is four tensors, never a pickled estimator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from genlab.detect.data import labelled
from genlab.detect.features import feature_size, spectral_features
from genlab.errors import ConfigError


@dataclass(frozen=True)
class SpectralConfig:
    """L2-regularised logistic regression; ``c`` is scikit-learn's inverse regularisation strength."""

    c: float = 1.0
    max_iter: int = 2000

    def check(self) -> None:
        if not self.c > 0:
            raise ConfigError(f"c must be > 0, got {self.c}")
        if self.max_iter < 1:
            raise ConfigError(f"max_iter must be >= 1, got {self.max_iter}")


@dataclass(frozen=True)
class SpectralDetector:
    """p(generated | x) = sigmoid(((f(x) - mean) / scale) . weights + intercept), f = :func:`spectral_features`."""

    image_shape: tuple[int, int, int]
    mean: np.ndarray  # (F,)
    scale: np.ndarray  # (F,)
    weights: np.ndarray  # (F,)
    intercept: float
    kind = "spectral"

    def logits(self, images: np.ndarray) -> np.ndarray:
        """log-odds of "generated". Shapes: uint8 (N, C, H, W) -> float64 (N,)."""
        z = (spectral_features(images) - self.mean) / self.scale
        return z @ self.weights + self.intercept

    def score(self, images: np.ndarray) -> np.ndarray:
        """Probability that each image is generated. Shapes: uint8 (N, C, H, W) -> float64 (N,)."""
        return expit(self.logits(images))

    def state(self) -> dict[str, torch.Tensor]:
        """The fitted numbers as float64 tensors, for safetensors."""
        arrays = {
            "mean": self.mean,
            "scale": self.scale,
            "weights": self.weights,
            "intercept": np.array([self.intercept]),
        }
        return {k: torch.from_numpy(np.asarray(v, np.float64)) for k, v in arrays.items()}

    @classmethod
    def from_state(
        cls, image_shape: tuple[int, int, int], settings: dict, state: dict[str, torch.Tensor]
    ) -> "SpectralDetector":
        """Inverse of :meth:`state`; a tensor of the wrong size is a ValueError."""
        arrays = {k: v.numpy() for k, v in state.items()}
        size = feature_size(*image_shape[1:])
        for key in ("mean", "scale", "weights"):
            if arrays[key].shape != (size,):
                raise ValueError(f"{key} has shape {arrays[key].shape}, expected ({size},)")
        return cls(image_shape, arrays["mean"], arrays["scale"], arrays["weights"], float(arrays["intercept"][0]))


def fit_spectral(
    real: np.ndarray,
    fake: np.ndarray,
    cfg: SpectralConfig = SpectralConfig(),
    *,
    seed: int = 0,
    log: Callable[[str], None] = lambda _: None,
) -> SpectralDetector:
    """Fit on uint8 real and generated images (N, C, H, W); classes are weighted to balance."""
    cfg.check()
    images, labels = labelled(real, fake)
    features = spectral_features(images)
    scaler = StandardScaler().fit(features)
    model = LogisticRegression(C=cfg.c, max_iter=cfg.max_iter, class_weight="balanced", random_state=seed)
    model.fit(scaler.transform(features), labels)
    log(
        f"logistic regression on {features.shape[1]} features: {int(model.n_iter_[0])} iterations (limit "
        f"{cfg.max_iter})"
    )
    return SpectralDetector(
        image_shape=tuple(int(s) for s in real.shape[1:]),  # type: ignore[arg-type]
        mean=scaler.mean_.astype(np.float64),
        scale=scaler.scale_.astype(np.float64),
        weights=model.coef_[0].astype(np.float64),
        intercept=float(model.intercept_[0]),
    )
