"""Visible watermark: a text band under the picture plus a faint tiled mark across it.

The band carries the full text, legible at any width (it wraps). The tiles repeat a
short token ("AI") over every part of the picture, so cropping the band away, or cutting
one image out of a grid, still leaves the mark on the pixels that remain.

Text is drawn with Pillow's built-in bitmap font (6 px per character, 11 px per line,
no anti-aliasing), the most legible choice at these sizes. It covers Latin-1; other
characters are shown as their closest Latin-1 spelling ("—" as "-", "é" stays), or "?".
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from genlab.errors import ConfigError

DEFAULT_TEXT = "AI GENERATED"
LINE_HEIGHT = 11  # the bitmap font's line height in pixels
BAND_PADDING = 2  # pixels above and below the band's text
_ASCII_LOOKALIKES = str.maketrans(
    {"—": "-", "–": "-", "‐": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...", "•": "*"}
)


@dataclass(frozen=True)
class VisibleWatermark:
    """Settings of the visible mark; pass ``watermark=None`` to a writer to leave it off."""

    text: str = DEFAULT_TEXT
    tile_text: str = "AI"
    tile_opacity: float = 0.2  # how far a tile pixel moves towards the opposite of its brightness

    def check(self) -> None:
        for name in ("text", "tile_text"):
            value = getattr(self, name)
            if not value.strip() or len(value) > 200 or not value.isprintable():
                raise ConfigError(f"watermark {name} must be 1..200 printable characters, got {value!r}")
        if not 0 < self.tile_opacity <= 1:
            raise ConfigError(f"tile_opacity must lie in (0, 1], got {self.tile_opacity}")


def apply_visible(image: np.ndarray, mark: VisibleWatermark) -> np.ndarray:
    """Tile the mark over ``image`` and add the text band below it.

    Shapes: uint8 (H, W) -> (H + B, W) or (H, W, 3) -> (H + B, W, 3), with
    B = :func:`band_height` (W, mark).
    """
    mark.check()
    image = np.asarray(image)
    tiled = _tile(image, mark)
    band = np.full((band_height(image.shape[1], mark), *image.shape[1:]), 255, np.uint8)
    text = _text_mask(wrap(mark.text, image.shape[1] - 2 * BAND_PADDING), image.shape[1], align="center")
    rows = slice(BAND_PADDING, BAND_PADDING + text.shape[0])
    band[rows][text] = 0  # black text on white
    return np.concatenate([tiled, band], axis=0)


def band_height(width: int, mark: VisibleWatermark) -> int:
    """Height in pixels of the text band for a picture ``width`` pixels wide."""
    return 2 * BAND_PADDING + LINE_HEIGHT * len(wrap(mark.text, width - 2 * BAND_PADDING))


def wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap of ``text`` (as drawn) into lines at most ``width`` pixels wide."""
    per_line = max(1, width // _char_width())
    lines: list[str] = []
    for word in drawable(text).split():
        chunks = [word[i : i + per_line] for i in range(0, len(word), per_line)]  # over-long words break
        for i, chunk in enumerate(chunks):
            if i == 0 and lines and len(lines[-1]) + 1 + len(chunk) <= per_line:
                lines[-1] += " " + chunk
            else:
                lines.append(chunk)
    return lines or [""]


def drawable(text: str) -> str:
    """``text`` as the bitmap font can draw it: Latin-1, look-alikes for common punctuation."""
    text = text.translate(_ASCII_LOOKALIKES)
    out = []
    for ch in text:
        if ord(ch) < 256:
            out.append(ch)
            continue
        base = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
        out.append(base or "?")
    return "".join(out)


def warn_if_off(mark: VisibleWatermark | None, where: str) -> None:
    """Print the one-line warning that publishing without the visible mark deserves."""
    if mark is None:
        print(
            f"genlab: warning: {where} written WITHOUT the visible 'AI generated' mark; the metadata records this.",
            file=sys.stderr,
        )


def _tile(image: np.ndarray, mark: VisibleWatermark) -> np.ndarray:
    """Blend the tile token over the whole picture in a staggered (brick) lattice."""
    h, w = image.shape[:2]
    token = _text_mask([drawable(mark.tile_text)], None, align="left")
    th, tw = token.shape
    step_y, step_x = th + 5, tw + 10  # sparse enough to read the picture, dense enough for every 28x28 cell
    mask = np.zeros((h + step_y, w + step_x), bool)
    for row, y in enumerate(range(0, h + step_y - th, step_y)):
        for x in range(-(row % 2) * (step_x // 2), w + step_x - tw, step_x):
            if x >= 0:
                mask[y : y + th, x : x + tw] |= token
    mask = mask[:h, :w]
    pixels = image.astype(np.float64)
    luma = pixels if pixels.ndim == 2 else pixels @ np.array([0.299, 0.587, 0.114])
    target = np.where(luma < 128, 255.0, 0.0)  # move dark pixels up, light ones down
    if pixels.ndim == 3:
        target, mask = target[:, :, None], mask[:, :, None]
    blended = np.where(mask, pixels + mark.tile_opacity * (target - pixels), pixels)
    return np.round(blended).astype(np.uint8)


def _text_mask(lines: list[str], width: int | None, align: str) -> np.ndarray:
    """Boolean ink mask of ``lines`` drawn in the bitmap font. Shapes: (len(lines) * 11, width)."""
    font = _font()
    natural = max(int(font.getlength(line)) for line in lines)
    width = natural if width is None else width
    canvas = Image.new("1", (max(width, 1), LINE_HEIGHT * len(lines)), 0)
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(lines):
        x = (width - int(font.getlength(line))) // 2 if align == "center" else 0
        draw.text((x, i * LINE_HEIGHT), line, font=font, fill=1)
    return np.asarray(canvas, bool)


@functools.cache
def _font() -> ImageFont.ImageFont:
    return ImageFont.load_default_imagefont()


def _char_width() -> int:
    return int(_font().getlength("M"))
