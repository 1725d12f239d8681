"""Image-to-image pairs from a folder or archive -> the translation layout, uint8 (N, C, S, 2S) per split.

The layout every translation family trains on (:mod:`genlab.data.translation`): domain A (the
input) in the left half of a row, domain B (the target) in the right half. Which files form a
row is :mod:`genlab.data.sources.pairs`'s plan; here every file is decoded once, both domains
with the same preprocessing as plain images (:mod:`genlab.data.decode`, one size S and one
channel count for both: the median square side of all of them, 3 channels when any has colour),
and the rows are assembled. A side-by-side file is cut into its halves before the square crop.
A pair with a corrupt file is skipped (counted; an error under ``strict``).
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ImageOps

from genlab.data.decode import ImageProblem, Prep, decode, decode_notes, finish, open_image
from genlab.data.options import SPLIT_SEED, DataOptions, Pairs, background_rgb, nearest_size, square_side
from genlab.data.parallel import chunked, headers, run_chunks
from genlab.data.sources.pairs import NEEDS, SHOWN, UNPAIRED_RULE, UNPAIRED_SEED, PairPlan, plan_pairs, unpaired_rows
from genlab.data.sources.tree import Tree
from genlab.errors import DataError

BLOCK = 4096  # rows copied at a time


def _stream(tree: Tree, files: list[str]):
    """(file index, bytes or the problem reading it) for every file of the plan."""
    order = {name: k for k, name in enumerate(files)}
    broken = {e.name: ImageProblem("unreadable", e.problem) for e in tree.entries if e.problem}
    for name, data in tree.stream([n for n in files if n not in broken]):
        yield order[name], data
    for name, problem in broken.items():
        if name in order:
            yield order[name], problem


def read_sizes(tree: Tree, plan: PairPlan, mode: Pairs, where: str, show: bool):
    """Header pass: (square sides of the domain images, any colour, modes, problems by name). A side-by-side
    layout needs every readable image at width = 2 x height: anything else is an error naming it."""
    sides, colour, modes, problems = [], False, Counter(), {}
    for results in run_chunks(
        headers, chunked(_stream(tree, plan.files)), total=len(plan.files), what="Reading sizes", progress=show
    ):
        for k, header in results:
            name = plan.files[k]
            if isinstance(header, ImageProblem):
                if header.kind == "bomb":
                    raise DataError(f"image {name} is refused: {header}")
                problems.setdefault(name, header)
                continue
            w, h = header.width, header.height
            if plan.halves:
                if w != 2 * h:
                    shape = f"{name} is {w}x{h}" + (", an odd width" if w % 2 else "") + ", not width = 2 x height"
                    if mode == "side-by-side":
                        raise DataError(f"--pairs side-by-side: {shape}; each image must hold A left and B right")
                    raise DataError(
                        f"{where} holds neither A/ and B/ folders nor side-by-side images ({shape}); image pairs "
                        f"(pix2pix, --pairs {mode}) need {NEEDS[mode]}"
                    )
                w //= 2
            sides.append((w, h))
            colour = colour or header.colour
            modes[header.mode] += 1
    return sides, colour, modes, problems


def decode_pair_files(prep: Prep, halves: bool, items: list[tuple[int, Any]]) -> list[tuple[int, Any, bool]]:
    """(file index, tuple of uint8 (C, S, S) images -- two for a side-by-side file -- or the ImageProblem,
    upscaled) for each (file index, bytes)."""
    out: list[tuple[int, Any, bool]] = []
    for index, data in items:
        try:
            if isinstance(data, ImageProblem):
                raise data
            if halves:
                out.append((index, *decode_halves(data, prep)))
            else:
                pixels, upscaled = decode(data, prep)
                out.append((index, (pixels,), upscaled))
        except ImageProblem as e:
            out.append((index, e, False))
    return out


def decode_halves(data: bytes, prep: Prep) -> tuple[tuple[np.ndarray, np.ndarray], bool]:
    """The left (A) and right (B) halves of a side-by-side image, each through the preprocessing of one image."""
    image = open_image(data)
    try:
        image.seek(0)
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageProblem("corrupt", f"truncated or corrupt ({e})") from None
    try:
        ImageOps.exif_transpose(image, in_place=True)
    except (OSError, SyntaxError, ValueError, KeyError, TypeError):
        pass  # unreadable EXIF: the pixels as stored
    w, h = image.size
    a, up_a = finish(image.crop((0, 0, w // 2, h)), prep)
    b, up_b = finish(image.crop((w // 2, 0, w, h)), prep)
    return (a, b), up_a or up_b


def fill_pairs(tmp: Path, tree: Tree, options: DataOptions, where: str, show: bool) -> dict[str, Any]:
    """Write ``{split}-images.npy`` (N, C, S, 2S) and zero labels for the pairs of ``tree``; the manifest part."""
    plan = plan_pairs([e.name for e in tree.entries], options.pairs, options.test_fraction, options.strict, where)
    sizes, colour, modes, problems = read_sizes(tree, plan, options.pairs, where, show)
    if not sizes:
        _unusable(problems, where)
    own = int(np.median([square_side(w, h, options.crop) for w, h in sizes]))
    prep = Prep(
        options.image_size or nearest_size(own),
        options.channels or (3 if colour else 1),
        options.crop,
        background_rgb(options.background),
    )
    per_file = 2 if plan.halves else 1
    s, c = prep.size, prep.channels
    rows = np.lib.format.open_memmap(tmp / ".rows.npy", "w+", np.uint8, (len(plan.files) * per_file, c, s, s))
    ok = np.zeros(len(plan.files), bool)
    upscaled = 0
    work = partial(decode_pair_files, prep, plan.halves)
    for results in run_chunks(
        work, chunked(_stream(tree, plan.files)), total=len(plan.files), what="Decoding pairs", progress=show
    ):
        for k, pixels, up in results:
            if isinstance(pixels, ImageProblem):
                if pixels.kind == "bomb":
                    raise DataError(f"image {plan.files[k]} is refused: {pixels}")
                problems.setdefault(plan.files[k], pixels)
                continue
            rows[k * per_file : (k + 1) * per_file] = np.stack(pixels)
            ok[k] = True
            upscaled += up
    notes = decode_notes(
        plan.notes, problems, upscaled, s, options.strict, where, SHOWN, skipped_what=" (and the pairs they belong to)"
    )
    counts, domains = {}, {"A": {}, "B": {}}
    for split, (a, b) in plan.splits.items():
        a_rows, b_rows = _rows(plan, split, a, b, ok, per_file)
        if a_rows.size == 0:
            _unusable(problems, f"the {split} split of {where}")
        out = np.lib.format.open_memmap(tmp / f"{split}-images.npy", "w+", np.uint8, (a_rows.size, c, s, 2 * s))
        for start in range(0, a_rows.size, BLOCK):
            stop = start + BLOCK
            out[start:stop, ..., :s] = rows[a_rows[start:stop]]  # (n, C, S, S) -> the left half of (n, C, S, 2S)
            out[start:stop, ..., s:] = rows[b_rows[start:stop]]
        out.flush()
        del out
        np.save(tmp / f"{split}-labels.npy", np.zeros(a_rows.size, np.int64))
        counts[split] = int(a_rows.size)
        domains["A"][split] = int(ok[a].sum()) if a else 0
        domains["B"][split] = int(ok[b].sum()) if b else 0
    del rows
    (tmp / ".rows.npy").unlink()
    skipped = {"count": len(problems), "first": [f"{n}: {p}" for n, p in list(problems.items())[:SHOWN]]}
    return {
        "kind": "pairs",
        "layout": plan.layout,
        "domains": domains,
        "pairing": pairing_record(plan),
        "images": counts,
        "image_size": s,
        "width": 2 * s,
        "channels": c,
        "own_side": own,
        "own_channels": 3 if colour else 1,
        "classes": [],
        "class_counts": {},
        "split": {"kind": "own"}
        if plan.own_split
        else {"kind": "held-out", "test_fraction": options.test_fraction, "seed": SPLIT_SEED},
        "upscaled": upscaled,
        "notes": notes,
        "ignored_files": plan.ignored,
        "skipped": skipped,
        "modes": dict(modes),
    }


def _rows(plan: PairPlan, split: str, a: list[int], b: list[int], ok: np.ndarray, per_file: int):
    """Rows of the per-file array for the A and B halves of each prepared row of ``split``."""
    a_idx, b_idx = np.asarray(a, np.int64), np.asarray(b, np.int64)
    if plan.layout == "unpaired":
        a_idx, b_idx = a_idx[ok[a_idx]], b_idx[ok[b_idx]]
        if a_idx.size == 0 or b_idx.size == 0:
            empty = "A" if a_idx.size == 0 else "B"
            raise DataError(f"domain {empty} of the {split} split has no readable image: unpaired data needs both")
        ia, ib = unpaired_rows(a_idx.size, b_idx.size)
        return a_idx[ia] * per_file, b_idx[ib] * per_file
    both = ok[a_idx] & ok[b_idx]  # a pair with a bad file is dropped whole
    a_idx, b_idx = a_idx[both], b_idx[both]
    return a_idx * per_file, b_idx * per_file + (1 if plan.halves else 0)


def pairing_record(plan: PairPlan) -> dict[str, Any]:
    """What the manifest (and ``genlab data inspect``) says about the pairing."""
    record: dict[str, Any] = {"layout": plan.layout, "files": plan.domain_counts()}
    if plan.layout == "ab":
        record["matched"] = {split: len(a) for split, (a, _) in plan.splits.items()}
        record["unmatched"] = {"count": len(plan.unmatched), "first": plan.unmatched[:SHOWN]}
    if plan.layout == "unpaired":
        record["rule"] = UNPAIRED_RULE
        record["seed"] = UNPAIRED_SEED
    return record


def inspect_pairs(tree: Tree, options: DataOptions, where: str, show: bool) -> dict[str, Any]:
    """The pairing ``fill_pairs`` would make, from names and headers only (nothing decoded, nothing written)."""
    plan = plan_pairs([e.name for e in tree.entries], options.pairs, options.test_fraction, options.strict, where)
    sizes, colour, _, problems = read_sizes(tree, plan, options.pairs, where, show)
    own = int(np.median([square_side(w, h, options.crop) for w, h in sizes])) if sizes else 0
    return {
        **pairing_record(plan),
        "split": "own" if plan.own_split else f"held-out {options.test_fraction:g} (seeded)",
        "problems": {n: str(p) for n, p in problems.items()},
        "prepared_as": {
            "image_size": options.image_size or (nearest_size(own) if own else 0),
            "channels": options.channels or (3 if colour else 1),
            "row": "A left, B right (width 2 x image size)",
        },
        "notes": plan.notes,
    }


def _unusable(problems: dict[str, ImageProblem], where: str) -> None:
    names = ", ".join(f"{n} ({p})" for n, p in list(problems.items())[:SHOWN])
    raise DataError(f"no readable image pair in {where}; {len(problems)} corrupt or unreadable: {names}")
