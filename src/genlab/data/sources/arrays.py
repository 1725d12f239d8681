"""Data sets that already are arrays: IDX files, the CIFAR binary version, and .npz / .npy files.

- IDX (MNIST, Fashion-MNIST, KMNIST, EMNIST): recognised by the IDX magic (0x00 0x00 0x08, then
  3 dimensions for images, 1 for labels), whatever the file is called; the split comes from the
  name (``train``; ``t10k`` or ``test``) and labels pair with images by name (``images`` ->
  ``labels``, ``idx3`` -> ``idx1``). EMNIST files (``emnist-*``) are stored transposed and are
  turned back.
- CIFAR binary (https://www.cs.toronto.edu/~kriz/cifar.html): CIFAR-10 ``data_batch_1..5.bin`` +
  ``test_batch.bin``, records of 1 label byte + 3072 pixel bytes (R, G, B planes of 32x32);
  CIFAR-100 ``train.bin`` + ``test.bin``, records of a coarse and a fine label byte + 3072 (the
  fine label is used). The pickled "python version" is refused: genlab never loads pickles.
- .npy: uint8 images. .npz: ``images`` (+ ``labels``), or ``x_train``/``y_train``/``x_test``/
  ``y_test``, or ``train_images``/``train_labels``/``test_images``/``test_labels``. Channels first
  (N, C, H, W) or last (N, H, W, C), C in 1..4, or grey (N, H, W). Read by genlab.data.npz (no pickles).
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from genlab.data.decode import ImageProblem
from genlab.data.idx import parse_header, read_idx_bytes
from genlab.data.npz import npz_members, read_npy, read_npz_arrays
from genlab.data.sources.tree import Tree
from genlab.errors import DataError

MAX_ARRAY_BYTES = 8 << 30  # one array file larger than this is refused unread
MAX_CLASSES = 65_536
IDX_MAGIC_IMAGES, IDX_MAGIC_LABELS = b"\x00\x00\x08\x03", b"\x00\x00\x08\x01"
CIFAR10 = (*(f"data_batch_{k}.bin" for k in range(1, 6)), "test_batch.bin")
CIFAR100 = ("train.bin", "test.bin")
CIFAR_NAMES = {"cifar10": "batches.meta.txt", "cifar100": "fine_label_names.txt"}
NPZ_LAYOUTS = (
    ({"train": ("images", "labels")}),
    ({"train": ("x_train", "y_train"), "test": ("x_test", "y_test")}),
    ({"train": ("train_images", "train_labels"), "test": ("test_images", "test_labels")}),
)


@dataclass
class RawArrays:
    """Each split's uint8 (N, C, H, W) images and int64 (N,) labels (None: unlabelled), class names."""

    kind: str
    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray | None]
    classes: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)


def find_cifar(tree: Tree) -> tuple[str, dict[str, list[str]]] | None:
    """("cifar10" or "cifar100", split -> file names) when the tree holds the CIFAR binary version."""
    by_folder: dict[str, set[str]] = {}
    for e in tree.entries:
        path = PurePosixPath(e.name)
        by_folder.setdefault(str(path.parent), set()).add(path.name)
    for folder, names in by_folder.items():
        if {"data_batch_1", "batches.meta"} <= names or {"train", "meta"} <= names:
            raise DataError(
                f"{tree.root} holds the pickled 'python version' of CIFAR; genlab never loads pickles: download the "
                "binary version (cifar-10-binary.tar.gz / cifar-100-binary.tar.gz) and point --data at it"
            )
        prefix = "" if folder == "." else f"{folder}/"
        if set(CIFAR10) <= names:
            return "cifar10", {"train": [prefix + n for n in CIFAR10[:5]], "test": [prefix + CIFAR10[5]]}
        if set(CIFAR100) <= names:
            return "cifar100", {"train": [prefix + "train.bin"], "test": [prefix + "test.bin"]}
    return None


def read_cifar(tree: Tree, kind: str, files: dict[str, list[str]]) -> RawArrays:
    """The CIFAR binary records of each split as arrays."""
    record, label_at, classes = (3073, 0, 10) if kind == "cifar10" else (3074, 1, 100)
    out = RawArrays(kind, {}, {})
    for split, names in files.items():
        parts = []
        for name in names:
            data = _read(tree, name)
            if len(data) == 0 or len(data) % record:
                raise DataError(
                    f"{name} in {tree.root} holds {len(data)} bytes, not a whole number of {kind} records of "
                    f"{record} bytes; is it the {kind} binary version, complete?"
                )
            parts.append(np.frombuffer(data, np.uint8).reshape(-1, record))  # (n, record)
        rows = np.concatenate(parts)
        labels = rows[:, label_at].astype(np.int64)
        if labels.max() >= classes or (kind == "cifar100" and rows[:, 0].max() >= 20):
            raise DataError(f"{kind} {split} labels run past {classes - 1}: these files are not {kind} binary")
        out.images[split] = rows[:, record - 3072 :].reshape(-1, 3, 32, 32)  # R, G, B planes of 32x32
        out.labels[split] = labels
    names_file = f"{PurePosixPath(files['test'][0]).parent}/{CIFAR_NAMES[kind]}".lstrip("./")
    out.classes = _class_names(tree, names_file, classes)
    return out


def find_idx(tree: Tree, single: str | None = None) -> dict[str, tuple[str, str | None]] | None:
    """split -> (images file, labels file or None) among the top-level IDX files; with ``single``, that
    images file and the file of the other split named like it (train <-> t10k/test)."""
    candidates = [e.name for e in tree.entries if "/" not in e.name and not e.problem][:256]
    magic = {name: _idx_magic(tree, name) for name in candidates}
    images = [n for n, m in magic.items() if m == IDX_MAGIC_IMAGES]
    if single is not None:
        if magic.get(single) != IDX_MAGIC_IMAGES:
            raise DataError(f"{tree.root / single} is not an IDX images file (magic 00 00 08 03)")
        images = [single, *[n for n in images if n != single and _pattern(n) == _pattern(single)][:1]]
    if not images:
        return None
    by_split: dict[str, list[str]] = {}
    for name in images:
        split = _split_of(name) or ("train" if name == single else None)
        if split is None:
            raise DataError(f"IDX images file {name} in {tree.root}: cannot tell train from test by its name")
        by_split.setdefault(split, []).append(name)
    if "train" not in by_split:
        raise DataError(f"{tree.root} has IDX images but none for training (names with 'train')")
    out = {}
    for split, names in by_split.items():
        if len(names) > 1:
            raise DataError(
                f"{tree.root} holds {len(names)} IDX {split} image files ({', '.join(sorted(names)[:4])}); point "
                "--data at one of them (its test/train pair is found beside it)"
            )
        want = _label_name(names[0])
        pairs = [n for n, m in magic.items() if m == IDX_MAGIC_LABELS and _label_name(n) == want]
        out[split] = (names[0], pairs[0] if pairs else None)
    return out


def read_idx_source(tree: Tree, files: dict[str, tuple[str, str | None]]) -> RawArrays:
    """The IDX images (and labels) of each split; EMNIST's transposed storage turned back."""
    out = RawArrays("idx", {}, {})
    for split, (image_name, label_name) in files.items():
        images = read_idx_bytes(_gunzip(tree, image_name), name=image_name)  # (N, H, W)
        if PurePosixPath(image_name).name.startswith("emnist-"):
            images = images.transpose(0, 2, 1)
            out.notes.append(f"{image_name}: EMNIST stores images transposed; turned back")
        out.images[split] = images[:, None]  # (N, H, W) -> (N, 1, H, W)
        out.labels[split] = None
        if label_name is not None:
            labels = read_idx_bytes(_gunzip(tree, label_name), name=label_name)
            out.labels[split] = check_labels(labels, images.shape[0], label_name)
    return out


def read_arrays_file(path: Path) -> RawArrays:
    """The images (and labels) of a .npy or .npz file, by genlab.data.npz's bounded readers (headers checked
    before anything is allocated, members inflated in bounded chunks, never unpickled)."""
    if path.suffix.lower() == ".npy":
        images = channels_first(read_npy(path, MAX_ARRAY_BYTES, mmap=True), path)
        return RawArrays("npy", {"train": images}, {"train": None})
    keys = set(npz_members(path, MAX_ARRAY_BYTES))
    layout = next((lay for lay in NPZ_LAYOUTS if lay["train"][0] in keys), None)
    if layout is None:
        if len(keys) != 1:
            raise DataError(
                f"{path} holds arrays {sorted(keys)}; name them images (+ labels), or x_train/y_train/x_test/"
                "y_test, or train_images/train_labels/test_images/test_labels"
            )
        layout = {"train": (next(iter(keys)), "")}
    wanted = tuple(key for pair in layout.values() for key in pair if key in keys)
    arrays = read_npz_arrays(path, wanted, MAX_ARRAY_BYTES)
    out = RawArrays("npz", {}, {})
    for split, (image_key, label_key) in layout.items():
        if image_key not in arrays:
            continue
        out.images[split] = channels_first(arrays[image_key], f"{path}[{image_key}]")
        n = out.images[split].shape[0]
        out.labels[split] = check_labels(arrays[label_key], n, f"{path}[{label_key}]") if label_key in arrays else None
    return out


def channels_first(images: np.ndarray, where: object) -> np.ndarray:
    """uint8 images as (N, C, H, W) from (N, H, W), (N, C, H, W) or (N, H, W, C), C in 1..4."""
    if images.dtype != np.uint8:
        raise DataError(
            f"{where} holds {images.dtype} images; genlab reads uint8 (0..255): convert them, e.g. "
            "(x * 255).round().astype(np.uint8) for floats in [0, 1]"
        )
    if images.ndim == 3:
        return images[:, None]  # (N, H, W) -> (N, 1, H, W)
    first, last = images.ndim == 4 and images.shape[1] <= 4, images.ndim == 4 and images.shape[3] <= 4
    if first and not last:
        return images
    if last and not first:
        return images.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W), a view
    raise DataError(
        f"{where} has shape {images.shape}; images must be (N, H, W), (N, C, H, W) or (N, H, W, C) with C in 1..4 "
        "and sides above 4"
    )


def check_labels(labels: np.ndarray, n: int, where: object) -> np.ndarray:
    """Integer labels (N,) in 0..MAX_CLASSES-1 as int64; DataError naming the file otherwise."""
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{where} labels are {labels.dtype}; they must be integers 0, 1, 2, ...")
    if labels.shape != (n,):
        raise DataError(f"{where} labels have shape {labels.shape}; expected ({n},), one per image")
    if n and (labels.min() < 0 or labels.max() >= MAX_CLASSES):
        raise DataError(
            f"{where} labels run from {labels.min()} to {labels.max()}, out of range: they must lie in 0.."
            f"{MAX_CLASSES - 1}"
        )
    return labels.astype(np.int64)


def _split_of(name: str) -> str | None:
    base = PurePosixPath(name).name.lower()
    if "t10k" in base or "test" in base:
        return "test"
    return "train" if "train" in base else None


def _pattern(name: str) -> str:
    """A file name with its split word blanked: train-images-... and t10k-images-... match."""
    return re.sub(r"train|t10k|test", "*", PurePosixPath(name).name.lower())


def _label_name(name: str) -> str:
    base = PurePosixPath(name).name.lower().removesuffix(".gz")
    return re.sub(r"idx[13]", "idx", base.replace("images", "labels"))


def _idx_magic(tree: Tree, name: str) -> bytes:
    try:
        head = tree.read(name, limit=MAX_ARRAY_BYTES) if tree.kind != "folder" else _head(tree.root / name)
    except ImageProblem:
        return b""
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(head)) as f:
                head = f.read(4)
        except (OSError, EOFError, zlib.error):
            return b""
    return head[:4]


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(4096)  # enough for a gzip header and the first deflate block
    except OSError:
        return b""


def _read(tree: Tree, name: str) -> bytes:
    try:
        return tree.read(name, limit=MAX_ARRAY_BYTES)
    except ImageProblem as e:
        raise DataError(f"{name} in {tree.root}: {e}") from None


def _gunzip(tree: Tree, name: str) -> bytes:
    data = _read(tree, name)
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(MAX_ARRAY_BYTES + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"IDX file {name} in {tree.root} is gzip-compressed but corrupt ({e})") from None
    if len(out) > MAX_ARRAY_BYTES:
        raise DataError(f"IDX file {name} in {tree.root} decompresses to more than {MAX_ARRAY_BYTES} bytes")
    parse_header(out, name)
    return out


def _class_names(tree: Tree, name: str, count: int) -> tuple[str, ...]:
    """The class names of a CIFAR names file, when present and right; else 0..count-1."""
    try:
        text = tree.read(name, limit=1 << 16).decode("utf-8")
    except (KeyError, ImageProblem, UnicodeDecodeError):
        return tuple(str(k) for k in range(count))
    names = [line.strip() for line in text.splitlines() if line.strip()]
    return tuple(names) if len(names) == count else tuple(str(k) for k in range(count))
