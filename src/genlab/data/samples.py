"""The samples file: the seam between any generator and the evaluation code.

An ``.npz`` with ``images`` as uint8 (N, H, W) or (N, C, H, W), C in {1, 3}, and an
optional ``labels`` array of N integers (for conditional samples).
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from genlab.atomic import atomic_write_bytes
from genlab.errors import DataError

MAX_DEFLATE_RATIO = 1032  # deflate expands data at most ~1032-fold (zlib's technical notes)


def load_samples(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Read and check a samples file. Shapes: -> uint8 (N, C, H, W), int64 (N,) or None.

    Nothing is unpickled (object arrays are refused) and nothing is allocated from an
    unchecked header: each array's declared size must match the bytes its member holds.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"samples file {path} does not exist")
    try:
        with zipfile.ZipFile(path) as archive:
            names = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
            if "images" not in names:
                raise DataError(f"{path} has no 'images' array (found: {', '.join(names) or 'nothing'})")
            for key in ("images", "labels"):
                if key in names:
                    _check_member(archive, names[key], path)
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in ("images", "labels") if k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise DataError(
            f"{path} is not a readable .npz samples file ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
        ) from None
    images, labels = arrays["images"], arrays.get("labels")
    return check_images(images, str(path)), (
        None if labels is None else check_labels(labels, images.shape[0], str(path))
    )


def _check_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> None:
    """Refuse an array whose .npy header declares objects or more bytes than the member holds."""
    where = f"{path}: array {info.filename!r}"
    stored = info.compress_size * (1 if info.compress_type == zipfile.ZIP_STORED else MAX_DEFLATE_RATIO)
    if info.file_size > stored + 1024:
        raise DataError(
            f"{where} claims {info.file_size} bytes, more than {info.compress_size} compressed bytes can hold"
        )
    with archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise DataError(f"{where} has .npy format version {version}; expected 1.0 or 2.0")
        header = f.tell()
    if dtype.hasobject:
        raise DataError(f"{where} holds Python objects; refused, since loading them would unpickle code")
    declared = math.prod(shape) * dtype.itemsize
    if declared != info.file_size - header:
        raise DataError(
            f"{where} declares shape {shape} of {dtype} ({declared} bytes) but holds {info.file_size - header} bytes"
        )


def check_images(images: np.ndarray, where: str = "images") -> np.ndarray:
    """uint8 (N, H, W) or (N, C, H, W) with C in {1, 3} -> (N, C, H, W); anything else is an error."""
    if images.dtype != np.uint8:
        raise DataError(
            f"{where}: images must be uint8 in 0..255, got {images.dtype} (scale floats with genlab.data.to_uint8)"
        )
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise DataError(
            f"{where}: images must be N x H x W or N x C x H x W with C = 1 or 3, got shape {images.shape}"
        )
    if images.shape[0] == 0:
        raise DataError(f"{where}: the file holds no images (N = 0)")
    if min(images.shape[2:]) < 1:
        raise DataError(f"{where}: images must be at least 1 x 1 pixels, got shape {images.shape}")
    return images


def check_labels(labels: np.ndarray, n: int, where: str = "labels") -> np.ndarray:
    if labels.ndim != 1 or labels.shape[0] != n or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"{where}: labels must be {n} integers, one per image, got {labels.dtype} of shape {labels.shape}"
        )
    if n and labels.min() < 0:
        raise DataError(f"{where}: labels must be class numbers >= 0, got {labels.min()}")
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
