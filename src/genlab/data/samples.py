"""The samples file: the seam between any generator and the evaluation code.

An ``.npz`` with ``images`` as uint8 (N, H, W) or (N, C, H, W), C in {1, 3}, and an
optional ``labels`` array of N integers (for conditional samples).
"""

from __future__ import annotations

import io
import lzma
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from genlab.atomic import atomic_write, atomic_write_bytes
from genlab.data.npz import NpzWriter, read_array
from genlab.errors import DataError
from genlab.files import open_regular

MAX_LABEL = 2**31 - 1  # class numbers; anything larger is not a class of any data set here
MAX_SAMPLES_BYTES = 1 << 30  # 1 GiB of arrays per samples file: 1.3 M MNIST images, 87 k 64x64 RGB ones


def load_samples(
    path: str | Path, max_images: int | None = None, max_bytes: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read and check a samples file. Shapes: -> uint8 (N, C, H, W), int64 (N,) or None.

    Only the first ``max_images`` images (and labels) are read when it is given (``-n``),
    and at most ``max_bytes`` in all (default :data:`MAX_SAMPLES_BYTES`). Nothing is
    unpickled (object arrays are refused) and nothing is allocated from an unchecked
    header: each array's declared size must match the bytes its member holds, the member
    checked is the member read (two members that could both be ``images``, such as
    ``images`` and ``images.npy``, are refused), and members are inflated in bounded
    chunks (:mod:`genlab.data.npz`).
    """
    path = Path(path)
    max_bytes = MAX_SAMPLES_BYTES if max_bytes is None else max_bytes
    with open_regular(path, "samples file", DataError) as fp:
        try:
            with zipfile.ZipFile(fp) as archive:
                members = _members(archive, path)
                if "images" not in members:
                    found = ", ".join(i.filename for i in archive.infolist()[:20]) or "nothing"
                    raise DataError(f"{path} has no 'images' array (found: {found})")
                where = f"{path}: array {members['images'].filename!r}"
                images, shape = read_array(fp, members["images"], where, max_images, max_bytes)
                labels = None
                if "labels" in members:
                    where = f"{path}: array {members['labels'].filename!r}"
                    labels, label_shape = read_array(
                        fp, members["labels"], where, max_images, max(0, max_bytes - images.nbytes)
                    )
                    if len(label_shape) != 1 or label_shape[:1] != shape[:1]:
                        raise DataError(
                            f"{path}: labels must be {shape[0] if shape else 0} integers, one per image, got "
                            f"{labels.dtype} of shape {label_shape}"
                        )
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, lzma.LZMAError) as e:
            raise DataError(
                f"{path} is not a readable .npz samples file "
                f"({str(e).splitlines()[0] if str(e) else type(e).__name__})"
            ) from None
    images = check_images(images, str(path))
    return images, (None if labels is None else check_labels(labels, images.shape[0], str(path)))


def _members(archive: zipfile.ZipFile, path: Path) -> dict[str, zipfile.ZipInfo]:
    """``images`` and ``labels`` -> their members (``images.npy`` as np.savez names them, or ``images``).

    Two members that NumPy could both read as one array are refused, so the member whose
    header is checked is the one that is loaded."""
    found: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        key = info.filename.removesuffix(".npy")
        if key not in ("images", "labels"):
            continue
        if key in found:
            raise DataError(
                f"{path} holds two members for the {key!r} array ({found[key].filename!r} and {info.filename!r}); "
                "refused as ambiguous: write it with numpy.savez"
            )
        found[key] = info
    return found


def check_images(images: np.ndarray, where: str = "images") -> np.ndarray:
    """uint8 (N, H, W), (N, C, H, W) or channels-last (N, H, W, C), C in {1, 3} -> (N, C, H, W);
    anything else is an error. Channels-last is what NumPy and PIL users hold."""
    if images.dtype != np.uint8:
        raise DataError(
            f"{where}: images must be uint8 in 0..255, got {images.dtype} (scale floats with genlab.data.to_uint8)"
        )
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim == 4 and images.shape[1] not in (1, 3) and images.shape[3] in (1, 3):
        images = images.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise DataError(
            f"{where}: images must be N x H x W, N x C x H x W or N x H x W x C with C = 1 or 3, "
            f"got shape {images.shape}"
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
    # checked in the labels' own dtype: uint64 2^64-1 would pass ">= 0" and become -1 as int64
    if n and labels.min() < 0:
        raise DataError(f"{where}: labels must be class numbers >= 0, got {labels.min()}")
    if n and labels.max() > MAX_LABEL:
        raise DataError(f"{where}: labels must be class numbers <= {MAX_LABEL}, got {labels.max()}")
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


def save_samples_stream(
    path: str | Path, n: int, batches: Iterable[np.ndarray], labels: np.ndarray | None = None
) -> Path:
    """Write ``n`` images arriving in batches (uint8 (b, C, H, W)) as a samples file, atomically,
    holding one batch at a time: the same file :func:`save_samples` writes for their concatenation.

    The shape of the first batch fixes the rest; fewer or more than ``n`` images raise DataError.
    """
    if labels is not None:
        labels = check_labels(np.asarray(labels), n)

    def write(tmp: Path) -> None:
        written = 0
        with NpzWriter(tmp) as npz:
            for batch in batches:
                batch = check_images(batch, "sampled images")
                if written == 0:
                    grey = batch.shape[1] == 1
                    npz.begin("images", (n, *batch.shape[2:]) if grey else (n, *batch.shape[1:]), np.uint8)
                    shape = batch.shape[1:]
                if batch.shape[1:] != shape or written + batch.shape[0] > n:
                    raise DataError(f"sampled batches of shape {batch.shape} do not make {n} images of {shape}")
                npz.write(batch[:, 0] if grey else batch)
                written += batch.shape[0]
            if written != n:
                raise DataError(f"sampling gave {written} images, not the {n} asked for")
            if labels is not None:
                npz.add("labels", labels)

    return atomic_write(path, write)
