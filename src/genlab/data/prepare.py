"""Any path a user names -> a prepared data set in the cache (see :mod:`genlab.data.cache`).

A path is, by what it holds: a folder or a .zip / .tar(.gz) archive of images (or of IDX files,
or of the CIFAR binary version), an IDX images file, or a .npz / .npy file of uint8 arrays.
The first use decodes everything once over every core; later uses only hash the file list and
open the arrays memory-mapped. Problems with single files are skipped with one warning line that
counts them and names the first few (``strict`` makes them an error); a decompression bomb is
always an error, by name.
"""

from __future__ import annotations

import stat
import sys
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from genlab.data.cache import (
    FORMAT,
    Prepared,
    build_entry,
    cache_key,
    cache_root,
    check_outside,
    open_prepared,
)
from genlab.data.decode import DOWN, UP, ImageProblem, Prep, decode_notes
from genlab.data.options import SPLIT_SEED, DataOptions, background_rgb, nearest_size, square_side
from genlab.data.parallel import chunked, decode_arrays, decode_files, headers, run_chunks, show_progress
from genlab.data.prepare_pairs import fill_pairs
from genlab.data.sources.arrays import (
    MAX_ARRAY_BYTES,
    RawArrays,
    find_cifar,
    find_idx,
    read_arrays_file,
    read_cifar,
    read_idx_source,
)
from genlab.data.sources.plan import held_out, is_image_name, plan_images
from genlab.data.sources.tree import ARCHIVE_SUFFIXES, FolderTree, Tree, fingerprint, open_tree
from genlab.errors import DataError
from genlab.version import __version__

SHOWN = 5  # problem files named in a warning or an error


def warn(message: str) -> None:
    print(f"genlab: warning: {message}", file=sys.stderr)


@dataclass
class Found:
    """What a path is, and what the cache key hashes (cheap: no pixel is read)."""

    path: Path
    kind: str  # folder, zip, tar, npz, npy, idx-file
    files: str  # sha256 of the file list with sizes and modification stamps
    count: int  # files in the list
    tree: Tree | None = None


def resolve_source(source: str | Path) -> Path:
    """The absolute path a user named; DataError when there is nothing there."""
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"{source} is neither a known data set name nor an existing file or folder")
    return path.resolve()


def prepare(
    source: str | Path,
    options: DataOptions | None = None,
    cache_dir: str | Path | None = None,
    *,
    progress: bool | None = None,
) -> Prepared:
    """The prepared data set of ``source`` with ``options``: from the cache, else decoded now."""
    options = options or DataOptions()
    options.check()
    path = resolve_source(source)
    root = cache_root(cache_dir)
    check_outside(root, path)
    found = identify(path)
    key = cache_key(found.kind, found.files, options.to_dict())
    prepared = open_prepared(root / key[:32])
    if prepared is not None:
        return prepared
    show = show_progress() if progress is None else progress
    return build_entry(root, key[:32], lambda tmp: _fill(tmp, found, options, key, show))


def identify(path: Path) -> Found:
    """The kind of source at ``path`` and its file stamps."""
    if path.is_dir():
        tree = FolderTree(path)
        for note in tree.notes:
            warn(note)
        return Found(path, "folder", tree.fingerprint(), len(tree.entries), tree)
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{path} is not a regular file or a folder")
    stamps = fingerprint([(path.name, info.st_size, info.st_mtime_ns)])
    name = path.name.lower()
    if name.endswith((".npz", ".npy")):
        if info.st_size > MAX_ARRAY_BYTES:
            raise DataError(f"{path} holds {info.st_size} bytes, more than the {MAX_ARRAY_BYTES} genlab reads")
        return Found(path, name[-3:], stamps, 1)
    if name.endswith(ARCHIVE_SUFFIXES):
        return Found(path, "zip" if name.endswith(".zip") else "tar", stamps, 1)
    siblings = FolderTree(path.parent, recursive=False)
    if any(e.name == path.name for e in siblings.entries) and _is_idx_images(siblings, path.name):
        return Found(path, "idx-file", siblings.fingerprint(), len(siblings.entries), siblings)
    raise DataError(
        f"cannot tell what {path} holds; --data takes a folder of images, a .zip or .tar(.gz) of one, a folder of "
        "IDX files or an IDX images file, the CIFAR binary version, or a .npz / .npy of uint8 images"
    )


def _is_idx_images(tree: Tree, name: str) -> bool:
    try:
        return (find_idx(tree, single=name) or {}) != {}
    except DataError:
        return False


def _fill(tmp: Path, found: Found, options: DataOptions, key: str, show: bool) -> dict[str, Any]:
    """Write the arrays of ``found`` into ``tmp``; return the manifest."""
    started = time.perf_counter()
    where = str(found.path)
    tree = found.tree
    if options.pairs != "none" and found.kind not in ("folder", "zip", "tar"):
        raise DataError(
            f"--pairs {options.pairs}: image pairs are read from a folder or a .zip/.tar of one (A/ and B/ folders "
            f"or side-by-side images); {where} is a {found.kind} file"
        )
    if found.kind in ("npz", "npy"):
        manifest = _fill_arrays(tmp, read_arrays_file(found.path), options, where, show)
    else:
        if tree is None:
            tree = open_tree(found.path)
        try:
            if options.pairs != "none":
                manifest = fill_pairs(tmp, tree, options, where, show)
            elif found.kind == "idx-file":
                raw = read_idx_source(tree, find_idx(tree, single=found.path.name) or {})
                manifest = _fill_arrays(tmp, raw, options, where, show)
            elif (cifar := find_cifar(tree)) is not None:
                manifest = _fill_arrays(tmp, read_cifar(tree, *cifar), options, where, show)
            elif not any(is_image_name(e.name) for e in tree.entries) and (idx := find_idx(tree)):
                manifest = _fill_arrays(tmp, read_idx_source(tree, idx), options, where, show)
            else:
                manifest = _fill_images(tmp, tree, options, where, show)
        finally:
            tree.close()
    for note in manifest["notes"]:
        warn(note)
    return {
        "format": FORMAT,
        "key": key,
        "source": where,
        "container": found.kind,
        "file_list_sha256": tree.fingerprint() if tree is not None else found.files,
        "files": len(tree.entries) if tree is not None else found.count,
        **manifest,
        "options": options.to_dict(),
        "preprocessing": {
            "exif_orientation": "applied (ImageOps.exif_transpose)",
            "alpha": f"composited over {options.background} {background_rgb(options.background)}",
            "crop": "centre square of the short side" if options.crop == "center" else "padded to a square",
            "downscale": DOWN,
            "upscale": UP,
            "grey": "ITU-R 601-2 luma (Pillow's L)",
        },
        "split_seed": SPLIT_SEED,
        "decode_seconds": round(time.perf_counter() - started, 3),
        "genlab": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _labels_wanted(options: DataOptions, have: bool, where: str) -> bool:
    if options.labels == "folders" and not have:
        raise DataError(f"--labels folders: {where} has no labels for every split; use --labels none or auto")
    return have and options.labels != "none"


def _fill_arrays(tmp: Path, raw: RawArrays, options: DataOptions, where: str, show: bool) -> dict[str, Any]:
    """Arrays in memory (or memory-mapped) -> the prepared splits, converted only when they must be."""
    labelled = _labels_wanted(options, all(v is not None for v in raw.labels.values()), where)
    train = raw.images["train"]
    if train.shape[0] == 0:
        raise DataError(f"{where} holds no training images")
    parts: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]] = {}  # split -> (images, rows, labels)
    for split, images in raw.images.items():
        parts[split] = (images, np.arange(images.shape[0]), raw.labels[split] if labelled else None)
    own_split = "test" in parts
    if not own_split:
        test = held_out(train.shape[0], options.test_fraction, where)
        keep = np.setdiff1d(np.arange(train.shape[0]), test)
        labels = parts["train"][2]
        parts = {
            "train": (train, keep, None if labels is None else labels[keep]),
            "test": (train, test, None if labels is None else labels[test]),
        }
    c, h, w = train.shape[1:]
    side = square_side(w, h, options.crop)
    prep = Prep(
        options.image_size or nearest_size(side),
        options.channels or (1 if c <= 2 else 3),
        options.crop,
        background_rgb(options.background),
    )
    top = max(int(p[2].max(initial=0)) for p in parts.values()) if labelled else -1
    classes = (raw.classes or tuple(str(k) for k in range(top + 1))) if labelled else ()
    counts, upscaled = {}, 0
    for split, (images, rows, labels) in parts.items():
        out = np.lib.format.open_memmap(
            tmp / f"{split}-images.npy", "w+", np.uint8, (len(rows), prep.channels, prep.size, prep.size)
        )
        if (c, h, w) == (prep.channels, prep.size, prep.size):
            for a in range(0, len(rows), 4096):
                out[a : a + 4096] = images[rows[a : a + 4096]]
        else:
            items = ((i, images[r]) for i, r in enumerate(rows))
            work = partial(decode_arrays, prep)
            for results in run_chunks(
                work, chunked(items), total=len(rows), what=f"Converting {split}", progress=show
            ):
                for i, pixels, up in results:
                    out[i] = pixels
                    upscaled += up
        out.flush()
        del out
        np.save(tmp / f"{split}-labels.npy", labels if labels is not None else np.zeros(len(rows), np.int64))
        counts[split] = len(rows)
    notes = list(raw.notes)
    if upscaled:
        notes.append(f"upscaled {upscaled} images from {side} px to {prep.size} px with LANCZOS")
    return _summary(
        raw.kind, counts, prep, side, 1 if c <= 2 else 3, classes, parts, own_split, options, notes, upscaled, {}
    )


def _fill_images(tmp: Path, tree: Tree, options: DataOptions, where: str, show: bool) -> dict[str, Any]:
    """Image files -> the prepared splits: header pass (for the data's own size/colour) then decode pass."""
    plan = plan_images([e.name for e in tree.entries], options.labels, options.test_fraction, where)
    broken = {e.name: ImageProblem("unreadable", e.problem) for e in tree.entries if e.problem}
    jobs = [(split, i, name) for split, names in plan.splits.items() for i, name in enumerate(names)]
    order = {name: k for k, (_, _, name) in enumerate(jobs)}
    problems: dict[str, ImageProblem] = {}

    def items():
        readable = [name for _, _, name in jobs if name not in broken]
        for name, data in tree.stream(readable):
            yield order[name], data
        for name in broken:
            if name in order:
                yield order[name], broken[name]

    sides, colour, modes = [], False, Counter()
    if not options.image_size or not options.channels:
        for results in run_chunks(headers, chunked(items()), total=len(jobs), what="Reading sizes", progress=show):
            for k, header in results:
                if isinstance(header, ImageProblem):
                    _note_problem(problems, jobs[k][2], header)
                    continue
                sides.append(square_side(header.width, header.height, options.crop))
                colour = colour or header.colour
                modes[header.mode] += 1
        if not sides:
            _raise_unusable(problems, where)
    own = int(np.median(sides)) if sides else 0
    prep = Prep(
        options.image_size or nearest_size(own),
        options.channels or (3 if colour else 1),
        options.crop,
        background_rgb(options.background),
    )
    outs = {
        split: np.lib.format.open_memmap(
            tmp / f".{split}-all.npy", "w+", np.uint8, (len(names), prep.channels, prep.size, prep.size)
        )
        for split, names in plan.splits.items()
    }
    ok = {split: np.zeros(len(names), bool) for split, names in plan.splits.items()}
    upscaled = 0
    work = partial(decode_files, prep)
    for results in run_chunks(work, chunked(items()), total=len(jobs), what="Decoding images", progress=show):
        for k, pixels, up in results:
            split, i, name = jobs[k]
            if isinstance(pixels, ImageProblem):
                _note_problem(problems, name, pixels)
                continue
            outs[split][i] = pixels
            ok[split][i] = True
            upscaled += up
    notes = decode_notes(plan.notes, problems, upscaled, prep.size, options.strict, where, SHOWN)
    parts = {}
    for split, out in outs.items():
        keep = np.flatnonzero(ok[split])
        if keep.size == 0:
            _raise_unusable(problems, f"the {split} split of {where}")
        final = np.lib.format.open_memmap(tmp / f"{split}-images.npy", "w+", np.uint8, (keep.size, *out.shape[1:]))
        for a in range(0, keep.size, 4096):
            final[a : a + 4096] = out[keep[a : a + 4096]]
        final.flush()
        del final, out
        (tmp / f".{split}-all.npy").unlink()
        labels = np.asarray(plan.labels[split], np.int64)[keep]
        np.save(tmp / f"{split}-labels.npy", labels)
        parts[split] = (None, keep, labels if plan.classes else None)
    counts = {split: int(p[1].size) for split, p in parts.items()}
    skipped = {"count": len(problems), "first": [f"{n}: {p}" for n, p in list(problems.items())[:SHOWN]]}
    extra = {"ignored_files": plan.ignored, "skipped": skipped, "modes": dict(modes)}
    return _summary(
        "images",
        counts,
        prep,
        own,
        3 if colour else 1,
        plan.classes,
        parts,
        plan.own_split,
        options,
        notes,
        upscaled,
        extra,
    )


def _note_problem(problems: dict[str, ImageProblem], name: str, problem: ImageProblem) -> None:
    if problem.kind == "bomb":
        raise DataError(f"image {name} is refused: {problem}")
    problems.setdefault(name, problem)


def _raise_unusable(problems: dict[str, ImageProblem], where: str) -> None:
    names = ", ".join(f"{n} ({p})" for n, p in list(problems.items())[:SHOWN])
    raise DataError(f"no readable image in {where}; {len(problems)} corrupt or unreadable: {names}")


def _summary(kind, counts, prep, own_side, own_channels, classes, parts, own_split, options, notes, upscaled, extra):
    class_counts = {
        split: np.bincount(p[2], minlength=len(classes)).tolist() for split, p in parts.items() if p[2] is not None
    }
    return {
        "kind": kind,
        "images": counts,
        "image_size": prep.size,
        "channels": prep.channels,
        "own_side": int(own_side),
        "own_channels": int(own_channels) if own_channels else None,
        "classes": list(classes),
        "class_counts": class_counts,
        "split": {"kind": "own" if own_split else "held-out"}
        | ({} if own_split else {"test_fraction": options.test_fraction, "seed": SPLIT_SEED}),
        "upscaled": upscaled,
        "notes": notes,
        **extra,
    }
