"""``shapes-edges256``: a procedural 256 x 256 paired set, edge drawing -> filled rendering of shapes.

Each picture holds 1 to 4 non-overlapping shapes (circle, axis-aligned square, upward
triangle) of radius 20..60 px. Domain A is the drawing: the shapes' 3-px inner outlines, black
on white (stored as three equal channels). Domain B is the rendering: the same shapes filled
in the colour of their kind (circle red, square green, triangle blue) with the outline kept
dark, on a light grey paper. A filter must close each outline and recognise its kind, so it
needs context well beyond a 3 x 3 neighbourhood. Label: the number of shapes minus 1 (0..3).

Splits are rendered deterministically from their own seeds (train 400, test 64 pictures),
vectorised per shape with NumPy; the real-time filter of docs/results/deploy.md trains on it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

SIZE = 256
SPLITS = {"train": (400, 9_101), "test": (64, 9_102)}  # pictures, seed
KINDS = ("circle", "square", "triangle")
FILL_RGB = np.array([[220, 60, 50], [60, 170, 80], [60, 90, 210]], dtype=np.uint8)  # by kind
PAPER_RGB = np.array([236, 236, 230], dtype=np.uint8)
INK_RGB = np.array([30, 30, 30], dtype=np.uint8)
EDGE_PX = 3
MAX_SHAPES = 4


def shape_mask(kind: int, cx: float, cy: float, r: float, size: int = SIZE) -> np.ndarray:
    """bool (size, size): a circle of radius r, a square of half-side 0.8 r, or an upward triangle in the circle."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    if kind == 0:
        return (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    if kind == 1:
        return (np.abs(x - cx) <= 0.8 * r) & (np.abs(y - cy) <= 0.8 * r)
    # vertices at angles -90, 30, 150 degrees: the top, bottom right and bottom left of the circle
    h = 0.5 * r  # the base lies r/2 below the centre
    side = (y - (cy - r)) * (np.sqrt(3.0) / 3.0)  # half-width of the triangle at height y
    return (y <= cy + h) & (y >= cy - r) & (np.abs(x - cx) <= side)


def _place(rng: np.random.Generator, count: int) -> list[tuple[int, float, float, float]]:
    """Up to ``count`` (kind, cx, cy, r) whose circles neither overlap nor leave the picture."""
    shapes: list[tuple[int, float, float, float]] = []
    for _ in range(50 * count):
        if len(shapes) == count:
            break
        r = float(rng.uniform(20, 60))
        cx, cy = (float(v) for v in rng.uniform(r + 4, SIZE - r - 4, size=2))
        if all((cx - x) ** 2 + (cy - y) ** 2 > (r + q + 6) ** 2 for _, x, y, q in shapes):
            shapes.append((int(rng.integers(len(KINDS))), cx, cy, r))
    return shapes


def render_pair(shapes: list[tuple[int, float, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """(drawing A, rendering B), uint8 (3, SIZE, SIZE) each, of the given shapes."""
    a = np.full((SIZE, SIZE), 255, dtype=np.uint8)
    b = np.broadcast_to(PAPER_RGB[:, None, None], (3, SIZE, SIZE)).copy()
    for kind, cx, cy, r in shapes:
        mask = shape_mask(kind, cx, cy, r)
        edge = mask & ~ndimage.binary_erosion(mask, iterations=EDGE_PX)
        a[edge] = 0
        b[:, mask] = FILL_RGB[kind][:, None]
        b[:, edge] = INK_RGB[:, None]
    return np.repeat(a[None], 3, axis=0), b


def render_split(split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A, B, labels): uint8 (N, 3, 256, 256) twice and int64 (N,) shape counts minus 1, for split ``split``."""
    n, seed = SPLITS[split]
    rng = np.random.default_rng(seed)
    a = np.empty((n, 3, SIZE, SIZE), dtype=np.uint8)
    b = np.empty_like(a)
    labels = np.empty(n, dtype=np.int64)
    for i in range(n):
        shapes = _place(rng, int(rng.integers(1, MAX_SHAPES + 1)))
        a[i], b[i] = render_pair(shapes)
        labels[i] = len(shapes) - 1
    return a, b, labels
