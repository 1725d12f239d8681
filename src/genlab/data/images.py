"""Turn model outputs into pictures: convert to uint8, tile into grids, save and load PNGs.

Every PNG written here is for people, so by default it carries the visible "AI GENERATED"
mark and the provenance text chunks (:mod:`genlab.publish`); ``watermark=None`` leaves
the visible mark off, and the metadata says so. Arrays for metrics (``save_samples``)
are never marked.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from genlab.atomic import atomic_write_bytes
from genlab.errors import DataError
from genlab.files import MIB, read_bytes
from genlab.marks.visible import VisibleWatermark

if TYPE_CHECKING:
    from genlab.marks.invisible import InvisibleMark
    from genlab.marks.png import SignKey

DEFAULT_WATERMARK = VisibleWatermark()


def to_uint8(x: Tensor | np.ndarray) -> np.ndarray:
    """Map values in [-1, 1] to uint8 0..255: clamp, then round((x + 1) * 127.5). Same shape."""
    if isinstance(x, Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).all():
        raise DataError("images contain NaN or infinite values; the model has likely diverged.")
    return ((np.clip(x, -1.0, 1.0) + 1.0) * 127.5).round().astype(np.uint8)


def make_grid(
    images: np.ndarray | Tensor, nrow: int | None = None, padding: int = 2, pad_value: int = 0
) -> np.ndarray:
    """Tile images into one picture, ``nrow`` images per row, image 0 in the top-left cell.

    Shapes: images uint8 (N, H, W) or (N, C, H, W) with C in {1, 3}; returns uint8
    (H', W') for one channel or (H', W', 3) for three, where with R = ceil(N / nrow)
    rows: H' = R * (H + padding) + padding and W' = nrow * (W + padding) + padding.
    Default ``nrow`` is ceil(sqrt(N)). Unused cells are filled with ``pad_value``.
    """
    batch = _as_uint8_nchw(images)
    n, c, h, w = batch.shape
    cols = math.ceil(math.sqrt(n)) if nrow is None else nrow
    if not isinstance(cols, int) or cols < 1:
        raise DataError(f"nrow must be a positive int, got {nrow!r}.")
    if padding < 0 or not 0 <= pad_value <= 255:
        raise DataError(f"need padding >= 0 and pad_value in 0..255, got {padding}, {pad_value}.")
    rows = math.ceil(n / cols)
    # 1. Fill the empty cells and pad each cell on its bottom and right.
    cells = np.full((rows * cols, c, h + padding, w + padding), pad_value, dtype=np.uint8)
    cells[:n, :, :h, :w] = batch
    # 2. (R*K, C, h, w) -> (R, K, C, h, w) -> (C, R, h, K, w) -> (C, R*h, K*w)
    grid = cells.reshape(rows, cols, c, h + padding, w + padding).transpose(2, 0, 3, 1, 4)
    grid = grid.reshape(c, rows * (h + padding), cols * (w + padding))
    # 3. Pad the top and left edges so every cell has a border on all four sides.
    grid = np.pad(grid, ((0, 0), (padding, 0), (padding, 0)), constant_values=pad_value)
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)  # (H', W') or (H', W', 3)


def save_png(
    path: str | os.PathLike,
    array: np.ndarray,
    *,
    watermark: VisibleWatermark | None = DEFAULT_WATERMARK,
    provenance: Mapping[str, Any] | None = None,
    invisible: InvisibleMark | None = None,
    sign_key: SignKey | None = None,
) -> Path:
    """Write a uint8 (H, W) or (H, W, 3) array to ``path`` as a PNG, atomically.

    ``watermark`` adds the visible mark (a text band below the picture makes the file
    taller, see :func:`genlab.marks.visible.band_height`); ``provenance`` adds fields to
    the metadata (the AI-generated statement, genlab version and watermark settings are
    always written); ``invisible`` embeds the keyed invisible mark; ``sign_key`` (an
    Ed25519 private key or its PEM file) signs pixels and metadata.
    """
    from genlab.marks.png import publish_png  # imported late: it pulls in scipy and cryptography

    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise DataError(f"save_png needs uint8 pixels, got {array.dtype}; use to_uint8 first.")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]  # (H, W, 1) -> (H, W)
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise DataError(f"save_png needs shape (H, W) or (H, W, 3), got {array.shape}.")
    data = publish_png(array, watermark=watermark, provenance=provenance, invisible=invisible, sign_key=sign_key)
    return atomic_write_bytes(path, data)


def save_grid(
    path: str | os.PathLike,
    images: np.ndarray | Tensor,
    nrow: int | None = None,
    *,
    watermark: VisibleWatermark | None = DEFAULT_WATERMARK,
    provenance: Mapping[str, Any] | None = None,
    invisible: InvisibleMark | None = None,
    sign_key: SignKey | None = None,
) -> Path:
    """Save a batch of images as one PNG grid (see :func:`make_grid` and :func:`save_png`).

    Shapes: (N, H, W) or (N, C, H, W); uint8, or floats in [-1, 1] (converted with
    :func:`to_uint8`). The marks and metadata apply to the grid as a whole.
    """
    if isinstance(images, Tensor):
        images = images.detach().cpu().numpy()
    if images.dtype != np.uint8:
        images = to_uint8(images)
    return save_png(
        path,
        make_grid(images, nrow=nrow),
        watermark=watermark,
        provenance=provenance,
        invisible=invisible,
        sign_key=sign_key,
    )


def load_image(
    path: str | os.PathLike, size: int | tuple[int, int] | None = None, grayscale: bool = False
) -> np.ndarray:
    """Read an image file as uint8 (H, W) if ``grayscale`` else (H, W, 3).

    ``size`` resizes (bicubic) to (height, width), or to a square for an int.
    """
    path = Path(path)
    with open_image(path) as image:
        try:
            image = image.convert("L" if grayscale else "RGB")
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
            raise DataError(f"image {path} could not be read ({e}); is it a valid image?") from None
    if size is not None:
        height, width = (size, size) if isinstance(size, int) else size
        image = image.resize((width, height), Image.Resampling.BICUBIC)  # PIL takes (W, H)
    return np.asarray(image, dtype=np.uint8).copy()


MAX_IMAGE_BYTES = 256 * MIB
MAX_IMAGE_PIXELS = 8192 * 8192  # an image file larger than this is refused before it is decoded


def image_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of a user-named image file: a regular file of at most 256 MiB."""
    return read_bytes(
        path, MAX_IMAGE_BYTES, "image", DataError, missing=f"image {path} does not exist; check the path."
    )


def open_image(path: str | os.PathLike, data: bytes | None = None) -> Image.Image:
    """A user-named image file (or its ``data``, read by :func:`image_bytes`), opened but
    not decoded, whose header declares at most 8192 x 8192 pixels (a 40 kB PNG can declare
    20000 x 20000, 1.2 GB once decoded). Anything else is one :class:`DataError` line."""
    data = image_bytes(path) if data is None else data
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise DataError(f"{path} could not be read as an image (not a format Pillow knows)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"{path} could not be read as an image ({e})") from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        image.close()
        raise DataError(
            f"image {path} is {width} x {height} pixels, more than the {MAX_IMAGE_PIXELS:,} genlab reads; "
            "resize it first"
        )
    return image


def _as_uint8_nchw(images: np.ndarray | Tensor) -> np.ndarray:
    """Check grid input is uint8 (N, H, W) or (N, C, H, W), C in {1, 3}; return (N, C, H, W)."""
    if isinstance(images, Tensor):
        images = images.detach().cpu().numpy()
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise DataError(f"make_grid needs uint8 images, got {images.dtype}; use to_uint8 first.")
    if images.ndim == 3:
        images = images[:, None]  # (N, H, W) -> (N, 1, H, W)
    if images.ndim != 4 or images.shape[1] not in (1, 3) or images.shape[0] == 0:
        raise DataError(
            f"make_grid needs a non-empty (N, H, W) or (N, C, H, W) batch with C in {{1, 3}}, "
            f"got shape {images.shape}."
        )
    return images
