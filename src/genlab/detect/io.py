"""Detectors on disk: ``DIR/detector.safetensors`` + ``DIR/detector.json``, never a pickle.

Written with :func:`genlab.runs.checkpoint.save_checkpoint` (tensors first, then the
JSON with the tensors' SHA-256); the spectral detector's scaler and regression numbers
are stored as float64 tensors, the CNN as its state dict.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import torch

from genlab.detect.cnn import CNNDetector
from genlab.detect.spectral import SpectralDetector
from genlab.errors import CheckpointError
from genlab.runs.checkpoint import load_checkpoint, save_checkpoint
from genlab.version import __version__

Detector = SpectralDetector | CNNDetector
DETECTORS: dict[str, type[SpectralDetector] | type[CNNDetector]] = {"spectral": SpectralDetector, "cnn": CNNDetector}
KINDS = tuple(DETECTORS)
STEM = "detector"


def versions() -> dict[str, str]:
    return {
        "genlab": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "python": platform.python_version(),
    }


def save_detector(out_dir: Path, detector: Detector, settings: dict[str, Any], info: dict[str, Any]) -> Path:
    """Write the detector and what it was trained on; returns the JSON path."""
    meta = {
        "kind": detector.kind,
        "image_shape": list(detector.image_shape),
        "settings": settings,
        **info,
        "versions": versions(),
    }
    return save_checkpoint(Path(out_dir) / STEM, detector.state(), meta)


def load_detector(path: Path) -> tuple[Detector, dict[str, Any]]:
    """Read a detector directory (or its detector.json); returns the detector and its metadata."""
    path = Path(path)
    json_path = path / f"{STEM}.json" if path.is_dir() else path
    if not json_path.is_file():
        raise CheckpointError(
            f"no detector at {path}: expected a folder with {STEM}.json (made by `genlab detect train`)"
        )
    state, meta = load_checkpoint(json_path)
    kind, shape = meta.get("kind"), tuple(meta.get("image_shape") or ())
    if kind not in KINDS or len(shape) != 3:
        raise CheckpointError(f"{json_path} is not a detector (kind {kind!r}, image shape {shape})")
    try:
        return DETECTORS[kind].from_state(shape, meta["settings"], state), meta  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{json_path} does not match a {kind} detector ({str(e).splitlines()[0]})") from None
