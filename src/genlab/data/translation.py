"""Procedural image-translation data sets derived from the embedded MNIST, with ground truth.

Layout (the convention every translation family relies on): one uint8 array
(N, C, H, 2W) per split, **domain A (the input) in the left half and domain B (the target)
in the right half**, both with the same C channels; labels (N,) are the digit class of the
A image. ``DataInfo.width`` is therefore twice an image's width, and
:func:`split_pair` cuts a batch in two. This is the side-by-side AB layout of the
pix2pix paper's own data sets; it keeps C in {1, 3}, so the trainer's sample grids, which
show a family's ``sample`` output, work unchanged. A grey input of an RGB target is stored
as three equal channels.

=================== ======== ======= =============================================================
name                kind     C x H x W  A (left)                     -> B (right)
=================== ======== ======= =============================================================
digits-outline      paired   1 x 28x28  1-px contour of the thick digit -> the thick digit, filled
digits-colour       paired   3 x 28x28  grey digit (3 equal channels)  -> digit coloured by class
                                        (hue 36 degrees x class), diagonal stripe texture
digits-thickness    unpaired 1 x 28x28  thin strokes (2x2 grey erosion) <-> thick strokes (grey
                                        dilation by a 3x3 cross)
shapes-edges256     paired   3 x 256x256 edge drawing of 1-4 shapes -> the shapes filled by kind
                                        (genlab.data.edges256; 400 train / 64 test pictures)
=================== ======== ======= =============================================================

Paired sets: the train split is MNIST train, the held-out test split MNIST test, row k of
a split is A and B of the same digit. Unpaired set: the train split draws A from one half of
a seeded permutation of MNIST train and B from the other half, so no digit appears in both
domains; the test split has A = MNIST test in order and B = the same digits under an
independent seeded permutation (not aligned). :func:`translation_ground_truth` returns the
aligned test pairs (each A with its true B counterpart) to score translations against.
Every transform is vectorised NumPy / scipy.ndimage and deterministic.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from scipy import ndimage

from genlab.data.edges256 import render_split
from genlab.data.mnist import load_mnist
from genlab.errors import DataError

if TYPE_CHECKING:
    from genlab.data.datasets import DataInfo

CROSS = np.array([[[0, 1, 0], [1, 1, 1], [0, 1, 0]]], dtype=bool)  # (1, 3, 3): no mixing across images
SQUARE2 = np.ones((1, 2, 2), dtype=bool)
UNPAIRED_SEED = 8_001  # permutation of MNIST train into the A and B halves
TEST_SHUFFLE_SEED = 8_002  # permutation of the test split's B column
STRIPE_PERIOD = 6.0  # px, along the diagonal, of the colour set's texture
BACKGROUND_RGB = (24, 24, 48)  # the colour set's dark-blue paper


def thick_digits(x: np.ndarray) -> np.ndarray:
    """Grey dilation by a 3x3 cross: every stroke about 2 px wider. uint8 (N, H, W) -> same."""
    return ndimage.grey_dilation(x, footprint=CROSS)


def thin_digits(x: np.ndarray) -> np.ndarray:
    """Grey erosion by a 2x2 square: every stroke about 1 px thinner. uint8 (N, H, W) -> same."""
    return ndimage.grey_erosion(x, footprint=SQUARE2)


def outline_digits(x: np.ndarray) -> np.ndarray:
    """The 1-px inner contour of the thick digit (binarised at 128), 0 or 255. (N, H, W) -> same.

    A pixel is on the contour when it is ink and one of its 4 neighbours (or the border) is not:
    ink minus its binary erosion by the 3x3 cross.
    """
    solid = thick_digits(x) >= 128
    inner = np.pad(solid, ((0, 0), (1, 1), (1, 1)))  # paper outside the image, as binary_erosion's border
    eroded = solid & inner[:, :-2, 1:-1] & inner[:, 2:, 1:-1] & inner[:, 1:-1, :-2] & inner[:, 1:-1, 2:]
    return (solid & ~eroded).astype(np.uint8) * 255


def class_colours() -> np.ndarray:
    """RGB in [0, 1] of each digit class: HSV hue 36 degrees x class, saturation 0.8, value 1. (10, 3)."""
    return np.array([colorsys.hsv_to_rgb(k / 10, 0.8, 1.0) for k in range(10)])


def colour_digits(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Paint each digit in its class colour with a diagonal stripe texture on dark paper.

    pixel = paper + m * (colour * stripe - paper), m = grey / 255 and
    stripe = 0.7 + 0.3 cos(2 pi (i + j) / 6). Shapes: uint8 (N, H, W), labels (N,) -> uint8 (N, 3, H, W).
    """
    n, h, w = x.shape
    i, j = np.mgrid[0:h, 0:w]
    stripe = 0.7 + 0.3 * np.cos(2 * np.pi * (i + j) / STRIPE_PERIOD)  # (H, W)
    ink = (class_colours()[labels][:, :, None, None] * stripe).astype(
        np.float32
    )  # (N, 3, 1, 1) * (H, W) -> (N, 3, H, W)
    paper = np.array(BACKGROUND_RGB, dtype=np.float32)[None, :, None, None] / 255
    m = x[:, None].astype(np.float32) / 255  # (N, 1, H, W)
    out = paper + m * (ink - paper)
    return np.round(out * 255).astype(np.uint8)


def _grey(x: np.ndarray, _labels: np.ndarray) -> np.ndarray:
    return x[:, None]  # (N, H, W) -> (N, 1, H, W)


def _grey_as_rgb(x: np.ndarray, _labels: np.ndarray) -> np.ndarray:
    return np.repeat(x[:, None], 3, axis=1)  # (N, H, W) -> (N, 3, H, W)


def _lift(f: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    return lambda x, labels: f(x)[:, None]  # a grey transform, as (N, 1, H, W)


@dataclass(frozen=True)
class TranslationSet:
    """A translation data set: how domain A and domain B are made from an MNIST digit."""

    name: str
    kind: Literal["paired", "unpaired"]
    channels: int
    a: Callable[[np.ndarray, np.ndarray], np.ndarray] | None  # uint8 (N, H, W), labels (N,) -> uint8 (N, C, H, W)
    b: Callable[[np.ndarray, np.ndarray], np.ndarray] | None
    description: str
    size: int = 28  # H = W of one image
    num_classes: int = 10
    # A set not made from MNIST digits: split -> (A, B, labels), aligned (a and b are then None)
    source: Callable[[str], tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None


TRANSLATION_SETS: dict[str, TranslationSet] = {
    s.name: s
    for s in (
        TranslationSet(
            "digits-outline",
            "paired",
            1,
            _lift(outline_digits),
            _lift(thick_digits),
            "contour of a thick digit -> the filled thick digit",
        ),
        TranslationSet(
            "digits-colour",
            "paired",
            3,
            _grey_as_rgb,
            colour_digits,
            "grey digit -> digit in its class colour, striped",
        ),
        TranslationSet(
            "digits-thickness",
            "unpaired",
            1,
            _lift(thin_digits),
            _lift(thick_digits),
            "thin-stroke digits <-> thick-stroke digits",
        ),
        TranslationSet(
            "shapes-edges256",
            "paired",
            3,
            None,
            None,
            "256 x 256 edge drawing of shapes -> the shapes filled by kind (genlab.data.edges256)",
            size=256,
            num_classes=4,
            source=render_split,
        ),
    )
}


def _get(name: str) -> TranslationSet:
    if name not in TRANSLATION_SETS:
        raise DataError(f"unknown translation data set {name!r}; known: {', '.join(TRANSLATION_SETS)}.")
    return TRANSLATION_SETS[name]


def _check_split(split: str) -> None:
    if split not in ("train", "test"):
        raise DataError(f"split must be 'train' or 'test', got {split!r}.")


def join_pair(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Put A left of B. Shapes: (N, C, H, W) twice -> (N, C, H, 2W)."""
    if a.shape != b.shape:
        raise DataError(f"A and B must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}.")
    return torch.cat([a, b], dim=3) if isinstance(a, torch.Tensor) else np.concatenate([a, b], axis=3)


def split_pair(images: np.ndarray | torch.Tensor):
    """(A, B) halves of side-by-side pairs. Shapes: (N, C, H, 2W) -> (N, C, H, W) twice (views)."""
    w2 = images.shape[-1]
    if images.ndim != 4 or w2 % 2:
        raise DataError(f"translation pairs are (N, C, H, 2W) with an even width, got shape {tuple(images.shape)}.")
    return images[..., : w2 // 2], images[..., w2 // 2 :]


def _readonly(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.flags.writeable = False


@lru_cache(maxsize=8)
def _build(name: str, split: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pairs (N, C, H, 2W), labels (N,), aligned A, aligned B), all read-only."""
    spec = _get(name)
    if spec.source is not None:
        a_all, b_all, y = spec.source(split)
    else:
        x, y = load_mnist(split, data_dir)  # type: ignore[arg-type]
        y = y.astype(np.int64)
        a_all, b_all = spec.a(x, y), spec.b(x, y)  # aligned: row k of both is digit k
    if spec.kind == "paired":
        pairs, labels = join_pair(a_all, b_all), y
    elif split == "train":
        order = np.random.default_rng(UNPAIRED_SEED).permutation(len(a_all))
        half = len(a_all) // 2
        a_idx, b_idx = order[:half], order[half : 2 * half]  # disjoint digits: truly unpaired
        pairs, labels = join_pair(a_all[a_idx], b_all[b_idx]), y[a_idx]
    else:
        shuffle = np.random.default_rng(TEST_SHUFFLE_SEED).permutation(len(a_all))
        pairs, labels = join_pair(a_all, b_all[shuffle]), y
    _readonly(pairs, labels, a_all, b_all)
    return pairs, labels, a_all, b_all


def load_translation(name: str, split: str, data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split ``split`` of translation set ``name``, in the A|B layout of the module docstring.

    Shapes: uint8 (N, C, H, 2W) (read-only), int64 labels (N,) of the A digits.
    """
    _check_split(split)
    pairs, labels, _, _ = _build(name, split, None if data_dir is None else str(data_dir))
    return pairs, labels


def translation_ground_truth(
    name: str, split: str = "test", data_dir: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Aligned (A, true B, labels): row k of A and B is the same digit, for scoring.

    For a paired set this is the split itself, cut in two; for an unpaired one it pairs
    each A image with the B counterpart the loader deliberately shuffled away.
    Shapes: uint8 (N, C, H, W) twice (read-only), int64 (N,).
    """
    _check_split(split)
    _, labels, a, b = _build(name, split, None if data_dir is None else str(data_dir))
    if _get(name).kind == "unpaired" and split == "train":
        raise DataError(f"{name} is unpaired: its train split has no aligned pairs; score on split='test'.")
    return a, b, labels  # labels of the A digits, which the test split keeps in MNIST order


def translation_info(name: str) -> DataInfo:
    """The DataInfo of translation set ``name``: C, H = its size (28 for the digit sets), width 2 H (A|B)."""
    from genlab.data.datasets import DataInfo  # late: datasets.py imports this module for LOADERS

    spec = _get(name)
    return DataInfo(spec.channels, spec.size, 2 * spec.size, spec.num_classes)


def translation_loader(name: str):
    """A ``LOADERS`` entry for set ``name``: (split, data_dir) -> (images, labels, DataInfo)."""
    _get(name)

    def load(split: str, data_dir: str | Path | None):
        images, labels = load_translation(name, split, data_dir)
        return images, labels, translation_info(name)

    return load
