"""Load MNIST from the copy embedded in the package, or from a folder you point at.

The folder is, in order: the ``data_dir`` argument, the ``GENLAB_DATA`` environment
variable, else ``genlab/data/mnist/`` inside the package. Every file is checked against
the canonical MD5 of its *uncompressed* bytes, so a gzip or raw copy both pass.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from genlab.data.idx import read_idx_bytes, read_maybe_gzip
from genlab.errors import DataError

EMBEDDED_DIR = Path(__file__).parent / "mnist"
ENV_VAR = "GENLAB_DATA"

# split -> (images file, labels file), names without ".gz".
SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# MD5 and size of the uncompressed files as published by LeCun et al.
CANONICAL_MD5: dict[str, str] = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
CANONICAL_SIZE: dict[str, int] = {
    "train-images-idx3-ubyte": 47_040_016,
    "train-labels-idx1-ubyte": 60_008,
    "t10k-images-idx3-ubyte": 7_840_016,
    "t10k-labels-idx1-ubyte": 10_008,
}

_FIX = f"restore the file, or point {ENV_VAR} / --data-dir at a good copy of MNIST"


def load_mnist(split: Literal["train", "test"], data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Load one MNIST split as (images, labels), verified by MD5.

    Shapes: images uint8 (N, 28, 28), labels uint8 (N,), N = 60 000 (train) or
    10 000 (test). The arrays are cached per (split, folder) and returned
    **read-only**, so a second call is free and no caller can change another's data;
    use ``arr.copy()`` if you need to write.
    """
    if split not in SPLIT_FILES:
        raise DataError(f"unknown MNIST split {split!r}; use one of: {', '.join(SPLIT_FILES)}.")
    folder = resolve_data_dir(data_dir)
    paths = tuple(find_file(folder, stem) for stem in SPLIT_FILES[split])
    # File stats in the key: replacing a file on disk invalidates the cache entry.
    stats = tuple((p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    return _load_split(split, paths, stats)


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """Return the MNIST folder to use: argument, else $GENLAB_DATA, else the embedded copy."""
    chosen = data_dir if data_dir is not None else os.environ.get(ENV_VAR) or EMBEDDED_DIR
    folder = Path(chosen).expanduser().resolve()
    if not folder.is_dir():
        raise DataError(
            f"MNIST folder {folder} does not exist; point {ENV_VAR} / --data-dir at a "
            "folder holding the four MNIST files (.gz or uncompressed)."
        )
    return folder


def find_file(folder: Path, stem: str) -> Path:
    """Return ``folder/stem.gz`` or ``folder/stem``, whichever exists (gzip first)."""
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    raise DataError(f"MNIST file {stem}(.gz) is missing from {folder}; {_FIX}.")


def verified_bytes(path: Path, stem: str) -> bytes:
    """Return the uncompressed bytes of an MNIST file after checking their MD5."""
    data = read_maybe_gzip(path, max_bytes=CANONICAL_SIZE[stem])  # a gzip bomb stops here, not in RAM
    actual = hashlib.md5(data).hexdigest()
    expected = CANONICAL_MD5[stem]
    if actual != expected:
        raise DataError(
            f"MNIST file {path} failed its MD5 check: expected {expected}, got {actual} "
            f"({len(data)} bytes, expected {CANONICAL_SIZE[stem]}); {_FIX}."
        )
    return data


@lru_cache(maxsize=4)
def _load_split(
    split: str, paths: tuple[Path, Path], stats: tuple[tuple[int, int], ...]
) -> tuple[np.ndarray, np.ndarray]:
    image_stem, label_stem = SPLIT_FILES[split]
    images = read_idx_bytes(verified_bytes(paths[0], image_stem), name=str(paths[0]))
    labels = read_idx_bytes(verified_bytes(paths[1], label_stem), name=str(paths[1]))
    # The MD5 already pins the content; these asserts document the boundary.
    assert images.dtype == np.uint8 and images.shape[1:] == (28, 28), images.shape
    assert labels.dtype == np.uint8 and labels.shape == images.shape[:1], labels.shape
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels
