"""Reference statistics: the mean and covariance FID needs, computed once and reused.

``genlab eval stats A -o ref.npz`` writes ``mu`` (D,) and ``sigma`` (D, D) float64, the keys
pytorch-fid's ``.npz`` statistics use (so pytorch-fid reads the file), plus ``n`` and what
they depend on: ``extractor``, ``dims``, ``resize`` and ``weights`` (the weights' SHA-256;
"" for genlab's shipped extractors). ``--ref ref.npz`` refuses statistics measured with other
settings. A pytorch-fid statistics file (``mu`` and ``sigma`` alone) is read as its defaults
(inception, 2048, resize pytorch-fid, the standard weights), which cannot be checked.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genlab.atomic import atomic_write_bytes
from genlab.data.npz import npz_members, read_npz_arrays
from genlab.errors import DataError
from genlab.eval.extractors import Extractor
from genlab.eval.inception_features import InceptionBlockFeatures
from genlab.eval.inputs import MAX_TOTAL_BYTES
from genlab.eval.learned_extractor import LearnedExtractor
from genlab.eval.metrics import feature_statistics
from genlab.eval.weights import FID_WEIGHTS_SHA256

KEYS = ("mu", "sigma", "n", "extractor", "dims", "resize", "weights")


def settings_of(extractor: Extractor) -> dict[str, Any]:
    """What features depend on: the extractor, its block, its resize rule and its weights."""
    if isinstance(extractor, InceptionBlockFeatures | LearnedExtractor):
        return extractor.settings
    return {"extractor": extractor.name, "dims": extractor.feature_dim, "resize": "conform", "weights": ""}


def describe(settings: dict[str, Any]) -> str:
    if settings["extractor"] == "learned":
        return f"learned (weights {str(settings['weights'])[:12]})"
    if settings["extractor"] != "inception":
        return str(settings["extractor"])
    weights = settings["weights"]
    which = "standard FID weights" if weights == FID_WEIGHTS_SHA256 else f"weights {str(weights)[:12]}"
    return f"inception ({settings['dims']}-d, resize {settings['resize']}, {which})"


@dataclass(frozen=True)
class FeatureStats:
    mu: np.ndarray  # (D,) float64
    sigma: np.ndarray  # (D, D) float64
    n: int  # images the statistics were measured on (0 when unknown)
    settings: dict[str, Any]
    description: str
    checked: bool = True  # False for a pytorch-fid file without genlab's fields

    def check_compatible(self, settings: dict[str, Any], where: str) -> None:
        """DataError unless features measured with ``settings`` may be compared with these statistics."""
        if self.mu.shape[0] != settings["dims"]:
            raise DataError(
                f"{where} holds {self.mu.shape[0]}-d statistics but the extractor gives {settings['dims']}-d "
                "features; use the extractor they were measured with"
            )
        if self.checked and self.settings != settings:
            raise DataError(
                f"{where} was measured with {describe(self.settings)}, this evaluation uses {describe(settings)}; "
                "recompute it with `genlab eval stats` and the same --extractor/--resize/--dims/--extractor-weights"
            )


def stats_of(features: np.ndarray, settings: dict[str, Any], description: str) -> FeatureStats:
    mu, sigma = feature_statistics(features)
    return FeatureStats(mu, sigma, int(features.shape[0]), dict(settings), description)


def save_stats(path: str | Path, stats: FeatureStats) -> Path:
    """Write the statistics atomically as an .npz that pytorch-fid can read (``mu``, ``sigma``)."""
    s = stats.settings
    buffer = io.BytesIO()
    np.savez(
        buffer,
        mu=stats.mu,
        sigma=stats.sigma,
        n=np.int64(stats.n),
        extractor=np.str_(s["extractor"]),
        dims=np.int64(s["dims"]),
        resize=np.str_(s["resize"]),
        weights=np.str_(s["weights"]),
    )
    return atomic_write_bytes(path, buffer.getvalue())


def is_stats_file(path: str | Path) -> bool:
    """An .npz with ``mu`` and ``sigma`` and no ``images``: statistics rather than samples."""
    path = Path(path)
    if path.suffix.lower() != ".npz" or not path.is_file():
        return False
    members = set(npz_members(path, MAX_TOTAL_BYTES))
    return {"mu", "sigma"} <= members and "images" not in members


def load_stats(path: str | Path) -> FeatureStats:
    """Statistics written by :func:`save_stats` or by pytorch-fid (``--save-stats``); checked, never unpickled."""
    path = Path(path)
    arrays = read_npz_arrays(path, KEYS, MAX_TOTAL_BYTES)
    mu, sigma = np.asarray(arrays["mu"], np.float64), np.asarray(arrays["sigma"], np.float64)
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise DataError(f"{path}: mu must be (D,) and sigma (D, D), got {mu.shape} and {sigma.shape}")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise DataError(f"{path}: the statistics contain NaN or infinite values; recompute them")
    if "extractor" not in arrays:  # pytorch-fid's file: its defaults, unverifiable
        settings = {"extractor": "inception", "dims": int(mu.shape[0]), "resize": "pytorch-fid", "weights": ""}
        return FeatureStats(mu, sigma, 0, settings, f"statistics {path} (pytorch-fid format, unchecked)", False)
    try:
        settings = {
            "extractor": str(arrays["extractor"]),
            "dims": int(arrays["dims"]),
            "resize": str(arrays["resize"]),
            "weights": str(arrays["weights"]),
        }
        n = int(arrays["n"])
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(
            f"{path}: incomplete genlab statistics ({e}); recompute them with `genlab eval stats`"
        ) from None
    if settings["dims"] != mu.shape[0]:
        raise DataError(f"{path}: dims {settings['dims']} does not match mu's length {mu.shape[0]}")
    return FeatureStats(mu, sigma, n, settings, f"statistics {path} ({n} images, {describe(settings)})")
