"""Load a named image data set in the one layout the trainers expect.

Every loader returns uint8 images (N, C, H, W), int64 labels (N,) and a :class:`DataInfo`.
Add a data set by adding one entry to ``LOADERS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genlab.data.captions import IMAGE_SIZE as CAPTIONS_SIZE
from genlab.data.captions import NUM_CODES as CAPTION_CODES
from genlab.data.captions import load_captions32
from genlab.data.mnist import load_mnist
from genlab.data.shapes64 import NUM_CLASSES as SHAPES64_CLASSES
from genlab.data.shapes64 import load_shapes64
from genlab.data.translation import translation_loader
from genlab.errors import DataError


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about a data set: image shape and number of classes."""

    channels: int
    height: int
    width: int
    num_classes: int


Loaded = tuple[np.ndarray, np.ndarray, DataInfo]


def _load_mnist_nchw(split: str, data_dir: str | Path | None) -> Loaded:
    images, labels = load_mnist(split, data_dir)  # type: ignore[arg-type]  # split checked there
    # (N, 28, 28) -> (N, 1, 28, 28); a view, so it stays read-only like load_mnist's arrays.
    return images[:, None], labels.astype(np.int64), DataInfo(1, 28, 28, 10)


def _load_shapes64(split: str, data_dir: str | Path | None) -> Loaded:
    images, labels = load_shapes64(split)  # procedural: data_dir does not apply
    return images, labels, DataInfo(3, 64, 64, SHAPES64_CLASSES)


LOADERS: dict[str, Callable[[str, str | Path | None], Loaded]] = {
    "mnist": _load_mnist_nchw,
    "shapes64": _load_shapes64,
    "digits-outline": translation_loader("digits-outline"),
    "digits-colour": translation_loader("digits-colour"),
    "digits-thickness": translation_loader("digits-thickness"),
    "shapes-edges256": translation_loader("shapes-edges256"),
    "captions32": lambda split, data_dir: (
        *load_captions32(split),
        DataInfo(3, CAPTIONS_SIZE, CAPTIONS_SIZE, CAPTION_CODES),
    ),  # labels: caption codes
}


def load_dataset(name: str, split: str, data_dir: str | Path | None = None) -> Loaded:
    """Load split ``split`` of data set ``name``.

    Shapes: images uint8 (N, C, H, W) (read-only), labels int64 (N,), plus its DataInfo.
    """
    loader = LOADERS.get(name)
    if loader is None:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(sorted(LOADERS))}.")
    return loader(split, data_dir)
