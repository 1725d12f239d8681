"""Load a data set, by name or by path, in the one layout the trainers expect.

Every loader returns uint8 images (N, C, H, W), int64 labels (N,) and a :class:`DataInfo`.
A name (``mnist``, ``shapes64``, ...) is one of ``LOADERS``: add a data set by adding an entry.
Anything else is a path (a folder or archive of images, IDX files, CIFAR binary, .npz/.npy),
prepared once into the cache (:mod:`genlab.data.prepare`) and returned memory-mapped.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genlab.data.captions import IMAGE_SIZE as CAPTIONS_SIZE
from genlab.data.captions import NUM_CODES as CAPTION_CODES
from genlab.data.captions import load_captions32
from genlab.data.decode import Prep, decode_array
from genlab.data.mnist import load_mnist
from genlab.data.options import DataOptions, background_rgb
from genlab.data.prepare import prepare
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
    # Image pairs from a path (width = 2 x height, A|B): JSON {"path", "layout", "options"} from which the translation
    # families draw held-out inputs (load_pairs); "" for every other data set.
    pairs_source: str = ""


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


def load_dataset(
    name: str, split: str, data_dir: str | Path | None = None, options: DataOptions | None = None
) -> Loaded:
    """Load split ``split`` (train or test) of data set ``name``, a known name or a path.

    ``options`` (a run's ``TrainConfig.data_options()``) say how a path source is prepared; for a
    named set only ``image_size``, ``channels`` and ``labels=none`` apply. ``data_dir`` is the MNIST
    folder (MD5-checked). Shapes: images uint8 (N, C, H, W) (read-only; memory-mapped for a path),
    labels int64 (N,) (zeros when unlabelled, num_classes 0), plus its DataInfo.
    """
    options = options or DataOptions()
    loader = LOADERS.get(name)
    if loader is None:
        return _load_path(name, split, options)
    options.check()
    images, labels, info = loader(split, data_dir)
    if options.labels == "none":
        labels, info = np.zeros_like(labels), dataclasses.replace(info, num_classes=0)
    return _reshape_named(images, labels, info, options)


def is_named(name: str) -> bool:
    """Whether ``name`` is a built-in data set rather than a path."""
    return name in LOADERS


RECORD_FIELDS = (
    "source",
    "container",
    "kind",
    "key",
    "file_list_sha256",
    "arrays_sha256",
    "images",
    "image_size",
    "channels",
    "classes",
    "class_counts",
    "split",
    "options",
    "upscaled",
    "layout",
    "domains",
    "pairing",
)


def source_record(name: str, options: DataOptions | None = None) -> dict | None:
    """What a path source was prepared into (from its manifest), for a run's data.json; None for a named set."""
    if name in LOADERS:
        return None
    manifest = prepare(name, options).manifest
    record = {k: manifest[k] for k in RECORD_FIELDS if k in manifest}
    record["skipped"] = manifest.get("skipped", {}).get("count", 0)
    return record


def _load_path(source: str, split: str, options: DataOptions) -> Loaded:
    from genlab.data.prepare import prepare  # imported late: only path sources need it

    if split not in ("train", "test"):
        raise DataError(f"unknown split {split!r}; use one of: train, test.")
    if not Path(source).expanduser().exists():
        raise DataError(
            f"unknown data set {source!r}; known: {', '.join(sorted(LOADERS))}; or give the path of an existing "
            "folder or file of images."
        )
    prepared = prepare(source, options)
    images, labels = prepared.split(split)
    c, s = prepared.manifest["channels"], prepared.manifest["image_size"]
    layout = prepared.manifest.get("layout")
    if layout is None:
        return images, labels, DataInfo(c, s, s, prepared.num_classes)
    where = str(Path(source).expanduser().resolve())
    ref = json.dumps({"path": where, "layout": layout, "options": options.to_dict()}, sort_keys=True)
    return images, labels, DataInfo(c, s, 2 * s, 0, pairs_source=ref)


def load_pairs(pairs_source: str, split: str) -> tuple[np.ndarray, str]:
    """(uint8 (N, C, S, 2S) A|B rows of ``split``, layout) of the image pairs a ``DataInfo.pairs_source`` names,
    prepared as when the model was trained (from the cache, else decoded again from the source)."""
    try:
        ref = json.loads(pairs_source)
        path, layout, options = str(ref["path"]), str(ref["layout"]), DataOptions(**ref["options"])
    except (ValueError, KeyError, TypeError) as e:
        raise DataError(f"the data info's pairs_source is damaged ({e}); retrain on the image pairs") from None
    if not Path(path).exists():
        raise DataError(
            f"the image pairs this model was trained on, {path}, are not there any more: put them back at that path"
        )
    images, _, _ = _load_path(path, split, options)
    return images, layout


def _reshape_named(images: np.ndarray, labels: np.ndarray, info: DataInfo, options: DataOptions) -> Loaded:
    """A named set at another size or channel count (the same per-image preprocessing as path sources)."""
    if options.image_size in (0, info.height) and options.channels in (0, info.channels):
        return images, labels, info
    if info.height != info.width:
        raise DataError(f"--image-size / --channels need square images; this data set is {info.height}x{info.width}")
    size = options.image_size or info.height
    channels = options.channels or info.channels
    prep = Prep(size, channels, options.crop, background_rgb(options.background))
    out = np.stack([decode_array(image, prep)[0] for image in images])  # (N, C', S, S)
    out.setflags(write=False)
    return out, labels, dataclasses.replace(info, channels=channels, height=size, width=size)
