"""The samples file: the seam between any generator and the evaluation code.

An ``.npz`` with ``images`` as uint8 (N, H, W) or (N, C, H, W), C in {1, 3}, and an
optional ``labels`` array of N integers (for conditional samples).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from genlab.atomic import atomic_write_bytes
from genlab.errors import DataError


def load_samples(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read and check a samples file. Shapes: -> uint8 (N, C, H, W), int64 (N,) or None."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"samples file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path} is not a readable .npz samples file ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    if "images" not in arrays:
        raise DataError(f"{path} has no 'images' array (found: {', '.join(arrays) or 'nothing'})")
    images, labels = arrays["images"], arrays.get("labels")
    return check_images(images, str(path)), (None if labels is None else check_labels(labels, images.shape[0], str(path)))


def check_images(images: np.ndarray, where: str = "images") -> np.ndarray:
    """uint8 (N, H, W) or (N, C, H, W) with C in {1, 3} -> (N, C, H, W); anything else is an error."""
    if images.dtype != np.uint8:
        raise DataError(f"{where}: images must be uint8 in 0..255, got {images.dtype} (scale floats with genlab.data.to_uint8)")
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise DataError(f"{where}: images must be N x H x W or N x C x H x W with C = 1 or 3, got shape {images.shape}")
    if images.shape[0] == 0:
        raise DataError(f"{where}: the file holds no images (N = 0)")
    return images


def check_labels(labels: np.ndarray, n: int, where: str = "labels") -> np.ndarray:
    if labels.ndim != 1 or labels.shape[0] != n or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{where}: labels must be {n} integers, one per image, got {labels.dtype} of shape {labels.shape}")
    return labels.astype(np.int64)


def save_samples(path: str | Path, images: np.ndarray, labels: np.ndarray | None = None) -> Path:
    """Write a samples file atomically (grey images are stored as N x H x W)."""
    images = check_images(images)
    arrays = {"images": images[:, 0] if images.shape[1] == 1 else images}
    if labels is not None:
        arrays["labels"] = check_labels(np.asarray(labels), images.shape[0])
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return atomic_write_bytes(path, buffer.getvalue())
