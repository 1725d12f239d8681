"""Train a detector and measure it: the functions behind ``genlab detect`` and the benchmark.

A detector is anything with ``kind``, ``image_shape``, ``logits(uint8 (N, C, H, W)) -> (N,)``
log-odds of "generated" and ``score`` = sigmoid(logits): :class:`SpectralDetector` or
:class:`CNNDetector`. Ranking and thresholds use the logits: far from the training data
a probability rounds to exactly 0 or 1 in float64 and ties would hide the order.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from genlab.config import apply_overrides
from genlab.detect.cnn import CNNConfig, fit_cnn
from genlab.detect.data import apply_attack, split_training
from genlab.detect.io import Detector
from genlab.detect.spectral import SpectralConfig, fit_spectral
from genlab.detect.stats import Interval, bootstrap_interval, rate_above, threshold_at_fpr
from genlab.errors import ConfigError, DataError

THRESHOLD_FPR = 0.01  # the operating point: 1 % of held-out real images flagged
FITTERS: dict[str, tuple[type, Callable[..., Detector]]] = {
    "spectral": (SpectralConfig, fit_spectral),
    "cnn": (CNNConfig, fit_cnn),
}


def config_for(kind: str, overrides: dict[str, str] | None = None) -> SpectralConfig | CNNConfig:
    """The training settings of ``kind`` with ``key=value`` overrides, type-checked."""
    if kind not in FITTERS:
        raise ConfigError(f"unknown detector kind {kind!r}; known: {', '.join(FITTERS)}")
    cfg = FITTERS[kind][0]()
    (cfg,) = apply_overrides([cfg], overrides or {})
    cfg.check()
    return cfg


def train_detector(
    kind: str,
    real: np.ndarray,
    fake: np.ndarray,
    *,
    seed: int = 0,
    overrides: dict[str, str] | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[Detector, dict[str, Any]]:
    """Fit a ``kind`` detector on uint8 real and generated images (N, C, H, W).

    Real images are split (seeded) into a fitting part as large as the fake set and a
    held-out part; the threshold (a logit) flags 1 % of the held-out real images.
    Returns the detector and a JSON-able record: sizes, seed, threshold, seconds.
    """
    cfg = config_for(kind, overrides)
    split = split_training(real, fake, seed=seed)
    start = time.perf_counter()
    detector: Detector = FITTERS[kind][1](split.real_fit, split.fake, cfg, seed=seed, log=log)
    seconds = time.perf_counter() - start
    threshold = threshold_at_fpr(detector.logits(split.real_holdout), THRESHOLD_FPR)
    fit_real, fit_fake = detector.logits(split.real_fit), detector.logits(split.fake)
    info = {
        "seed": seed,
        "n_real_fit": int(split.real_fit.shape[0]),
        "n_real_holdout": int(split.real_holdout.shape[0]),
        "n_fake": int(split.fake.shape[0]),
        "threshold_logit": threshold,
        "threshold_fpr": THRESHOLD_FPR,
        "train_accuracy": float((np.sum(fit_real <= 0.0) + np.sum(fit_fake > 0.0)) / (fit_real.size + fit_fake.size)),
        "train_seconds": seconds,
    }
    return detector, {"settings": dataclasses.asdict(cfg), **info}


@dataclass(frozen=True)
class Evaluation:
    """A detector on one test set: AUC and AP with bootstrap 95 % intervals, rates at the threshold."""

    auc: Interval
    ap: Interval
    tpr: float  # fraction of generated images whose logit is above the stored threshold
    fpr: float  # fraction of real images above it
    n_real: int
    n_fake: int
    attack: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_shape(detector: Detector, images: np.ndarray, what: str) -> None:
    if tuple(images.shape[1:]) != tuple(detector.image_shape):
        raise DataError(
            f"{what} are {tuple(images.shape[1:])} but the detector was trained on {tuple(detector.image_shape)} "
            "images"
        )


def evaluate_detector(
    detector: Detector,
    threshold: float,
    real: np.ndarray,
    fake: np.ndarray,
    *,
    attack: str = "none",
    n_resamples: int = 1000,
    seed: int = 0,
) -> Evaluation:
    """Score real and generated uint8 images (N, C, H, W), both edited by ``attack`` first; ``threshold`` is a
    logit."""
    check_shape(detector, real, "real images")
    check_shape(detector, fake, "generated images")
    real_scores = detector.logits(apply_attack(real, attack))
    fake_scores = detector.logits(apply_attack(fake, attack))
    labels = np.concatenate([np.zeros(real.shape[0], np.int64), np.ones(fake.shape[0], np.int64)])
    scores = np.concatenate([real_scores, fake_scores])
    return Evaluation(
        auc=bootstrap_interval(labels, scores, "auc", n_resamples=n_resamples, seed=seed),
        ap=bootstrap_interval(labels, scores, "ap", n_resamples=n_resamples, seed=seed),
        tpr=rate_above(fake_scores, threshold),
        fpr=rate_above(real_scores, threshold),
        n_real=int(real.shape[0]),
        n_fake=int(fake.shape[0]),
        attack=attack,
    )
