"""One image file (or one array image) to uint8 (C, S, S): the stated preprocessing, in order.

1. Open with Pillow; a file over Pillow's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``)
   is refused by name; a GIF gives its first frame; a JPEG is decoded at the smallest DCT scale
   (1/2, 1/4, 1/8) that still covers the target (Pillow's ``draft``).
2. The EXIF orientation is applied (``ImageOps.exif_transpose``).
3. Every mode becomes L or RGB: 16-bit grey (I;16, I) is divided by 257, 1-bit becomes 0/255,
   P and CMYK/YCbCr/LAB go through Pillow's conversion, and alpha (LA, RGBA, PA, P with
   transparency) is composited over the background colour.
4. The target channels: RGB -> L is Pillow's ITU-R 601-2 luma; L -> RGB repeats the grey.
5. The square: the centre square of the short side (``crop=center``) or the image padded with
   the background to its long side (``crop=none``).
6. The size: downscaling averages (``Image.reduce`` for an exact integer factor, else the area
   filter ``Image.Resampling.BOX``); upscaling uses ``Image.Resampling.LANCZOS`` and is counted,
   so the caller can warn once.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from genlab.data.options import Crop, square_side
from genlab.errors import DataError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
MAX_FILE_BYTES = 256 << 20  # one image file larger than this is refused unread
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "F", "I;16", "I;16B", "I;16L", "I;16N"})
SIXTEEN_BIT = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})
ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
DOWN, UP = "Image.reduce / Image.Resampling.BOX (area average)", "Image.Resampling.LANCZOS"


class ImageProblem(Exception):
    """A file that cannot become an image: ``kind`` is corrupt, unreadable or bomb."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Prep:
    """The resolved preprocessing: every field fixed (no "the data's own" left)."""

    size: int
    channels: int
    crop: Crop
    background: tuple[int, int, int]


@dataclass(frozen=True)
class Header:
    """What the header says, before any pixel is decoded."""

    width: int
    height: int
    mode: str
    format: str
    colour: bool  # has colour channels (RGB-like modes, a P palette that is not grey)


def open_image(data: bytes) -> Image.Image:
    """Pillow's lazy image of ``data``; ImageProblem for a bomb or a file Pillow cannot identify."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)  # over the limit at all: refuse
        try:
            return Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise ImageProblem("bomb", f"over Pillow's decompression-bomb limit ({e})") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
            raise ImageProblem("corrupt", f"not an image Pillow can read ({_short(e)})") from None


def read_header(data: bytes) -> Header:
    """Width, height, mode, format and colour of an image file, decoding no pixels."""
    image = open_image(data)
    width, height = image.size
    if image.mode == "P":
        palette = np.asarray(image.getpalette() or [0, 0, 0], dtype=np.int64).reshape(-1, 3)  # (K, 3)
        colour = bool((palette != palette[:, :1]).any())
    else:
        colour = image.mode not in GREY_MODES
    if _exif_turns(image):
        width, height = height, width
    return Header(width, height, image.mode, image.format or "?", colour)


def decode(data: bytes, prep: Prep) -> tuple[np.ndarray, bool]:
    """(uint8 (C, S, S) pixels, whether it was upscaled) of one image file's bytes."""
    image = open_image(data)
    try:
        if image.format == "JPEG" and image.mode in ("L", "RGB", "CMYK", "YCbCr"):
            w, h = image.size
            side = square_side(w, h, prep.crop)
            image.draft(image.mode, (math.ceil(prep.size * w / side), math.ceil(prep.size * h / side)))
        image.seek(0)  # a GIF or an animated WebP: the first frame
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageProblem("corrupt", f"truncated or corrupt ({_short(e)})") from None
    try:
        ImageOps.exif_transpose(image, in_place=True)
    except (OSError, SyntaxError, ValueError, KeyError, TypeError):
        pass  # unreadable EXIF: keep the pixels as stored
    return finish(image, prep)


def decode_array(pixels: np.ndarray, prep: Prep) -> tuple[np.ndarray, bool]:
    """The same preprocessing for one uint8 (C, H, W) array image, C in 1..4 (L, LA, RGB, RGBA)."""
    c, h, w = pixels.shape
    if c == prep.channels and h == w == prep.size:
        return np.ascontiguousarray(pixels), False  # nothing to do: keep the bytes exactly
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[c]
    array = pixels[0] if c == 1 else np.ascontiguousarray(pixels.transpose(1, 2, 0))  # (H, W) or (H, W, C)
    return finish(Image.fromarray(array, mode), prep)


def finish(image: Image.Image, prep: Prep) -> tuple[np.ndarray, bool]:
    """Steps 3-6 of the module docstring on a loaded image."""
    image = to_l_or_rgb(image, prep.background)
    image = image.convert("L" if prep.channels == 1 else "RGB")
    image = to_square(image, prep.crop, prep.background)
    image, upscaled = to_size(image, prep.size)
    array = np.asarray(image, dtype=np.uint8)
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)  # (S, S) or (S, S, 3) -> (C, S, S)
    return np.ascontiguousarray(array), upscaled


def to_l_or_rgb(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Any Pillow mode as L or RGB; transparency composited over ``background``."""
    mode = image.mode
    if mode in SIXTEEN_BIT:
        wide = np.asarray(image, dtype=np.float64)  # 0..65535
        return Image.fromarray(np.clip(np.rint(wide / 257.0), 0, 255).astype(np.uint8), "L")
    if mode == "F":
        return Image.fromarray(np.clip(np.rint(np.asarray(image, dtype=np.float64)), 0, 255).astype(np.uint8), "L")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("1", "L"):
        return image.convert("L")
    elif mode not in ALPHA_MODES | {"RGB"}:
        image = image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX: Pillow's conversion
    if image.mode in ALPHA_MODES:
        grey = image.mode in ("LA", "La") and background[0] == background[1] == background[2]
        base = Image.new("RGBA", image.size, (*background, 255))
        image = Image.alpha_composite(base, image.convert("RGBA")).convert("RGB")
        return image.convert("L") if grey else image
    return image


def to_square(image: Image.Image, crop: Crop, background: tuple[int, int, int]) -> Image.Image:
    """The centre square of the short side, or the image centred on a background square of the long side."""
    w, h = image.size
    if w == h:
        return image
    side = square_side(w, h, crop)
    left, top = (w - side) // 2, (h - side) // 2
    if crop == "center":
        return image.crop((left, top, left + side, top + side))
    fill = background if image.mode == "RGB" else Image.new("RGB", (1, 1), background).convert("L").getpixel((0, 0))
    canvas = Image.new(image.mode, (side, side), fill)
    canvas.paste(image, (-left, -top))
    return canvas


def to_size(image: Image.Image, size: int) -> tuple[Image.Image, bool]:
    """A square image at ``size``: averaged down, LANCZOS up (then True)."""
    side = image.size[0]
    if side == size:
        return image, False
    if side > size:
        if side % size == 0:
            return image.reduce(side // size), False  # exact box average over factor x factor blocks
        return image.resize((size, size), Image.Resampling.BOX), False
    return image.resize((size, size), Image.Resampling.LANCZOS), True


def pixel_hash(data: bytes) -> str:
    """A hash of the decoded pixels (mode and size included), for finding duplicates however they are stored."""
    image = open_image(data)
    try:
        image.seek(0)
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageProblem("corrupt", f"truncated or corrupt ({_short(e)})") from None
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{image.mode} {image.size}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def _exif_turns(image: Image.Image) -> bool:
    """Whether the EXIF orientation swaps width and height (orientations 5-8)."""
    try:
        return image.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except (OSError, SyntaxError, ValueError, KeyError, TypeError):
        return False


def _short(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return text[:160]


def decode_notes(
    notes: list[str] | tuple[str, ...],
    problems: dict,
    upscaled: int,
    size: int,
    strict: bool,
    where: str,
    shown: int,
    skipped_what: str = "",
) -> list[str]:
    """The plan's notes plus what decoding found: skipped corrupt files (the first ``shown`` named; an error under
    --strict) and how many images were upscaled to ``size``. ``skipped_what`` adds what else a skip drops."""
    notes = list(notes)
    if problems:
        names = ", ".join(f"{n} ({p})" for n, p in list(problems.items())[:shown])
        if strict:
            raise DataError(f"--strict: {len(problems)} corrupt or unreadable images in {where}: {names}")
        notes.append(f"skipped {len(problems)} corrupt or unreadable images{skipped_what}: {names}")
    if upscaled:
        notes.append(f"upscaled {upscaled} images smaller than {size} px with LANCZOS")
    return notes
