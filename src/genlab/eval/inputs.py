"""What ``genlab eval`` can score or compare with: image folders, sample arrays, runs, named sets, statistics.

:func:`images_of` is the one seam for image files: a path -> uint8 (N, C, H, W). It reads

- a folder of PNG/JPEG files (not recursive; names sorted, as pytorch-fid and torch-fidelity
  sort them; other files ignored), decoded by PIL: grey modes become 1 channel, everything
  else RGB (alpha dropped, as both tools' ``convert('RGB')`` does); a folder of mixed sizes is
  brought to the first image's size by PIL's anti-aliased BICUBIC resize (the reference tools
  refuse such folders, so no parity is claimed there);
- a samples ``.npz`` (``images`` array) or a ``.npy`` array, uint8, (N, H, W), (N, C, H, W) or
  channels-last (N, H, W, C), C in {1, 3} (when both readings fit, channels-first wins).

Every file is read with a regular-file check and a size bound, by the data layer's readers
(``genlab.data.sources.tree`` lists and reads a folder, ``genlab.data.decode.open_image`` opens an
image with Pillow's bomb check, ``genlab.data.npz`` reads arrays): arrays are checked against
their headers before anything is allocated; nothing is unpickled. Only the mode conversion is
eval's own, since it must match the reference tools.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from genlab.data.decode import ImageProblem, open_image
from genlab.data.npz import npz_members, read_npy
from genlab.data.samples import check_images, load_samples  # the samples file's own checks
from genlab.data.sources.tree import FolderTree
from genlab.errors import DataError
from genlab.eval.resize import pil_resize

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_IMAGE_FILE_BYTES = 64 * 2**20  # one PNG/JPEG file
MAX_IMAGE_PIXELS = 4096 * 4096  # one decoded image
MAX_TOTAL_BYTES = 4 * 2**30  # a whole decoded set, and one .npy/.npz file
GREY_MODES = ("1", "L", "LA", "La")
SIXTEEN_BIT_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def image_files(folder: Path) -> tuple[FolderTree, list[str]]:
    """The folder as a tree (genlab.data.sources.tree: regular files, bounded reads) and the names of the PNG/JPEG
    files directly in it, sorted by name (case-insensitive suffixes; hidden files left out, as glob leaves them)."""
    tree = FolderTree(folder, recursive=False)
    names = [e.name for e in tree.entries if not e.problem and Path(e.name).suffix.lower() in IMAGE_SUFFIXES]
    return tree, sorted(names)


def _decode(tree: FolderTree, name: str) -> Image.Image:
    """One file of ``tree`` as an L or RGB image (the reference tools' conversion: alpha dropped, not composited);
    read by the data layer (regular file, at most MAX_IMAGE_FILE_BYTES) and opened by its bomb-checking opener."""
    path = tree.root / name
    try:
        image = open_image(tree.read(name, MAX_IMAGE_FILE_BYTES))
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise DataError(
                f"image {path} is {image.width} x {image.height} pixels, over the {MAX_IMAGE_PIXELS}-pixel bound"
            )
        if image.mode in SIXTEEN_BIT_MODES:
            raise DataError(
                f"image {path} has 16-bit or float pixels (mode {image.mode}); genlab reads 8-bit images: "
                "convert it to 8-bit first"
            )
        image.load()
        return image.convert("L" if image.mode in GREY_MODES else "RGB")
    except ImageProblem as e:
        if e.kind == "unreadable":
            raise DataError(f"image {path} could not be read ({e}; the bound per file is {MAX_IMAGE_FILE_BYTES})")
        raise DataError(f"image {path} could not be decoded ({e})") from None
    except (OSError, Image.DecompressionBombError, ValueError, SyntaxError, EOFError) as e:
        raise DataError(f"image {path} could not be decoded ({str(e).splitlines()[0] if str(e) else e!r})") from None


def read_image_folder(folder: str | Path) -> tuple[np.ndarray, str]:
    """A folder of images as uint8 (N, C, H, W), and a note saying what was converted (or "")."""
    folder = Path(folder)
    tree, files = image_files(folder)
    if not files:
        hint = " (it is a run directory: it holds config.yaml)" if (folder / "config.yaml").is_file() else ""
        raise DataError(f"folder {folder} holds no PNG or JPEG images (*.png, *.jpg, *.jpeg){hint}")
    first = _decode(tree, files[0])
    height, width = first.height, first.width
    per_image = height * width * 3
    if per_image * len(files) > MAX_TOTAL_BYTES:
        raise DataError(
            f"folder {folder}: {len(files)} images of {width} x {height} would need over {MAX_TOTAL_BYTES} bytes "
            "decoded; score a subset (a folder with fewer files)"
        )
    pictures = [first] + [_decode(tree, name) for name in files[1:]]
    channels = 1 if all(p.mode == "L" for p in pictures) else 3
    out = np.empty((len(files), channels, height, width), dtype=np.uint8)
    resized = 0
    for i, picture in enumerate(pictures):
        if channels == 3 and picture.mode == "L":
            picture = picture.convert("RGB")  # grey among colour: repeated, as PIL convert('RGB')
        array = np.asarray(picture)
        array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)  # (H, W[, 3]) -> (C, H, W)
        if array.shape[1:] != (height, width):
            array = pil_resize(array[None], height, width)[0]
            resized += 1
        out[i] = array
    modes = sorted({p.mode for p in pictures})
    notes = []
    if resized:
        notes.append(f"{resized} of different size resized to {width}x{height} (PIL bicubic)")
    if len(modes) > 1:
        notes.append(f"modes {'/'.join(modes)} read as {'grey' if channels == 1 else 'RGB'}")
    return out, "; ".join(notes)


def as_nchw(images: np.ndarray, where: str) -> np.ndarray:
    """uint8 (N, H, W), (N, C, H, W) or channels-last (N, H, W, C), C in {1, 3} -> (N, C, H, W)."""
    if images.ndim == 4 and images.shape[1] not in (1, 3) and images.shape[3] in (1, 3):
        images = images.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    return np.ascontiguousarray(check_images(images, where))


def read_images(path: str | Path) -> tuple[np.ndarray, np.ndarray | None, str]:
    """uint8 (N, C, H, W) images, int64 labels or None, and a note, from a folder, .npz or .npy."""
    path = Path(path)
    if path.is_dir():
        images, note = read_image_folder(path)
        return images, None, note
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return as_nchw(read_npy(path, MAX_TOTAL_BYTES), str(path)), None, ""
    if suffix == ".npz":
        members = npz_members(path, MAX_TOTAL_BYTES)
        if "images" not in members and {"mu", "sigma"} <= set(members):
            raise DataError(f"{path} has no 'images' array; it is a statistics file, which only --ref can take")
        images, labels = load_samples(path)  # the samples reader's checks (bounded, unambiguous, no pickles)
        return np.ascontiguousarray(images), labels, ""
    if not path.exists():
        raise DataError(f"{path} does not exist")
    raise DataError(f"{path} is not a folder of images, a .npz or a .npy file")


def images_of(path: str | Path) -> np.ndarray:
    """The images at ``path`` (a folder of PNG/JPEG, a .npz or a .npy) as uint8 (N, C, H, W)."""
    return read_images(path)[0]


@dataclass(frozen=True)
class ImageSet:
    """Images to score or compare with, and how to name them in a result."""

    images: np.ndarray  # uint8 (N, C, H, W)
    labels: np.ndarray | None  # int64 (N,), for conditional samples
    description: str
    counts: dict[str, int] = field(default_factory=dict)  # a run's parameter counts (Family.parameter_counts)


def write_image_folder(folder: str | Path, images: np.ndarray, provenance: dict | None = None) -> list[Path]:
    """One PNG per image (000000.png, ...), the metric copy: pixels unmarked, provenance text chunks only.

    The files read back through :func:`read_image_folder` (and pytorch-fid, torch-fidelity, clean-fid)
    as the same uint8 pixels. Shapes: images uint8 (N, C, H, W) or (N, H, W).
    """
    from genlab.data import save_png

    images = check_images(np.asarray(images), "images")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    width = max(6, len(str(images.shape[0] - 1)))
    paths = []
    for i, image in enumerate(images):
        array = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)  # (C, H, W) -> (H, W[, 3])
        paths.append(save_png(folder / f"{i:0{width}d}.png", array, watermark=None, provenance=provenance))
    return paths
