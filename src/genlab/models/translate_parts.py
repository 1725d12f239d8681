"""Pieces the translation families (``pix2pix``, ``cyclegan``) share: their base class, the shapes
they take, the history pool of generated images, the held-out inputs ``sample`` translates, and
per-image test scores.

Data: a built-in translation set (:mod:`genlab.data.translation`, named by the family's
``pairs`` / ``domains`` key), or the user's own image pairs (``--data PATH``, prepared by
:mod:`genlab.data.prepare_pairs`), whose ``DataInfo.pairs_source`` names where held-out inputs
come from; the ``pairs`` / ``domains`` key is then not used.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch

from genlab.data import DataInfo
from genlab.data.datasets import load_pairs
from genlab.data.translation import TRANSLATION_SETS, load_translation, split_pair, translation_info
from genlab.errors import ConfigError
from genlab.math.image_metrics import mean_absolute_error, psnr, ssim
from genlab.models.base import Family
from genlab.models.shapes import CHANNELS, ShapeSupport
from genlab.nn.noise import rand, randint

MIN_PAIR_SIDE = 8  # own image pairs: the smallest side the translation networks take
PAIR_LAYOUTS = {"paired": ("ab", "side-by-side"), "unpaired": ("unpaired", "ab", "side-by-side")}

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


class TranslationFamily(Family):
    """Base of the translation families: what pairing of own data they need, and A -> B translation."""

    kind = "translation"
    pairing: ClassVar[Literal["paired", "unpaired"]]  # what --pairs auto means for own data (data_pairs)

    @abstractmethod
    def translate_a(self, inputs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Domain A images translated to domain B, as ``sample`` does. Shapes: (B, C, H, W) in [-1, 1] -> same."""


@dataclass(frozen=True)
class PairShapes(ShapeSupport):
    """The built-in sets' shapes, plus own image pairs at any square side S >= 8: C x S x 2S, C in 1 or 3."""

    def accepts(self, channels: int, height: int, width: int) -> bool:
        own = channels in CHANNELS and height >= MIN_PAIR_SIDE and width == 2 * height
        return own or super().accepts(channels, height, width)

    def describe(self) -> str:
        return f"{super().describe()}, or your own image pairs (--data PATH) as C x S x 2S with C 1 or 3"


def translation_shapes(kind: Literal["paired", "unpaired"], example: str) -> ShapeSupport:
    """What a translation family takes: the side-by-side A|B shapes of the data sets of ``kind``, and own pairs."""
    infos = [translation_info(name) for name, spec in TRANSLATION_SETS.items() if spec.kind == kind]
    shapes = sorted({(i.channels, i.height, i.width) for i in infos})  # e.g. [(1, 28, 56), (3, 28, 56)]
    return PairShapes(shapes=tuple(shapes), task=f"side-by-side A|B {kind} pairs, --dataset {example}")


def data_pairs(family_cls: type[Family], requested: str, is_path: bool, family: str) -> str:
    """The ``--pairs`` a run of ``family_cls`` reads its data with: ``auto`` becomes the family's pairing (paired for
    pix2pix, unpaired for cyclegan) on a path and ``none`` otherwise; ConfigError for a layout the family cannot
    train on (a pair layout for an image family, plain images or unpaired domains for pix2pix)."""
    if not issubclass(family_cls, TranslationFamily):
        if requested in ("auto", "none"):
            return "none"
        raise ConfigError(
            f"--pairs {requested} is for the translation families (pix2pix, cyclegan); {family} trains on plain "
            "images: drop --pairs"
        )
    if requested == "auto":
        return family_cls.pairing if is_path else "none"
    if not is_path:
        if requested == "none":
            return "none"
        raise ConfigError(f"--pairs {requested} applies to a folder or archive of your own images given with --data")
    if requested == "none":
        raise ConfigError(
            f"{family} trains on image pairs, not plain images: give A/ and B/ folders or side-by-side A|B images "
            f"with --pairs {family_cls.pairing} (or leave --pairs out)"
        )
    if family_cls.pairing == "paired" and requested == "unpaired":
        raise ConfigError(
            f"{family} learns from aligned pairs; --pairs unpaired gives none: use --pairs paired, ab or "
            "side-by-side (cyclegan trains on unpaired domains)"
        )
    return requested


def check_translation_set(name: str, info: DataInfo, family: str, key: str, kind: str) -> None:
    """The family's translation set must exist, be of ``kind`` and match the data it is built for; own image pairs
    must be in a layout the family trains on (pix2pix: aligned pairs; cyclegan: any)."""
    if info.pairs_source:
        layout = _layout(info.pairs_source)
        if layout not in PAIR_LAYOUTS[kind]:
            raise ConfigError(
                f"{family} needs aligned image pairs (A/ and B/ folders with matching names, or side-by-side images); "
                f"this data was prepared as {layout}: train with --pairs paired"
            )
        return
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


def _layout(pairs_source: str) -> str:
    try:
        return str(json.loads(pairs_source)["layout"])
    except (ValueError, KeyError, TypeError):
        raise ConfigError("the data info's pairs_source is damaged; retrain on the image pairs") from None


def test_pairs(name: str, info: DataInfo) -> torch.Tensor | Any:
    """The uint8 (N, C, H, 2W) A|B test rows the family's held-out inputs come from: the own pairs it was trained on
    (``info.pairs_source``), else translation set ``name``."""
    if info.pairs_source:
        return load_pairs(info.pairs_source, "test")[0]
    return load_translation(name, "test")[0]


def held_out_images(
    name: str, side: Literal["a", "b"], n: int, generator: torch.Generator, info: DataInfo | None = None
) -> torch.Tensor:
    """``n`` test images of one domain of set ``name`` (or of the own pairs ``info`` names), drawn with
    ``generator``, in [-1, 1].

    Distinct images while n <= the test size, with replacement beyond it.
    Shapes: -> float32 (n, C, H, W).
    """
    pairs = test_pairs(name, info) if info is not None else load_translation(name, "test")[0]
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
