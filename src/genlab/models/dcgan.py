"""``dcgan``, ``cdcgan``, ``wgan``, ``wgan-gp``: DCGAN networks at 28x28 (Radford et al. 2016).

G: z (100) -> 7x7x256 -> 14x14x128 -> 28x28x64 -> 28x28xC tanh (BatchNorm + ReLU, no BN on
the output). D: strided convs 28 -> 14 -> 7 -> 4, LeakyReLU 0.2, BatchNorm except on the
first layer. Weights N(0, 0.02); Adam lr 2e-4, beta1 0.5. ``base_channels`` (64 in the
paper) scales every width. The conditional and Wasserstein families share the nets and
change only the defaults of :class:`GANOptions` (``d_norm=layer`` for the gradient penalty).
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
    def __init__(self, z_dim: int, b: int, channels: int, num_classes: int = 0, embed_dim: int = 10) -> None:
        super().__init__()
        self.b = b
        self.label = LabelInput(num_classes, embed_dim) if num_classes else None
        z_in = z_dim + (embed_dim if num_classes else 0)
        self.project = nn.Sequential(
            nn.Linear(z_in, 4 * b * 7 * 7, bias=False), nn.BatchNorm1d(4 * b * 7 * 7), nn.ReLU()
        )
        self.net = nn.Sequential(
            nn.ConvTranspose2d(4 * b, 2 * b, 4, 2, 1, bias=False),  # (B, 4b, 7, 7) -> (B, 2b, 14, 14)
            nn.BatchNorm2d(2 * b),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * b, b, 4, 2, 1, bias=False),  # -> (B, b, 28, 28)
            nn.BatchNorm2d(b),
            nn.ReLU(),
            nn.Conv2d(b, channels, 3, 1, 1),  # -> (B, C, 28, 28)
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        # (B, z_dim) [+ labels (B,)] -> (B, 4b, 7, 7) -> (B, C, 28, 28)
        if self.label is not None:
            z = self.label(z, labels)
        return self.net(self.project(z).view(z.shape[0], 4 * self.b, 7, 7))


def norm2d(kind: str, channels: int) -> nn.Module:
    """BatchNorm, LayerNorm over (C, H, W) (GroupNorm with one group), or nothing."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def dc_features(b: int, channels: int, norm: str = "batch") -> tuple[nn.Module, int]:
    """The DCGAN critic body: strided convs 28 -> 14 -> 7 -> 4, LeakyReLU 0.2, no norm on the first."""
    net = nn.Sequential(
        nn.Conv2d(channels, b, 4, 2, 1),  # (B, C, 28, 28) -> (B, b, 14, 14), no norm here
        nn.LeakyReLU(0.2),
        nn.Conv2d(b, 2 * b, 4, 2, 1, bias=norm != "batch"),  # -> (B, 2b, 7, 7)
        norm2d(norm, 2 * b),
        nn.LeakyReLU(0.2),
        nn.Conv2d(2 * b, 4 * b, 3, 2, 1, bias=norm != "batch"),  # -> (B, 4b, 4, 4)
        norm2d(norm, 4 * b),
        nn.LeakyReLU(0.2),
        nn.Flatten(),  # -> (B, 16 * 4b)
    )
    return net, 4 * b * 4 * 4


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


class _DCGAN28(AdversarialFamily):
    def __init__(self, cfg, info) -> None:
        if (info.height, info.width) != (28, 28):
            raise ConfigError(
                f"{self.registry_name} is built for 28x28 images, the data set has {info.height}x{info.width}"
            )
        super().__init__(cfg, info)

    def make_generator(self, num_classes: int) -> nn.Module:
        return DCGenerator(self.cfg.z_dim, self.cfg.base_channels, self.info.channels, num_classes, self.cfg.embed_dim)

    def make_features(self, in_channels: int) -> tuple[nn.Module, int]:
        return dc_features(self.cfg.base_channels, in_channels, self.cfg.d_norm)

    def init_weights(self, g: nn.Module, d: nn.Module) -> None:
        dcgan_init_(g)
        dcgan_init_(d)


SMALL = {"base_channels": 16}
TINY = {"z_dim": 4, "base_channels": 2, "embed_dim": 3}
TINY_CRITIC = {**TINY, "n_critic": 2}  # tests feed 8 images a step; 5 critic batches would hold 1-2 each


@register(
    "dcgan",
    config=DCGANConfig,
    description="DCGAN (Radford et al. 2016) at 28x28; width knob base_channels (64)",
    presets={"small": SMALL},
    tiny=TINY,
)
class DCGAN(_DCGAN28):
    pass


@register(
    "cdcgan",
    config=CDCGANConfig,
    description="Conditional DCGAN at 28x28: label embedding into G, projection in D",
    presets={"small": SMALL},
    tiny=TINY,
)
class CDCGAN(_DCGAN28):
    pass


@register(
    "wgan",
    config=WGANConfig,
    description="WGAN (Arjovsky et al. 2017): DCGAN nets, weight clipping 0.01, RMSprop 5e-5, n_critic 5",
    presets={"small": SMALL},
    tiny=TINY_CRITIC,
)
class WGAN(_DCGAN28):
    pass


@register(
    "wgan-gp",
    config=WGANGPConfig,
    description="WGAN-GP (Gulrajani et al. 2017): gradient penalty 10, Adam 1e-4 (0, 0.9), n_critic 5, no BN in D",
    presets={"small": SMALL},
    tiny=TINY_CRITIC,
)
class WGANGP(_DCGAN28):
    pass
