"""Build small user data sets in tmp dirs, in the formats `genlab train --data` reads, and snapshot folders."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image

from genlab.data import write_idx


def pictures(n: int, channels: int = 1, size: int = 28, seed: int = 0) -> np.ndarray:
    """Distinct uint8 (N, C, S, S) images: noise plus a bright square whose place depends on the index."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 120, size=(n, channels, size, size), dtype=np.uint8)
    for i in range(n):
        r, c = (3 * i) % (size - 6), (7 * i) % (size - 6)
        images[i, :, r : r + 6, c : c + 6] = 200 + (i % 50)
    return images


def to_pil(image: np.ndarray) -> Image.Image:
    """(C, H, W) uint8 -> a Pillow image (L or RGB)."""
    return Image.fromarray(image[0]) if image.shape[0] == 1 else Image.fromarray(image.transpose(1, 2, 0))


def write_folder(
    root: Path, images: np.ndarray, labels: np.ndarray | None = None, *, split: str = "", suffix: str = ".png", **save
) -> list[Path]:
    """Write images as files named by index (``00042.png``), in class folders ``<label>/`` when labels are given."""
    paths = []
    for i, image in enumerate(images):
        folder = root / split / ("" if labels is None else str(int(labels[i])))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{i:05d}{suffix}"
        to_pil(image).save(path, **save)
        paths.append(path)
    return paths


def write_idx_folder(root: Path, train, test, *, prefix: str = "", compress: bool = True) -> None:
    """MNIST-layout IDX files (``train-images-idx3-ubyte[.gz]``...); ``train``, ``test``: (images (N,H,W), labels)."""
    root.mkdir(parents=True, exist_ok=True)
    gz = ".gz" if compress else ""
    for split, (images, labels) in (("train", train), ("t10k", test)):
        write_idx(root / f"{prefix}{split}-images-idx3-ubyte{gz}", images)
        write_idx(root / f"{prefix}{split}-labels-idx1-ubyte{gz}", labels.astype(np.uint8))


def cifar_records(images: np.ndarray, labels: np.ndarray, coarse: np.ndarray | None = None) -> bytes:
    """CIFAR binary records: [coarse label byte,] label byte, then 3072 bytes of R, G, B 32x32 planes."""
    head = [labels[:, None]] if coarse is None else [coarse[:, None], labels[:, None]]
    rows = np.concatenate([*(h.astype(np.uint8) for h in head), images.reshape(len(images), 3072)], axis=1)
    return rows.astype(np.uint8).tobytes()


def write_cifar10(root: Path, images: np.ndarray, labels: np.ndarray, n_test: int) -> None:
    """CIFAR-10 binary: five data_batch_k.bin splitting the train images, test_batch.bin, batches.meta.txt."""
    root.mkdir(parents=True, exist_ok=True)
    train_x, train_y = images[:-n_test], labels[:-n_test]
    for k, part in enumerate(np.array_split(np.arange(len(train_x)), 5), start=1):
        (root / f"data_batch_{k}.bin").write_bytes(cifar_records(train_x[part], train_y[part]))
    (root / "test_batch.bin").write_bytes(cifar_records(images[-n_test:], labels[-n_test:]))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (root / "batches.meta.txt").write_text("\n".join(names) + "\n\n")


def write_cifar100(root: Path, images: np.ndarray, fine: np.ndarray, coarse: np.ndarray, n_test: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.bin").write_bytes(cifar_records(images[:-n_test], fine[:-n_test], coarse[:-n_test]))
    (root / "test.bin").write_bytes(cifar_records(images[-n_test:], fine[-n_test:], coarse[-n_test:]))


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` (links not followed) with its type, size, mtime and content hash."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            info = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() else ""
            out[str(path.relative_to(root))] = (info.st_mode, info.st_size, info.st_mtime_ns, digest)
    return out


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)
