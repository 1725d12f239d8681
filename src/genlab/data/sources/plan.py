"""Which image files form which split, with which label, in which order: pure functions of file names.

- Splits: ``train/`` with ``test/`` (or ``val/``, ``valid/``, ``validation/``) at the top are the
  data's own; otherwise a seeded fraction is held out (:func:`held_out`).
- Labels: the first folder below the split is the class. ``auto`` uses them when every image
  sits in a class folder and there are at least two; ``folders`` requires them; ``none`` ignores
  them. Class indices follow the sorted class names (numbers by value: 2 before 10).
- Order: by file name, then by folder, so names that encode an index (``00042.png``) keep that
  order across class folders; the trainer's shuffle is a function of (seed, order).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np

from genlab.data.decode import IMAGE_SUFFIXES
from genlab.data.options import SPLIT_SEED, Labels
from genlab.errors import DataError

TEST_NAMES = ("test", "val", "valid", "validation")


@dataclass
class ImagePlan:
    """The image files of each split in order, their labels, and the class names (empty: unlabelled)."""

    splits: dict[str, list[str]]
    labels: dict[str, list[int]]
    classes: tuple[str, ...]
    own_split: bool
    ignored: int = 0  # files that are not images (by name)
    notes: list[str] = field(default_factory=list)


def is_image_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


def class_order(name: str) -> tuple[int, int, str]:
    """Sort key for class names: numbers by value first, then the rest by name."""
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def file_order(name: str) -> tuple[str, str]:
    """Sort key for files: the file name, then the folder."""
    return PurePosixPath(name).name, name


def plan_images(names: list[str], labels: Labels, test_fraction: float, where: str) -> ImagePlan:
    """Split, label and order the image files among ``names`` (paths inside the source)."""
    images = [n for n in names if is_image_name(n)]
    if not names:
        raise DataError(f"{where} is empty: put image files (PNG, JPEG, WebP, BMP, GIF) in it")
    if not images:
        suffixes = ", ".join(sorted({PurePosixPath(n).suffix or "(none)" for n in names})[:6])
        raise DataError(
            f"{where} holds no image files ({len(names)} other files: {suffixes}); genlab reads .png, .jpg, .jpeg, "
            ".webp, .bmp, .gif, .tif"
        )
    tops = {n.split("/", 1)[0] for n in images if "/" in n}
    test_top = next((t for t in TEST_NAMES if t in tops), None)
    notes: list[str] = []
    if "train" in tops and test_top is not None:
        roots = {"train": "train/", "test": f"{test_top}/"}
        outside = [n for n in images if not n.startswith(tuple(roots.values()))]
        if outside:
            notes.append(f"{len(outside)} images outside train/ and {test_top}/ are left out (first: {outside[0]})")
    else:
        roots = {"train": ""}
    inside = {
        split: sorted((n[len(r) :] for n in images if n.startswith(r)), key=file_order) for split, r in roots.items()
    }
    classes = _classes(inside, labels, where)
    splits = {split: [roots[split] + rel for rel in rels] for split, rels in inside.items()}
    index = {c: i for i, c in enumerate(classes)}
    label_lists = {
        split: [index[rel.split("/", 1)[0]] if classes else 0 for rel in rels] for split, rels in inside.items()
    }
    if classes:
        counts = Counter(label_lists["train"])
        lonely = [classes[k] for k in range(len(classes)) if counts[k] == 1]
        if lonely:
            notes.append(f"class {', '.join(map(repr, lonely[:5]))} has a single training image")
    plan = ImagePlan(splits, label_lists, classes, "test" in roots, len(names) - len(images), notes)
    if not plan.own_split:
        hold_out(plan, test_fraction, where)
    return plan


def _classes(inside: dict[str, list[str]], labels: Labels, where: str) -> tuple[str, ...]:
    if labels == "none":
        return ()
    rels = [rel for split in inside.values() for rel in split]
    loose = [rel for rel in rels if "/" not in rel]
    if loose:
        if labels == "folders":
            raise DataError(
                f"--labels folders: {where} has images that are not in a class folder (first: {loose[0]}); move them "
                "into one, or use --labels none"
            )
        return ()
    classes = tuple(sorted({rel.split("/", 1)[0] for rel in rels}, key=class_order))
    return classes if labels == "folders" or len(classes) >= 2 else ()


def held_out(n: int, test_fraction: float, where: str) -> np.ndarray:
    """Sorted indices of a seeded ``test_fraction`` of ``n`` items (at least one; at least one left)."""
    if n < 2:
        raise DataError(f"{where} has {n} usable image(s); at least 2 are needed (one is held out for testing)")
    k = min(n - 1, max(1, round(n * test_fraction)))
    return np.sort(np.random.default_rng(SPLIT_SEED).permutation(n)[:k])


def hold_out(plan: ImagePlan, test_fraction: float, where: str) -> None:
    """Move a seeded fraction of the train files into a test split, both keeping their order."""
    names, labels = plan.splits["train"], plan.labels["train"]
    test = set(held_out(len(names), test_fraction, where).tolist())
    plan.splits = {
        "train": [n for i, n in enumerate(names) if i not in test],
        "test": [n for i, n in enumerate(names) if i in test],
    }
    plan.labels = {
        "train": [y for i, y in enumerate(labels) if i not in test],
        "test": [y for i, y in enumerate(labels) if i in test],
    }
