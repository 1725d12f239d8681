"""Which image shapes a family builds at, declared once per family at registration.

An *image family* (gan, dcgan, vae, ddpm, ...) builds its networks for the data's shape:
its ``sizes`` are the square sides it is built, trained and tested at (tests/models/
test_shapes.py), with ``channels`` 1 or 3. Other shapes that fit its architecture often build
too (an odd side, a rectangle); those are not promised. A *task-specific* family (``task``
set: pix2pix, cyclegan, the text families, numpy-gan, dcgan64) takes only its own data's
shapes, and building it at any other shape raises one ConfigError line naming them
(:meth:`ShapeSupport.check`, called by ``Family.__init__``).

The data side asks :func:`genlab.models.registry.supported_shapes` and
:func:`genlab.models.registry.nearest_size` which size to resize a data set to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from genlab.errors import ConfigError

Shape = tuple[int, int, int]  # (C, H, W)

SIZES = (28, 32, 64)  # the square sides every image family takes
SIZES_128 = (*SIZES, 128)  # ... and those cheap enough per pixel to go to 128 on a CPU
CHANNELS = (1, 3)


@dataclass(frozen=True)
class ShapeSupport:
    """The shapes a family builds at: square ``sizes`` x ``channels``, or exactly ``shapes``."""

    sizes: tuple[int, ...] = SIZES  # square sides
    channels: tuple[int, ...] = CHANNELS
    shapes: tuple[Shape, ...] = ()  # non-square task-specific families: exactly these (C, H, W)
    task: str = ""  # set for a task-specific family: the data it is for (names the --dataset)
    why_not_common: str = ""  # an image family that skips one of SIZES says why (e.g. its latent map's arithmetic)

    @property
    def task_specific(self) -> bool:
        return bool(self.task)

    def all(self) -> tuple[Shape, ...]:
        """Every supported (C, H, W), smallest side first."""
        if self.shapes:
            return self.shapes
        return tuple((c, s, s) for s in self.sizes for c in self.channels)

    def accepts(self, channels: int, height: int, width: int) -> bool:
        return (channels, height, width) in self.all()

    def describe(self) -> str:
        """'28x28, 32x32 or 64x64 images with 1 or 3 channels' / '1x28x56 or 3x28x56 images'."""
        if self.shapes:
            return f"{_either([f'{c}x{h}x{w}' for c, h, w in self.shapes])} images"
        sides = _either([f"{s}x{s}" for s in self.sizes])
        return f"{sides} images with {_either([str(c) for c in self.channels])} channel{'s' * (self.channels != (1,))}"

    def summary(self) -> str:
        """A short table cell: '28 32 64 128 px, 1|3 ch' (only ... for a task-specific family)."""
        if self.shapes:
            text = ", ".join(f"{c}x{h}x{w}" for c, h, w in self.shapes)
        else:
            text = f"{' '.join(map(str, self.sizes))} px, {'|'.join(map(str, self.channels))} ch"
        return f"only {text}" if self.task_specific else text

    def check(self, family: str, channels: int, height: int, width: int) -> None:
        """One ConfigError line when a task-specific family is built at a shape it does not take."""
        if self.task_specific and not self.accepts(channels, height, width):
            raise ConfigError(
                f"{family} is task-specific ({self.task}) and takes only {self.describe()}, not "
                f"{channels}x{height}x{width}; for other data use an image family (genlab list shows their sizes)"
            )

    def nearest_size(self, size: int) -> int:
        """The supported square side nearest to ``size`` by ratio (a tie goes to the larger side)."""
        sides = sorted({h for _, h, w in self.all() if h == w})
        if not sides:
            raise ConfigError(f"no square size to pick: the family takes only {self.describe()}")
        if size < 1:
            raise ConfigError(f"an image side must be >= 1, got {size}")
        return min(sides, key=lambda s: (abs(math.log(s / size)), -s))


# The text families read caption codes (--dataset captions32, 32x32 RGB); 8 and 16 are their test sizes.
CAPTION_SHAPES = ShapeSupport((8, 16, 32), (3,), task="text-to-image on caption codes, --dataset captions32")


def _either(items: list[str]) -> str:
    """'a', 'a or b', 'a, b or c'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"
