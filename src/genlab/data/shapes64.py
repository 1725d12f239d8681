"""shapes64: procedural 64x64 RGB ornament motifs with known, independent factors of variation.

Seven factors, each a small set of discrete values drawn independently and uniformly (like
dSprites / 3D Shapes), so that disentanglement metrics can use the factor codes directly:

=========== ====== ==========================================================
factor      values meaning
=========== ====== ==========================================================
motif       6      rosette (guilloche), star, ring, lattice, spiral, flower
hue         8      motif colour, HSV hue 0, 45, ..., 315 degrees
background  4      paper tint: cream, blue, green, rose
pos_x       8      motif centre, x = 25, 27, ..., 39 px (image centre is 32)
pos_y       8      motif centre, y = 25, 27, ..., 39 px
size        6      motif radius 12, 14, ..., 22 px
count       5      k = 3..7: lobes, points, segments, lattice cells + 1, arms, petals
=========== ====== ==========================================================

The motif is the class label. Rendering is vectorised NumPy: each of the 6 x 5 x 6 = 180
(motif, count, size) coverage masks is drawn once from a signed distance field, anti-aliased
by 4 x 4 supersampling, on a canvas 14 px larger than the image; a position is then a window
into that canvas and an image is ``background + (colour - background) * mask``.
"""

from __future__ import annotations

import colorsys
import math
from functools import lru_cache

import numpy as np

from genlab.errors import DataError

IMAGE_SIZE = 64
MOTIFS = ("rosette", "star", "ring", "lattice", "spiral", "flower")
NUM_CLASSES = len(MOTIFS)
HUES_DEGREES = tuple(range(0, 360, 45))
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "cream": (244, 234, 206),
    "blue": (206, 222, 244),
    "green": (210, 236, 212),
    "rose": (244, 212, 222),
}
POSITION_STEP = 2  # px between neighbouring positions
POSITIONS = tuple(25 + POSITION_STEP * i for i in range(8))  # motif centre, px from the top-left corner
SIZES = tuple(range(12, 23, 2))  # motif radius in px
COUNTS = tuple(range(3, 8))
FACTOR_NAMES = ("motif", "hue", "background", "pos_x", "pos_y", "size", "count")
FACTOR_SIZES = (
    len(MOTIFS),
    len(HUES_DEGREES),
    len(BACKGROUNDS),
    len(POSITIONS),
    len(POSITIONS),
    len(SIZES),
    len(COUNTS),
)
# split -> (number of images, seed of its factor draw)
SPLITS: dict[str, tuple[int, int]] = {"train": (30_000, 64_001), "test": (5_000, 64_002)}

SUPERSAMPLE = 4
_CANVAS = IMAGE_SIZE + POSITION_STEP * (len(POSITIONS) - 1)  # 78: every position is a 64x64 window
_CANVAS_CENTRE = POSITIONS[-1]  # motif centre on the canvas; window offset 0 puts it at 39 px
_SATURATION, _VALUE = 0.85, 0.62  # saturated, mid-dark ink: contrast with every paper tint
_CHUNK = 1024  # images composited at a time (each float32 temporary is 50 MB)


def sample_shapes64_factors(n: int, seed: int) -> np.ndarray:
    """Draw ``n`` factor vectors, each factor independently uniform over its values.

    Shapes: returns int64 (n, 7), columns in :data:`FACTOR_NAMES` order. PCG64 integers,
    so the draw is the same on every platform.
    """
    if not isinstance(n, int) or n < 0:
        raise DataError(f"number of images must be a non-negative int, got {n!r}.")
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, size, n) for size in FACTOR_SIZES], axis=1).astype(np.int64)


def render_shapes64(factors: np.ndarray) -> np.ndarray:
    """Render any factor combinations as images.

    Shapes: factors integer (N, 7) in :data:`FACTOR_NAMES` order -> uint8 (N, 3, 64, 64).
    """
    factors = _check_factors(factors)
    motif, hue, background, pos_x, pos_y, size, count = factors.T
    masks = _motif_masks()  # (6, 5, 6, 78, 78)
    # (6, 5, 6, 78, 78) -> (6, 5, 6, 8, 8, 64, 64): the window at (oy, ox) of every mask, no copy.
    windows = np.lib.stride_tricks.sliding_window_view(masks, (IMAGE_SIZE, IMAGE_SIZE), axis=(3, 4))
    windows = windows[:, :, :, ::POSITION_STEP, ::POSITION_STEP]
    last = len(POSITIONS) - 1
    ink, paper = _ink_colours()[hue], _paper_colours()[background]  # (N, 3) each, float32
    images = np.empty((factors.shape[0], 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for lo in range(0, factors.shape[0], _CHUNK):
        s = slice(lo, lo + _CHUNK)
        # A larger window offset moves the motif up/left: offset = last - position index.
        mask = windows[motif[s], count[s], size[s], last - pos_y[s], last - pos_x[s]]  # (B, 64, 64)
        pixels = paper[s, :, None, None] + (ink[s] - paper[s])[:, :, None, None] * mask[:, None]
        images[s] = np.rint(pixels).astype(np.uint8)  # (B, 3, 64, 64)
    return images


def load_shapes64(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Load one split as (images, labels); the label is the motif class.

    Shapes: images uint8 (N, 3, 64, 64), labels int64 (N,), N = 30 000 (train) or 5 000
    (test). Generated once per process and returned **read-only**, like :func:`load_mnist`.
    """
    images, factors = _generate_split(_check_split(split))
    return images, factors[:, 0]


def shapes64_factors(split: str) -> tuple[np.ndarray, tuple[str, ...], tuple[int, ...]]:
    """The ground-truth factors of a split, their names and how many values each takes.

    Shapes: factors int64 (N, 7) (read-only), row i generated image i of :func:`load_shapes64`.
    """
    return _generate_split(_check_split(split))[1], FACTOR_NAMES, FACTOR_SIZES


@lru_cache(maxsize=2)
def _generate_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    n, seed = SPLITS[split]
    factors = sample_shapes64_factors(n, seed)
    images = render_shapes64(factors)
    images.setflags(write=False)
    factors.setflags(write=False)  # views of it, such as the labels, are read-only too
    return images, factors


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise DataError(f"unknown shapes64 split {split!r}; use one of: {', '.join(SPLITS)}.")
    return split


def _check_factors(factors: np.ndarray) -> np.ndarray:
    factors = np.asarray(factors)
    if factors.ndim != 2 or factors.shape[1] != len(FACTOR_NAMES) or not np.issubdtype(factors.dtype, np.integer):
        raise DataError(
            f"shapes64 factors must be integers of shape (N, {len(FACTOR_NAMES)}), got {factors.dtype} "
            f"{factors.shape}."
        )
    for j, (name, size) in enumerate(zip(FACTOR_NAMES, FACTOR_SIZES)):
        if factors.shape[0] and not (0 <= factors[:, j].min() and factors[:, j].max() < size):
            raise DataError(f"shapes64 factor {name!r} (column {j}) must lie in 0..{size - 1}.")
    return factors.astype(np.int64)


@lru_cache(maxsize=1)
def _ink_colours() -> np.ndarray:
    """Motif colour per hue value, float32 (8, 3) in 0..255."""
    rgb = [colorsys.hsv_to_rgb(h / 360, _SATURATION, _VALUE) for h in HUES_DEGREES]
    return (np.array(rgb) * 255).astype(np.float32)


@lru_cache(maxsize=1)
def _paper_colours() -> np.ndarray:
    """Background colour per background value, float32 (4, 3) in 0..255."""
    return np.array(list(BACKGROUNDS.values()), dtype=np.float32)


@lru_cache(maxsize=1)
def _motif_masks() -> np.ndarray:
    """Coverage in [0, 1] of every (motif, count, size), centred at 39 px on the 78x78 canvas.

    Shapes: float32 (6, 5, 6, 78, 78). Read-only: it is shared by every render.
    """
    # Sub-pixel centres in canvas px; pixel i covers [i, i + 1).
    sub = (np.arange(_CANVAS * SUPERSAMPLE) + 0.5) / SUPERSAMPLE - _CANVAS_CENTRE
    masks = np.empty((len(MOTIFS), len(COUNTS), len(SIZES), _CANVAS, _CANVAS), dtype=np.float32)
    for si, radius in enumerate(SIZES):
        y, x = np.meshgrid(sub / radius, sub / radius, indexing="ij")  # motif units: radius 1
        r, theta = np.hypot(x, y), np.arctan2(x, -y)  # theta = 0 points up, clockwise
        px = 1.0 / radius  # one image pixel in motif units
        for mi, motif in enumerate(MOTIFS):
            for ki, k in enumerate(COUNTS):
                sd = _SIGNED_DISTANCE[motif](x, y, r, theta, k, px)  # < 0 inside
                coverage = np.clip(0.5 - sd * (radius * SUPERSAMPLE), 0.0, 1.0)  # 1-sub-pixel ramp
                # (78*S, 78*S) -> (78, S, 78, S) -> mean over each S x S block
                blocks = coverage.reshape(_CANVAS, SUPERSAMPLE, _CANVAS, SUPERSAMPLE)
                masks[mi, ki, si] = blocks.mean(axis=(1, 3))
    masks.setflags(write=False)
    return masks


# Signed distance fields in motif units (radius 1), negative inside. Arguments: x, y, polar r,
# theta, the count k and one image pixel ``px`` (so strokes keep a width in pixels).


def _polar_curve_distance(r: np.ndarray, theta: np.ndarray, f, h: float = 1e-4) -> np.ndarray:
    """Signed distance to the polar curve r = f(theta), to first order: g / |grad g|, g = r - f."""
    slope = (f(theta + h) - f(theta - h)) / (2 * h)
    return (r - f(theta)) / np.sqrt(1.0 + (slope / np.maximum(r, 1e-3)) ** 2)


def _wrap(phase: np.ndarray) -> np.ndarray:
    """Angle to the nearest multiple of 2 pi, in [-pi, pi)."""
    return (phase + np.pi) % (2 * np.pi) - np.pi


def _rosette(x, y, r, theta, k, px):
    # Guilloche: three phase-shifted waves r = 0.6 + 0.25 cos(k theta + 2 pi j / 3) in a border ring.
    waves = [
        _polar_curve_distance(r, theta, lambda t, j=j: 0.6 + 0.25 * np.cos(k * t + 2 * np.pi * j / 3))
        for j in range(3)
    ]
    strokes = np.minimum(np.min(np.abs(waves), axis=0), np.abs(r - 0.95))
    return strokes - 0.8 * px


def _star(x, y, r, theta, k, px):
    # k points at radius 1, valleys at radius 0.4, straight edges between them.
    half = np.pi / k
    folded = np.abs(_wrap(k * theta) / k)  # angle to the nearest tip, in [0, half]
    p = np.stack([r * np.cos(folded), r * np.sin(folded)])  # (2, ...) in the tip's frame
    tip, valley = np.array([1.0, 0.0]), 0.4 * np.array([np.cos(half), np.sin(half)])
    edge = (valley - tip) / np.linalg.norm(valley - tip)
    # Distance to the edge line tip -> valley; positive on the far side from the centre.
    return edge[1] * (p[0] - tip[0]) - edge[0] * (p[1] - tip[1])


def _ring(x, y, r, theta, k, px):
    # Annulus 0.53 <= r <= 0.97 cut by k radial gaps of half-width 0.09 into k segments.
    annulus = np.abs(r - 0.75) - 0.22
    to_gap = _wrap(k * theta + np.pi) / k  # angle to the nearest gap; gaps sit between the top and its neighbours
    return np.maximum(annulus, 0.09 - r * np.abs(np.sin(to_gap)))


def _lattice(x, y, r, theta, k, px):
    # Diamond |x| + |y| <= 1 holding a square lattice of k - 1 cells per side, strokes 1.3 px wide.
    u, v = x + y, x - y  # diagonal coordinates, sqrt(2) x the Euclidean distance along them
    cells = k - 1
    to_line_u = np.abs((u + 1) * cells / 2 % 1.0 - 0.5)  # 0.5 on a line
    to_line_v = np.abs((v + 1) * cells / 2 % 1.0 - 0.5)
    lines = (0.5 - np.maximum(to_line_u, to_line_v)) * (2 / cells) / math.sqrt(2)
    diamond = (np.maximum(np.abs(u), np.abs(v)) - 1.0) / math.sqrt(2)
    half_width = 0.65 * px
    return np.maximum(diamond - half_width, lines - half_width)


def _spiral(x, y, r, theta, k, px):
    # k arms, each turning 0.35 times from the centre to the rim; arms fill half the phase.
    turns = 0.35
    phase = k * (theta - 2 * np.pi * turns * r)
    grad = k * np.sqrt(1.0 / np.maximum(r, 1e-3) ** 2 + (2 * np.pi * turns) ** 2)  # |grad phase|
    arms = (np.abs(_wrap(phase)) - np.pi / 2) / grad
    return np.maximum(arms, np.maximum(r - 1.0, 0.12 - r))


def _flower(x, y, r, theta, k, px):
    # k rounded petals r = 0.28 + 0.72 |cos(k theta / 2)|^0.8 around a hole of radius 0.16.
    petals = _polar_curve_distance(r, theta, lambda t: 0.28 + 0.72 * np.abs(np.cos(k * t / 2)) ** 0.8)
    return np.maximum(petals, 0.16 - r)


_SIGNED_DISTANCE = {
    "rosette": _rosette,
    "star": _star,
    "ring": _ring,
    "lattice": _lattice,
    "spiral": _spiral,
    "flower": _flower,
}
