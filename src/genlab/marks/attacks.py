"""The image edits a watermark must survive, as pure functions on uint8 images, and the
detector's inverse of one of them (undoing a crop).

Each takes uint8 (H, W) or (H, W, 3) and returns the same shape and dtype; sizes are
restored where the edit changes them (resize, crop), so a detector sees the original
geometry. Pillow does the codecs and resampling, as a user's tools would.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter

Attack = Callable[[np.ndarray], np.ndarray]
CROP_SEARCH = (0.0, 0.025, 0.05, 0.075, 0.1)  # cut per side that detect(search_crop=True) tries to undo


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode as JPEG at ``quality`` (1..95, Pillow's scale) and decode again."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert(_mode(image)), np.uint8).copy()


def resize(image: np.ndarray, factor: float = 0.5) -> np.ndarray:
    """Scale by ``factor`` and back to the original size (bicubic both ways)."""
    h, w = image.shape[:2]
    small = Image.fromarray(image).resize(
        (max(1, round(w * factor)), max(1, round(h * factor))), Image.Resampling.BICUBIC
    )
    return np.asarray(small.resize((w, h), Image.Resampling.BICUBIC), np.uint8).copy()


def gaussian_noise(image: np.ndarray, sigma: float, generator: np.random.Generator) -> np.ndarray:
    """Add N(0, sigma^2) noise with sigma on the [0, 1] pixel scale, round and clip."""
    noisy = image.astype(np.float64) + generator.normal(0.0, sigma * 255.0, image.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def blur(image: np.ndarray, radius: float = 1.0) -> np.ndarray:
    """Gaussian blur with standard deviation ``radius`` pixels (Pillow's GaussianBlur)."""
    return np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius)), np.uint8).copy()


def crop(image: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Cut ``fraction`` of the height and of the width (half on each side), resize back."""
    h, w = image.shape[:2]
    dh, dw = round(h * fraction / 2), round(w * fraction / 2)
    kept = Image.fromarray(np.ascontiguousarray(image[dh : h - dh, dw : w - dw]))
    return np.asarray(kept.resize((w, h), Image.Resampling.BICUBIC), np.uint8).copy()


def standard_attacks(seed: int = 0) -> dict[str, Attack]:
    """The benchmark's edits by name, in table order; the noise draws from ``seed``."""
    rng = np.random.default_rng(seed)
    return {
        "none": lambda x: x,
        "jpeg 90": lambda x: jpeg(x, 90),
        "jpeg 70": lambda x: jpeg(x, 70),
        "jpeg 50": lambda x: jpeg(x, 50),
        "resize x0.5": lambda x: resize(x, 0.5),
        "noise 0.02": lambda x: gaussian_noise(x, 0.02, rng),
        "noise 0.05": lambda x: gaussian_noise(x, 0.05, rng),
        "blur 1 px": lambda x: blur(x, 1.0),
        "crop 10 %": lambda x: crop(x, 0.1),
    }


def crop_alignments(h: int, w: int) -> dict[tuple[int, int], float]:
    """The detector's guesses at a crop: distinct (rows, cols) cut per side -> the fraction in CROP_SEARCH."""
    cuts: dict[tuple[int, int], float] = {}
    for f in CROP_SEARCH:
        cuts.setdefault((round(h * f), round(w * f)), f)
    return cuts


def undo_crop(pixels: np.ndarray, dh: int, dw: int) -> np.ndarray:
    """Shrink to the size the content had before the crop and pad the lost border (edge values)."""
    if dh == 0 and dw == 0:
        return pixels.astype(np.float64)
    h, w = pixels.shape[:2]
    inner = Image.fromarray(pixels).resize((w - 2 * dw, h - 2 * dh), Image.Resampling.BICUBIC)
    pad = ((dh, dh), (dw, dw)) + (((0, 0),) if pixels.ndim == 3 else ())
    return np.pad(np.asarray(inner, np.float64), pad, mode="edge")


def _mode(image: np.ndarray) -> str:
    return "L" if image.ndim == 2 else "RGB"
