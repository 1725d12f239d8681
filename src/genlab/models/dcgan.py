"""``dcgan``, ``cdcgan``, ``wgan``, ``wgan-gp``: DCGAN networks at the data's size (Radford et al. 2016).

G at 28x28 (the native size, MNIST): z (100) -> 7x7x256 -> 14x14x128 -> 28x28x64 -> 28x28xC tanh
(BatchNorm + ReLU, no BN on the output). D: strided convs 28 -> 14 -> 7 -> 4, LeakyReLU 0.2,
BatchNorm except on the first layer. Weights N(0, 0.02); Adam lr 2e-4, beta1 0.5.
``base_channels`` b (64 in the paper) scales every width.

Other sizes follow the shared schedule of :mod:`genlab.nn.sizes`: G projects z to the base
side and doubles it (32: 4 -> 8 -> 16 -> 32, 64: 4 -> ... -> 64, 128: 4 -> ... -> 128) with
b * min(2^i, 8) channels i levels above the output (..., 8b, 4b, 2b, b); D halves the image
(a 3x3 stride-2 conv on an odd side, 7 -> 4) down to at most 4x4 with b, 2b, 4b, 8b, 8b, ...
channels. At 28 this is exactly the network above. The conditional and Wasserstein families
share the nets and change only the defaults of :class:`GANOptions` (``d_norm=layer`` for the
gradient penalty).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from genlab.errors import ConfigError
from genlab.models.gan import AdversarialFamily
from genlab.models.gan_options import GANOptions
from genlab.models.gan_parts import LabelInput
from genlab.models.registry import register
from genlab.models.shapes import SIZES_128, ShapeSupport
from genlab.nn.sizes import base_side, pyramid_widths


@dataclass(frozen=True)
class DCGANConfig(GANOptions):
    z_dim: int = 100
    base_channels: int = 64  # G: 4b -> 2b -> b channels; D: b -> 2b -> 4b
    d_norm: Literal["batch", "layer", "none"] = "batch"  # normalisation in D's hidden convs

    def check(self) -> None:
        super().check()
        if self.z_dim < 1 or self.base_channels < 1:
            raise ConfigError(f"z_dim and base_channels must be >= 1, got {self.z_dim} and {self.base_channels}")
        if self.gp and self.d_norm == "batch":
            raise ConfigError(
                "a gradient penalty needs a critic without BatchNorm (per-sample gradients): --set d_norm=layer or "
                "d_norm=none"
            )


@dataclass(frozen=True)
class CDCGANConfig(DCGANConfig):
    conditional: bool = True


@dataclass(frozen=True)
class WGANConfig(DCGANConfig):
    """Arjovsky et al. 2017, algorithm 1: RMSprop lr 5e-5, clip 0.01, n_critic 5."""

    loss: Literal["non-saturating", "minimax", "hinge", "least-squares", "wasserstein"] = "wasserstein"
    optimizer: Literal["adam", "rmsprop"] = "rmsprop"
    lr: float = 5e-5
    n_critic: int = 5
    clip: float = 0.01


@dataclass(frozen=True)
class WGANGPConfig(DCGANConfig):
    """Gulrajani et al. 2017, algorithm 1: lambda 10, Adam lr 1e-4, betas (0, 0.9), n_critic 5, no BN in D."""

    loss: Literal["non-saturating", "minimax", "hinge", "least-squares", "wasserstein"] = "wasserstein"
    lr: float = 1e-4
    beta1: float = 0.0
    beta2: float = 0.9
    n_critic: int = 5
    gp: float = 10.0
    d_norm: Literal["batch", "layer", "none"] = "layer"


class DCGenerator(nn.Module):
    """z [+ label] -> Linear to (w_top, s, s) at the base side s -> stride-2 transposed convs up to
    ``size`` -> 3x3 conv to C, tanh. At 28: (4b, 7, 7) -> (2b, 14, 14) -> (b, 28, 28) -> (C, 28, 28)."""

    def __init__(
        self, z_dim: int, b: int, channels: int, num_classes: int = 0, embed_dim: int = 10, size: int = 28
    ) -> None:
        super().__init__()
        side, levels = base_side(size)
        widths = pyramid_widths(b, levels)[::-1]  # coarse to fine: at 28 [4b, 2b, b]
        self.top = (widths[0], side, side)
        self.label = LabelInput(num_classes, embed_dim) if num_classes else None
        z_in = z_dim + (embed_dim if num_classes else 0)
        flat = widths[0] * side * side
        self.project = nn.Sequential(nn.Linear(z_in, flat, bias=False), nn.BatchNorm1d(flat), nn.ReLU())
        layers: list[nn.Module] = []
        for c_in, c_out in zip(widths[:-1], widths[1:]):  # (B, c_in, s, s) -> (B, c_out, 2s, 2s)
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
        layers += [nn.Conv2d(b, channels, 3, 1, 1), nn.Tanh()]  # (B, b, size, size) -> (B, C, size, size)
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        # (B, z_dim) [+ labels (B,)] -> (B, w_top * s * s) -> (B, w_top, s, s) -> (B, C, size, size)
        if self.label is not None:
            z = self.label(z, labels)
        return self.net(self.project(z).view(z.shape[0], *self.top))


def norm2d(kind: str, channels: int) -> nn.Module:
    """BatchNorm, LayerNorm over (C, H, W) (GroupNorm with one group), or nothing."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def dc_features(b: int, channels: int, norm: str = "batch", size: int = 28) -> tuple[nn.Module, int]:
    """The DCGAN critic body: stride-2 convs halve ``size`` down to at most 4 (28 -> 14 -> 7 -> 4,
    64 -> 32 -> 16 -> 8 -> 4), channels b, 2b, 4b, 8b, 8b, ...; a 4x4 kernel on an even side, a 3x3
    on an odd one (7 -> 4); LeakyReLU 0.2, no norm on the first. Shapes: (B, C, size, size) -> (B, F)."""
    layers: list[nn.Module] = []
    side, c_in, level = size, channels, 0
    while side > 4:
        c_out = pyramid_widths(b, level)[-1]
        kernel = 4 if side % 2 == 0 else 3
        if level == 0:  # (B, C, size, size) -> (B, b, size/2, size/2), no norm here
            layers += [nn.Conv2d(c_in, c_out, kernel, 2, 1), nn.LeakyReLU(0.2)]
        else:  # (B, c_in, s, s) -> (B, c_out, ceil(s/2), ceil(s/2))
            layers += [
                nn.Conv2d(c_in, c_out, kernel, 2, 1, bias=norm != "batch"),
                norm2d(norm, c_out),
                nn.LeakyReLU(0.2),
            ]
        side, c_in, level = (side + 2 - kernel) // 2 + 1, c_out, level + 1
    layers.append(nn.Flatten())  # -> (B, c * side * side)
    return nn.Sequential(*layers), c_in * side * side


def dc_size(family: str, height: int, width: int) -> int:
    """The side of a square image the DCGAN schedule fits (it halves at least once to a base of 4..7)."""
    if height != width:
        raise ConfigError(f"{family} needs square images, the data set has {height}x{width}")
    if base_side(height)[1] < 1:
        raise ConfigError(
            f"{family} doubles a base side of 4 to 7 up to the image size (28, 32, 64, 128, ...); "
            f"{height}x{width} does not halve to one"
        )
    return height


def dcgan_init_(module: nn.Module) -> None:
    """Radford et al. 2016: weights N(0, 0.02); BatchNorm scale N(1, 0.02), shift 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class _DCGAN(AdversarialFamily):
    def __init__(self, cfg, info) -> None:
        self.size = dc_size(self.registry_name, info.height, info.width)
        super().__init__(cfg, info)

    def make_generator(self, num_classes: int) -> nn.Module:
        cfg = self.cfg
        return DCGenerator(cfg.z_dim, cfg.base_channels, self.info.channels, num_classes, cfg.embed_dim, self.size)

    def make_features(self, in_channels: int) -> tuple[nn.Module, int]:
        return dc_features(self.cfg.base_channels, in_channels, self.cfg.d_norm, self.size)

    def init_weights(self, g: nn.Module, d: nn.Module) -> None:
        dcgan_init_(g)
        dcgan_init_(d)


SMALL = {"base_channels": 16}
# Size presets keep one image's training cost within a few times small's at 28 (benchmarks/preset_cost.py).
DC_PRESET_NOTE = "presets small (28, 32), small-64, small-128"
DC_PRESETS = {"small": SMALL, "small-64": {"base_channels": 8}, "small-128": {"base_channels": 4}}
TINY = {"z_dim": 4, "base_channels": 2, "embed_dim": 3}
TINY_CRITIC = {**TINY, "n_critic": 2}  # tests feed 8 images a step; 5 critic batches would hold 1-2 each
DC_SHAPES = ShapeSupport(SIZES_128)


@register(
    "dcgan",
    config=DCGANConfig,
    description="DCGAN (Radford et al. 2016) at the data size; width knob base_channels (64); " + DC_PRESET_NOTE,
    presets=DC_PRESETS,
    tiny=TINY,
    shapes=DC_SHAPES,
)
class DCGAN(_DCGAN):
    pass


@register(
    "cdcgan",
    config=CDCGANConfig,
    description="Conditional DCGAN at the data size: label embedding into G, projection in D; " + DC_PRESET_NOTE,
    presets=DC_PRESETS,
    tiny=TINY,
    shapes=DC_SHAPES,
)
class CDCGAN(_DCGAN):
    pass


@register(
    "wgan",
    config=WGANConfig,
    description="WGAN (Arjovsky et al. 2017): DCGAN nets, weight clipping 0.01, RMSprop 5e-5, n_critic 5; "
    + DC_PRESET_NOTE,
    presets=DC_PRESETS,
    tiny=TINY_CRITIC,
    shapes=DC_SHAPES,
)
class WGAN(_DCGAN):
    pass


@register(
    "wgan-gp",
    config=WGANGPConfig,
    description="WGAN-GP (Gulrajani et al. 2017): gradient penalty 10, Adam 1e-4 (0, 0.9), n_critic 5, no BN in D; "
    + DC_PRESET_NOTE,
    presets=DC_PRESETS,
    tiny=TINY_CRITIC,
    shapes=DC_SHAPES,
)
class WGANGP(_DCGAN):
    pass
