"""The prepared-data cache: decoded once, then opened memory-mapped in a fraction of a second.

A prepared data set is a folder ``<cache>/prepared/<key>/`` holding ``train-images.npy``,
``test-images.npy`` (uint8 (N, C, S, S); image pairs (N, C, S, 2S), A left of B), ``train-labels.npy``,
``test-labels.npy`` (int64) and
``manifest.json`` (source, file-list hash, sizes, classes, preprocessing, split). The key hashes
the source's file list (names, sizes, modification stamps) and the requested preprocessing, so
changing a file or an option makes a new entry and nothing stale is ever read. The cache lives
in ``--cache-dir``, else ``$GENLAB_CACHE``, else ``$XDG_CACHE_HOME/genlab`` or
``~/.cache/genlab`` -- never beside the data. An entry is built in a temporary folder and
renamed into place, so a crash or two processes at once never leave half an entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genlab.atomic import write_error
from genlab.errors import DataError
from genlab.files import MAX_JSON_BYTES, read_json

FORMAT = 1  # bump when the prepared layout or the decoding changes: old entries are then not reused
ENV_VAR = "GENLAB_CACHE"
SPLITS = ("train", "test")


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder prepared data sets live in (``.../prepared``)."""
    chosen = cache_dir or os.environ.get(ENV_VAR)
    if not chosen:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        chosen = Path(base) / "genlab"
    return Path(chosen).expanduser().resolve() / "prepared"


def cache_key(kind: str, files: str, options: dict[str, Any]) -> str:
    """sha256 of the format version, the source's kind, its file-list hash and the requested preprocessing."""
    text = json.dumps({"format": FORMAT, "kind": kind, "files": files, "options": options}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Prepared:
    """One prepared data set: its folder and manifest; ``split`` opens its arrays memory-mapped."""

    folder: Path
    manifest: dict[str, Any]

    def split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 (N, C, S, S) images -- (N, C, S, 2S) for image pairs --, read-only and memory-mapped; int64 (N,)
        labels)."""
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}; use one of: {', '.join(SPLITS)}")
        try:
            images = np.load(self.folder / f"{split}-images.npy", mmap_mode="r", allow_pickle=False)
            labels = np.load(self.folder / f"{split}-labels.npy", allow_pickle=False)
        except (OSError, ValueError) as e:
            raise DataError(
                f"prepared data {self.folder} is damaged ({str(e).splitlines()[0]}); delete that folder and run again"
            ) from None
        try:
            expected = self.manifest["images"][split]
            c, s = self.manifest["channels"], self.manifest["image_size"]
            w = self.manifest.get("width", s)  # image pairs: A|B side by side, 2 x image_size
        except (KeyError, TypeError, AttributeError):
            expected = c = s = w = None  # a damaged manifest: the shape check below refuses it
        if images.shape != (expected, c, s, w) or images.dtype != np.uint8 or labels.shape != (expected,):
            raise DataError(
                f"prepared data {self.folder} does not match its manifest; delete that folder and run again"
            )
        return images, labels

    @property
    def num_classes(self) -> int:
        return len(self.manifest["classes"])


def open_prepared(folder: Path) -> Prepared | None:
    """The prepared data set in ``folder``, or None when there is none (or its manifest is unreadable)."""
    if not (folder / "manifest.json").is_file():
        return None
    try:
        manifest = read_json(folder / "manifest.json", MAX_JSON_BYTES, "manifest")
    except DataError:
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return None
    return Prepared(folder, manifest)


def check_outside(root: Path, source: Path) -> None:
    """Refuse a cache folder inside the data's own folder: nothing is ever written beside the data."""
    if source.is_dir() and root.is_relative_to(source.resolve()):
        raise DataError(
            f"the cache folder {root} lies inside the data folder {source}; genlab never writes beside the data: "
            "choose another --cache-dir (or $GENLAB_CACHE)"
        )


def build_entry(root: Path, key: str, fill: Callable[[Path], dict[str, Any]]) -> Prepared:
    """Make ``root/key`` by calling ``fill(temp_folder)`` (which writes the arrays and returns the manifest).

    The manifest is written last and the folder renamed into place; a concurrent builder that
    finished first wins, and this one's copy is removed.
    """
    final = root / key
    tmp = root / f".{key}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        tmp.mkdir(parents=True)
    except OSError as e:
        raise write_error(tmp, e) from None
    try:
        manifest = fill(tmp)
        manifest["arrays_sha256"] = arrays_hash(tmp)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        for item in tmp.iterdir():
            with open(item, "rb+") as f:
                os.fsync(f.fileno())
        try:
            os.rename(tmp, final)
        except OSError:
            if open_prepared(final) is None:
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process built the same entry first
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError) and not isinstance(e, DataError):
            raise write_error(final, e) from None
        raise
    prepared = open_prepared(final)
    assert prepared is not None, final  # just written
    return prepared


def arrays_hash(folder: Path) -> str:
    """sha256 over every split's images and labels, in a fixed order: what the model card quotes."""
    digest = hashlib.sha256()
    for split in SPLITS:
        for part in ("images", "labels"):
            array = np.load(folder / f"{split}-{part}.npy", mmap_mode="r", allow_pickle=False)
            digest.update(f"{split}-{part} {array.dtype.str} {array.shape}".encode())
            flat = array.reshape(-1)
            for start in range(0, flat.shape[0], 1 << 24):
                digest.update(np.ascontiguousarray(flat[start : start + (1 << 24)]).tobytes())
    return digest.hexdigest()
