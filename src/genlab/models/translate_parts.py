"""Pieces the translation families (``pix2pix``, ``cyclegan``) share: the history pool of
generated images, the held-out inputs ``sample`` translates, and per-image test scores."""

from __future__ import annotations

from typing import Any, Literal

import torch

from genlab.data import DataInfo
from genlab.data.translation import TRANSLATION_SETS, load_translation, split_pair, translation_info
from genlab.errors import ConfigError
from genlab.math.image_metrics import mean_absolute_error, psnr, ssim
from genlab.models.shapes import ShapeSupport
from genlab.nn.noise import rand, randint

CPU = torch.device("cpu")


class ImagePool:
    """A history of ``size`` generated images the discriminator also learns from.

    Shrivastava et al. 2017; Zhu et al. 2017, section 4: until the pool is full every new
    image is stored and returned; afterwards each new image is, with probability 1/2,
    swapped for a random stored one (the old one is returned), else returned as it is.
    Its contents are training state: :meth:`state_dict` goes into checkpoints.
    Shapes: query (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, size: int, image_shape: tuple[int, int, int]) -> None:
        self.size = size
        self.images = torch.zeros(size, *image_shape)
        self.count = 0

    @torch.no_grad()
    def query(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.size == 0:
            return images
        if (
            self.images.device != images.device
        ):  # the pool follows the generator's images (built, or resumed, on the CPU)
            self.images = self.images.to(images.device)
        out = []
        for image in images:
            if self.count < self.size:
                self.images[self.count] = image
                self.count += 1
                out.append(image)
            elif rand((), generator, CPU).item() < 0.5:
                i = int(randint(0, self.size, (), generator, CPU))
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict[str, Any]:
        return {"images": self.images.clone(), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if tuple(state["images"].shape) != tuple(self.images.shape):
            raise ValueError(
                f"image pool of shape {tuple(state['images'].shape)} does not fit {tuple(self.images.shape)}"
            )
        self.images = state["images"].clone()
        self.count = int(state["count"])


def translation_shapes(kind: Literal["paired", "unpaired"], example: str) -> ShapeSupport:
    """What a translation family takes: the side-by-side A|B shapes of the data sets of ``kind``."""
    infos = [translation_info(name) for name, spec in TRANSLATION_SETS.items() if spec.kind == kind]
    shapes = sorted({(i.channels, i.height, i.width) for i in infos})  # e.g. [(1, 28, 56), (3, 28, 56)]
    return ShapeSupport(shapes=tuple(shapes), task=f"side-by-side A|B {kind} pairs, --dataset {example}")


def check_translation_set(name: str, info: DataInfo, family: str, key: str, kind: str) -> None:
    """The family's translation set must exist, be of ``kind`` and match the data it is built for."""
    spec = TRANSLATION_SETS.get(name)
    if spec is None or spec.kind != kind:
        known = ", ".join(k for k, s in TRANSLATION_SETS.items() if s.kind == kind)
        raise ConfigError(f"{family} needs a {kind} translation data set for {key}, got {name!r}; known: {known}")
    want = translation_info(name)
    if (info.channels, info.height, info.width) != (want.channels, want.height, want.width):
        raise ConfigError(
            f"{family} with {key}={name} expects side-by-side A|B images {want.channels}x{want.height}x{want.width}, "
            f"the data set has {info.channels}x{info.height}x{info.width}: train with --dataset {name} (or --set "
            f"{key}=<that data set>)"
        )


def held_out_images(name: str, side: Literal["a", "b"], n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` test images of one domain of set ``name``, drawn with ``generator``, in [-1, 1].

    Distinct images while n <= the test size, with replacement beyond it.
    Shapes: -> float32 (n, C, H, W).
    """
    pairs, _ = load_translation(name, "test")
    a, b = split_pair(pairs)
    images = a if side == "a" else b
    total = images.shape[0]
    index = (
        torch.randperm(total, generator=generator, device=CPU)[:n]
        if n <= total
        else randint(0, total, (n,), generator, CPU)
    )
    return torch.from_numpy(images[index.numpy()]).float() / 127.5 - 1.0


def unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1], the scale every reported L1 / PSNR / SSIM uses."""
    return (x + 1.0) / 2.0


def translation_scores(output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Summed per-image L1, PSNR (dB) and SSIM on the [0, 1] scale, for a trainer's ``evaluate``.

    Shapes: (B, C, H, W) twice in [-1, 1].
    """
    o, t = unit(output), unit(target)
    return {
        "l1": mean_absolute_error(o, t).sum().item(),
        "psnr": psnr(o, t).clamp(max=100.0).sum().item(),  # identical images (inf dB) count as 100 dB
        "ssim": ssim(o, t).sum().item(),
    }
