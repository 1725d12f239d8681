"""How a user's images become training arrays: size, channels, crop, labels, split, background.

One frozen :class:`DataOptions` travels from the command line (``TrainConfig`` holds the same
fields, so a run's config.yaml reproduces its data) to the decoder and into the cache key.
``image_size`` and ``channels`` 0 mean "the data's own": the median square side, rounded to
the nearest of :data:`SIZES` on a log scale, and 3 channels when any image has colour.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from PIL import ImageColor

from genlab.errors import DataError

SIZES = (28, 32, 64, 128)  # the sizes the model families build for
MIN_SIZE, MAX_SIZE = 8, 512
SPLIT_SEED = 0  # the held-out test split is a function of the file list and this seed, not of the run's seed

Crop = Literal["center", "none"]
Labels = Literal["auto", "folders", "none"]
# How image files form translation pairs (genlab.data.sources.pairs): none = plain images; paired = A/ and B/ folders
# matched by name, else side-by-side A|B images; ab / side-by-side: that layout only; unpaired = two domain folders.
Pairs = Literal["none", "paired", "ab", "side-by-side", "unpaired"]
PAIRS = ("none", "paired", "ab", "side-by-side", "unpaired")


@dataclass(frozen=True)
class DataOptions:
    """Preprocessing of a path source (named data sets take ``image_size``/``channels`` only)."""

    image_size: int = 0  # square side in pixels; 0 = the data's own, rounded to the nearest of SIZES
    channels: int = 0  # 1 (grey) or 3 (RGB); 0 = the data's own (3 when any image has colour)
    crop: Crop = "center"  # center: crop the middle square; none: pad to a square with the background
    labels: Labels = "auto"  # auto: class folders when every image sits in one; folders: require them; none
    test_fraction: float = 0.1  # held out, seeded, when the data has no test split of its own
    background: str = "white"  # what transparent pixels and padding become (a colour name or #rrggbb)
    strict: bool = False  # corrupt or unreadable files are an error instead of being skipped
    pairs: Pairs = "none"  # image-to-image pairs: none (plain images), paired, ab, side-by-side or unpaired

    def check(self) -> None:
        """Raise DataError for values that cannot work."""
        if self.image_size != 0 and not MIN_SIZE <= self.image_size <= MAX_SIZE:
            raise DataError(
                f"image_size must be 0 (the data's own) or {MIN_SIZE}..{MAX_SIZE} pixels, got {self.image_size}"
            )
        if self.channels not in (0, 1, 3):
            raise DataError(f"channels must be 0 (the data's own), 1 or 3, got {self.channels}")
        if self.crop not in ("center", "none"):
            raise DataError(f"crop must be center or none, got {self.crop!r}")
        if self.labels not in ("auto", "folders", "none"):
            raise DataError(f"labels must be auto, folders or none, got {self.labels!r}")
        if not 0 < self.test_fraction < 1:
            raise DataError(f"test_fraction must lie strictly between 0 and 1, got {self.test_fraction}")
        if self.pairs not in PAIRS:
            raise DataError(f"pairs must be one of {', '.join(PAIRS)}, got {self.pairs!r}")
        background_rgb(self.background)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict; ``pairs`` only when set, so the cache keys of plain images stay as they were."""
        fields = asdict(self)
        if fields["pairs"] == "none":
            del fields["pairs"]
        return fields


def background_rgb(name: str) -> tuple[int, int, int]:
    """The (r, g, b) of a colour name or ``#rrggbb``; a DataError names the bad value."""
    try:
        rgb = ImageColor.getrgb(name)
    except (ValueError, AttributeError):
        raise DataError(f"background {name!r} is not a colour; use a name like white or black, or #rrggbb") from None
    return rgb[0], rgb[1], rgb[2]


def nearest_size(side: float) -> int:
    """The size in :data:`SIZES` nearest to ``side`` on a log scale (48 -> 64, 40 -> 32); ties go up."""
    if side <= 0:
        raise DataError(f"cannot choose an image size for side {side}")
    return min(SIZES, key=lambda s: (abs(math.log(side / s)), -s))


def square_side(width: int, height: int, crop: Crop) -> int:
    """Side of the square an image becomes before resizing: cropped to the short side or padded to the long."""
    return min(width, height) if crop == "center" else max(width, height)
