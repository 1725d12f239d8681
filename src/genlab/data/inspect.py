"""Look at a data source before training on it: counts, sizes, modes, classes, duplicates, bad files.

:func:`inspect_source` decodes every image (in parallel) without preparing anything; duplicates
are found by a hash of the decoded pixels, so the same picture saved twice under different names
or formats is found. :func:`contact_sheet` shows a few images of each class as the trainer will
see them (after the preprocessing), written as a plain PNG: these are real images, not samples,
so they carry no "AI GENERATED" mark.
"""

from __future__ import annotations

import hashlib
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from genlab.atomic import atomic_write_bytes
from genlab.data.decode import ImageProblem, Prep, decode, decode_array
from genlab.data.images import make_grid
from genlab.data.options import DataOptions, background_rgb, nearest_size, square_side
from genlab.data.parallel import chunked, inspect_files, run_chunks, show_progress
from genlab.data.prepare import identify, resolve_source
from genlab.data.prepare_pairs import inspect_pairs
from genlab.data.sources.arrays import RawArrays, find_cifar, find_idx, read_arrays_file, read_cifar, read_idx_source
from genlab.data.sources.pairs import domain_files
from genlab.data.sources.plan import is_image_name, plan_images
from genlab.data.sources.tree import Tree, open_tree
from genlab.errors import DataError

PER_CLASS, MAX_CLASSES, UNLABELLED = 8, 16, 64  # contact sheet: images per class row, rows; or images in all
ARRAY_KINDS = frozenset({"npz", "npy", "idx", "cifar10", "cifar100"})


@dataclass
class Inspection:
    """What a source holds. ``problems``: file -> why it cannot be used; ``duplicates``: groups of names."""

    source: str
    kind: str
    files: int
    images: int
    ignored: int = 0
    splits: dict[str, int] = field(default_factory=dict)
    split_kind: str = "held-out"
    classes: dict[str, int] = field(default_factory=dict)
    sizes: Counter = field(default_factory=Counter)
    modes: Counter = field(default_factory=Counter)
    formats: Counter = field(default_factory=Counter)
    duplicates: list[list[str]] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)
    own_side: int = 0
    colour: bool = False
    notes: list[str] = field(default_factory=list)

    def target(self, options: DataOptions) -> tuple[int, int]:
        """(size, channels) that ``genlab train --data`` would prepare with ``options``."""
        size = options.image_size or (nearest_size(self.own_side) if self.own_side else 0)
        return size, options.channels or (3 if self.colour else 1)

    def to_dict(self, options: DataOptions) -> dict[str, Any]:
        size, channels = self.target(options)
        return {
            "source": self.source,
            "kind": self.kind,
            "files": self.files,
            "images": self.images,
            "ignored_files": self.ignored,
            "splits": self.splits,
            "split": self.split_kind,
            "classes": self.classes,
            "sizes": {f"{w}x{h}": n for (w, h), n in self.sizes.most_common()},
            "modes": dict(self.modes.most_common()),
            "formats": dict(self.formats.most_common()),
            "duplicate_groups": self.duplicates,
            "problems": self.problems,
            "prepared_as": {"image_size": size, "channels": channels, "own_side": self.own_side},
            "notes": self.notes,
        }


def inspect_source(
    source: str | Path, options: DataOptions | None = None, *, progress: bool | None = None
) -> Inspection:
    """Every image of ``source`` decoded once and described; nothing is written."""
    options = options or DataOptions()
    options.check()
    path = resolve_source(source)
    found = identify(path)
    show = show_progress() if progress is None else progress
    if found.kind in ("npz", "npy"):
        return _inspect_arrays(str(path), found.kind, found.count, read_arrays_file(path), options)
    tree = found.tree or open_tree(path)
    try:
        raw = _raw_arrays(tree, found.kind, path)
        if raw is not None:
            return _inspect_arrays(str(path), raw.kind, len(tree.entries), raw, options)
        return _inspect_images(tree, str(path), found.kind, options, show)
    finally:
        tree.close()


def inspect_pairs_source(source: str | Path, options: DataOptions, *, progress: bool | None = None) -> dict[str, Any]:
    """How ``source`` pairs up with ``options.pairs`` (layout, files per domain, matched/unmatched); writes nothing."""
    options.check()
    path = resolve_source(source)
    found = identify(path)
    if found.kind not in ("folder", "zip", "tar"):
        raise DataError(f"--pairs {options.pairs}: image pairs are read from a folder or a .zip/.tar of one")
    tree = found.tree or open_tree(path)
    try:
        show = show_progress() if progress is None else progress
        return {"source": str(path), **inspect_pairs(tree, options, str(path), show)}
    finally:
        tree.close()


def has_domain_folders(source: str | Path) -> bool:
    """Whether a folder or archive holds A/ and B/ domain folders (image pairs for pix2pix or cyclegan)."""
    path = resolve_source(source)
    found = identify(path)
    if found.kind not in ("folder", "zip", "tar"):
        return False
    tree = found.tree or open_tree(path)
    try:
        return bool(domain_files([e.name for e in tree.entries]))
    finally:
        tree.close()


def _raw_arrays(tree: Tree, kind: str, path: Path) -> RawArrays | None:
    if kind == "idx-file":
        return read_idx_source(tree, find_idx(tree, single=path.name) or {})
    if (cifar := find_cifar(tree)) is not None:
        return read_cifar(tree, *cifar)
    if not any(is_image_name(e.name) for e in tree.entries) and (idx := find_idx(tree)):
        return read_idx_source(tree, idx)
    return None


def _inspect_images(tree: Tree, where: str, kind: str, options: DataOptions, show: bool) -> Inspection:
    plan = plan_images([e.name for e in tree.entries], options.labels, options.test_fraction, where)
    names = [n for split in plan.splits.values() for n in split]
    report = Inspection(where, kind, len(tree.entries), len(names), plan.ignored, notes=list(tree.notes) + plan.notes)
    report.splits = {split: len(v) for split, v in plan.splits.items()}
    report.split_kind = "own" if plan.own_split else f"held-out {options.test_fraction:g} (seeded)"
    if plan.classes:
        counts = Counter(y for split in plan.labels.values() for y in split)
        report.classes = {c: counts[k] for k, c in enumerate(plan.classes)}
    broken = {e.name: e.problem for e in tree.entries if e.problem}
    order = {name: k for k, name in enumerate(names)}

    def items():
        for name, data in tree.stream([n for n in names if n not in broken]):
            yield order[name], data
        for name, problem in broken.items():
            if name in order:
                yield order[name], ImageProblem("unreadable", problem)

    by_hash: dict[str, list[str]] = defaultdict(list)
    sides = []
    for results in run_chunks(inspect_files, chunked(items()), total=len(names), what="Inspecting", progress=show):
        for k, header, digest in results:
            if isinstance(header, ImageProblem):
                report.problems[names[k]] = f"{header.kind}: {header}"
                continue
            report.sizes[(header.width, header.height)] += 1
            report.modes[header.mode] += 1
            report.formats[header.format] += 1
            report.colour = report.colour or header.colour
            sides.append(square_side(header.width, header.height, options.crop))
            by_hash[digest].append(names[k])
    report.duplicates = sorted(sorted(group) for group in by_hash.values() if len(group) > 1)
    report.own_side = int(np.median(sides)) if sides else 0
    return report


def _inspect_arrays(where: str, kind: str, files: int, raw: RawArrays, options: DataOptions) -> Inspection:
    total = sum(a.shape[0] for a in raw.images.values())
    report = Inspection(where, kind, files, total, notes=list(raw.notes))
    report.splits = {split: a.shape[0] for split, a in raw.images.items()}
    report.split_kind = "own" if "test" in raw.images else f"held-out {options.test_fraction:g} (seeded)"
    c, h, w = raw.images["train"].shape[1:]
    report.sizes[(w, h)] = total
    report.modes[{1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[c]] = total
    report.formats[kind] = total
    report.colour, report.own_side = c >= 3, square_side(w, h, options.crop)
    if all(v is not None for v in raw.labels.values()) and options.labels != "none":
        counts = Counter(int(y) for v in raw.labels.values() for y in v)  # type: ignore[union-attr]
        names = raw.classes or tuple(str(k) for k in range(max(counts) + 1))
        report.classes = {name: counts[k] for k, name in enumerate(names)}
    by_hash: dict[str, list[str]] = defaultdict(list)
    for split, images in raw.images.items():
        for a in range(0, images.shape[0], 4096):
            block = np.ascontiguousarray(images[a : a + 4096]).reshape(min(4096, images.shape[0] - a), -1)
            for i, row in enumerate(block):
                by_hash[hashlib.blake2b(row.tobytes(), digest_size=16).hexdigest()].append(f"{split}[{a + i}]")
    report.duplicates = sorted(group for group in by_hash.values() if len(group) > 1)
    return report


def contact_sheet(
    source: str | Path, out: str | Path, options: DataOptions | None = None, report: Inspection | None = None
) -> tuple[Path, int]:
    """Write a PNG grid of training images as prepared: a row of up to 8 per class (16 classes), or 64
    unlabelled ones spread over the set. Returns (path, images shown); never writes inside the data's folder."""
    options = options or DataOptions()
    path, out = resolve_source(source), Path(out).expanduser().resolve()
    if path.is_dir() and out.is_relative_to(path):
        raise DataError(f"{out} lies inside the data folder {path}; genlab never writes beside the data: choose -o")
    report = report or inspect_source(path, options, progress=False)
    found = identify(path)
    cells = (
        _array_cells(found, path, options)
        if report.kind in ARRAY_KINDS
        else _image_cells(found, path, options, report)
    )
    shown = [c for c in cells if c is not None]
    if not shown:
        raise DataError(f"no readable image in {path} to show")
    blank = np.zeros_like(shown[0])
    grid = make_grid(np.stack([blank if c is None else c for c in cells]), nrow=PER_CLASS)  # (N, C, S, S) -> picture
    buffer = io.BytesIO()
    Image.fromarray(grid).save(buffer, format="PNG")
    return atomic_write_bytes(out, buffer.getvalue()), len(shown)


def _array_cells(found: Any, path: Path, options: DataOptions) -> list[np.ndarray | None]:
    if found.kind in ("npz", "npy"):
        raw = read_arrays_file(path)
    else:
        tree = found.tree or open_tree(path)
        try:
            raw = _raw_arrays(tree, found.kind, path)
        finally:
            tree.close()
    assert raw is not None  # inspect_source found arrays here
    images = raw.images["train"]
    c, h, w = images.shape[1:]
    size = options.image_size or nearest_size(square_side(w, h, options.crop))
    prep = Prep(size, options.channels or (1 if c <= 2 else 3), options.crop, background_rgb(options.background))
    labels = raw.labels["train"] if options.labels != "none" else None
    return [None if i is None else decode_array(images[i], prep)[0] for i in _picks(labels, images.shape[0])]


def _image_cells(found: Any, path: Path, options: DataOptions, report: Inspection) -> list[np.ndarray | None]:
    size, channels = report.target(options)
    prep = Prep(size, channels, options.crop, background_rgb(options.background))
    tree = found.tree or open_tree(path)
    try:
        plan = plan_images([e.name for e in tree.entries], options.labels, options.test_fraction, str(path))
        usable = [(n, y) for n, y in zip(plan.splits["train"], plan.labels["train"]) if n not in report.problems]
        labels = np.array([y for _, y in usable]) if plan.classes else None
        cells: list[np.ndarray | None] = []
        for i in _picks(labels, len(usable)):
            try:
                cells.append(None if i is None else decode(tree.read(usable[i][0]), prep)[0])
            except ImageProblem:
                cells.append(None)
        return cells
    finally:
        tree.close()


def _picks(labels: np.ndarray | None, n: int) -> list[int | None]:
    """Indices to show: a row of the first PER_CLASS of each of the first MAX_CLASSES classes (None pads a short
    row), else UNLABELLED spread evenly over the set."""
    if labels is None:
        return sorted(set(np.linspace(0, n - 1, min(n, UNLABELLED)).round().astype(int).tolist()))
    picks: list[int | None] = []
    for k in sorted(set(labels.tolist()))[:MAX_CLASSES]:
        row = np.flatnonzero(labels == k)[:PER_CLASS].tolist()
        picks += row + [None] * (PER_CLASS - len(row))
    return picks
