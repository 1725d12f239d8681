"""Which image files form which image-to-image pair: pure functions of file names (no pixel is read).

Layouts (``--pairs``), for the translation families:

- ``ab``: two domain folders, ``A/`` (the input) and ``B/`` (the target), whose files pair up by
  their path inside the folder without the suffix (``A/x/1.png`` <-> ``B/x/1.jpg``). Split folders
  may sit at the top (``train/A``, ``train/B``, ``test/A``, ``test/B``; ``val/`` stands for
  ``test/``) or in the CycleGAN repository's names (``trainA/``, ``trainB/``, ``testA/``,
  ``testB/``); else a seeded fraction of the pairs is held out. A file without a partner is
  counted and listed (skipped, or an error under ``strict``); no pair at all is an error.
- ``side-by-side``: every image holds A left and B right (width = 2 x height), the pix2pix
  paper's own data sets (edges2shoes, facades); splits as for plain folders.
- ``paired``: ``ab`` when domain folders exist, else ``side-by-side``.
- ``unpaired``: the same domain folders, no name matching; each domain's files in its own order.
  Rows of the prepared array put one A beside one B by :func:`unpaired_rows`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

import numpy as np

from genlab.data.options import Pairs
from genlab.data.sources.plan import TEST_NAMES, file_order, held_out, is_image_name, plan_images
from genlab.errors import DataError

SHOWN = 5  # unmatched names listed in a warning or an error
UNPAIRED_SEED = 1  # the smaller domain's permutation cycle (not SPLIT_SEED = 0): recorded in the manifest
UNPAIRED_RULE = (
    "rows = the larger domain's count; the larger domain in its own order, the smaller one re-drawn by a cycle of "
    f"permutations from numpy.random.default_rng({UNPAIRED_SEED}) (every image once per cycle)"
)
Layout = Literal["ab", "side-by-side", "unpaired"]
DOMAIN_NAMES = {"A": "a", "a": "a", "B": "b", "b": "b"}
NEEDS = {
    "paired": "A/ and B/ folders whose files share names (A/x.png <-> B/x.png), or side-by-side A|B images "
    "(width = 2 x height)",
    "ab": "A/ and B/ folders whose files share names (A/x.png <-> B/x.png)",
    "side-by-side": "side-by-side A|B images (width = 2 x height)",
    "unpaired": "two folders of images, A/ and B/ (or trainA/ trainB/ testA/ testB/)",
}


@dataclass
class PairPlan:
    """The files to decode and, per split, which of them form domain A and domain B.

    ``splits[split]`` is ``(a, b)``: indices into ``files``; aligned row by row for ``ab`` and
    ``side-by-side`` (where a file holds both halves, ``a == b``), each domain's own list for ``unpaired``.
    """

    layout: Layout
    files: list[str]
    splits: dict[str, tuple[list[int], list[int]]]
    own_split: bool
    unmatched: list[str] = field(default_factory=list)  # ab: files without a partner, by name
    ignored: int = 0  # files that are not images, or images outside the domain folders
    notes: list[str] = field(default_factory=list)

    @property
    def halves(self) -> bool:
        """Whether each file holds A and B side by side."""
        return self.layout == "side-by-side"

    def domain_counts(self) -> dict[str, dict[str, int]]:
        """Images per domain and split (a side-by-side file counts once in each)."""
        return {d: {s: len(ab[k]) for s, ab in self.splits.items()} for k, d in enumerate(("A", "B"))}


def domain_of(name: str) -> tuple[str, str, str] | None:
    """(split, domain a/b, path inside the domain folder) of an image in a domain folder; None elsewhere.

    ``A/x.png`` -> ("all", "a", "x.png"); ``train/B/x.png`` -> ("train", "b", ...); ``testA/x.png`` -> ("test", ...).
    """
    parts = name.split("/")
    if len(parts) < 2:
        return None
    top = parts[0]
    if top in DOMAIN_NAMES:
        return "all", DOMAIN_NAMES[top], "/".join(parts[1:])
    if len(parts) >= 3 and top in ("train", *TEST_NAMES) and parts[1] in DOMAIN_NAMES:
        return ("train" if top == "train" else "test"), DOMAIN_NAMES[parts[1]], "/".join(parts[2:])
    split, letter = top[:-1], top[-1:]
    if letter in DOMAIN_NAMES and split in ("train", *TEST_NAMES):
        return ("train" if split == "train" else "test"), DOMAIN_NAMES[letter], "/".join(parts[1:])
    return None


def domain_files(names: list[str]) -> dict[str, dict[str, list[str]]]:
    """split -> domain -> image names in that domain folder (file order); {} when there are no domain folders."""
    found: dict[str, dict[str, list[str]]] = {}
    for name in names:
        where = domain_of(name) if is_image_name(name) else None
        if where is not None:
            found.setdefault(where[0], {"a": [], "b": []})[where[1]].append(name)
    for domains in found.values():
        for files in domains.values():
            files.sort(key=file_order)
    return {split: found[split] for split in ("all", "train", "test") if split in found}


def plan_pairs(names: list[str], mode: Pairs, test_fraction: float, strict: bool, where: str) -> PairPlan:
    """The pairing of ``names`` (paths inside the source) for ``mode`` (paired, ab, side-by-side, unpaired)."""
    if not names:
        raise DataError(f"{where} is empty: put image files (PNG, JPEG, WebP, BMP, GIF) in it")
    images = [n for n in names if is_image_name(n)]
    found = domain_files(images)
    if mode == "side-by-side" or (mode == "paired" and not found):
        plan = plan_images(names, "none", test_fraction, where)
        files = [n for split in plan.splits.values() for n in split]
        splits, start = {}, 0
        for split, members in plan.splits.items():
            rows = list(range(start, start + len(members)))
            splits[split] = (rows, rows)
            start += len(members)
        return PairPlan("side-by-side", files, splits, plan.own_split, [], plan.ignored, list(plan.notes))
    if not found:
        raise DataError(f"{where} has no A/ and B/ domain folders: --pairs {mode} needs {NEEDS[mode]}")
    notes: list[str] = []
    if "all" in found and ("train" in found or "test" in found):
        notes.append(
            f"{sum(map(len, found.pop('all').values()))} images in the top A/ and B/ are left out: the "
            "split folders are used"
        )
    if "test" in found and "train" not in found:
        raise DataError(f"{where} has test domain folders but no train ones (train/A and train/B, or trainA/ trainB/)")
    for split, domains in found.items():
        for letter, files in domains.items():
            if not files:
                other = "B" if letter == "a" else "A"
                label = "" if split == "all" else f" in the {split} split"
                raise DataError(
                    f"{where} has images in {other}/ but none in {letter.upper()}/{label}: --pairs {mode} needs "
                    f"{NEEDS[mode]}"
                )
    ignored = len(names) - sum(len(f) for d in found.values() for f in d.values())
    layout: Layout = "unpaired" if mode == "unpaired" else "ab"
    files: list[str] = []
    splits: dict[str, tuple[list[int], list[int]]] = {}
    unmatched: list[str] = []
    for split, domains in found.items():
        a, b = domains["a"], domains["b"]
        if layout == "ab":
            a, b, lost = match_names(a, b)
            unmatched += lost
            if not a:
                raise DataError(
                    f"no file of A/ has a partner of the same name in B/ in {where}{_split_label(split)} (first: "
                    f"{domains['a'][0]} and {domains['b'][0]}): --pairs {mode} needs {NEEDS['ab']}"
                )
        start = len(files)
        files += a + b
        splits[split] = (list(range(start, start + len(a))), list(range(start + len(a), len(files))))
    if unmatched:
        shown = ", ".join(unmatched[:SHOWN])
        if strict:
            raise DataError(f"--strict: {len(unmatched)} files in {where} have no partner of the same name: {shown}")
        notes.append(f"skipped {len(unmatched)} files without a partner of the same name: {shown}")
    own_split = "all" not in splits
    if not own_split:
        splits = _hold_out(splits.pop("all"), layout, test_fraction, where)
    return PairPlan(layout, files, splits, own_split, unmatched, ignored, notes)


def _split_label(split: str) -> str:
    return "" if split == "all" else f" ({split} split)"


def match_names(a: list[str], b: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(A files, their B partners, files without one): partners share the path inside the domain folder, less the
    suffix. Two files of one domain with the same stem (x.png, x.jpg) keep the first by name."""

    def stems(files: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name in sorted(files):
            inner = domain_of(name)
            assert inner is not None, name  # domain_files keeps only names in domain folders
            out.setdefault(str(PurePosixPath(inner[2]).with_suffix("")), name)
        return out

    sa, sb = stems(a), stems(b)
    keys = [k for k in sa if k in sb]
    keys.sort(key=lambda k: file_order(sa[k]))
    kept = {sa[k] for k in keys} | {sb[k] for k in keys}
    lost = sorted(n for n in [*a, *b] if n not in kept)
    return [sa[k] for k in keys], [sb[k] for k in keys], lost


def _hold_out(
    both: tuple[list[int], list[int]], layout: Layout, test_fraction: float, where: str
) -> dict[str, tuple[list[int], list[int]]]:
    """Train and test from one set of domain folders: a seeded fraction of the pairs (of each domain, unpaired)."""
    a, b = both
    if layout == "ab":
        test = set(held_out(len(a), test_fraction, where).tolist())
        keep = [i for i in range(len(a)) if i not in test]
        hold = sorted(test)
        return {
            "train": ([a[i] for i in keep], [b[i] for i in keep]),
            "test": ([a[i] for i in hold], [b[i] for i in hold]),
        }
    out: dict[str, tuple[list[int], list[int]]] = {"train": ([], []), "test": ([], [])}
    for k, files in enumerate((a, b)):
        test = set(held_out(len(files), test_fraction, f"domain {'AB'[k]} of {where}").tolist())
        out["train"][k].extend(f for i, f in enumerate(files) if i not in test)
        out["test"][k].extend(f for i, f in enumerate(files) if i in test)
    return out


def unpaired_rows(n_a: int, n_b: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices into domain A and domain B for the prepared (N, C, H, 2W) array of unpaired data (the rule in
    :data:`UNPAIRED_RULE`): N = max(n_a, n_b); the larger domain 0..N-1, the smaller one a seeded permutation
    cycle, so every image of it appears N // n or N // n + 1 times."""
    if n_a < 1 or n_b < 1:
        raise DataError(f"unpaired data needs images in both domains, got {n_a} in A and {n_b} in B")
    n = max(n_a, n_b)
    return _cycle(n_a, n), _cycle(n_b, n)


def _cycle(count: int, n: int) -> np.ndarray:
    if count == n:
        return np.arange(n)
    rng = np.random.default_rng(UNPAIRED_SEED)
    laps = -(-n // count)  # ceil
    return np.concatenate([rng.permutation(count) for _ in range(laps)])[:n]
