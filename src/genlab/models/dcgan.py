"""``dcgan``: the DCGAN of Radford et al. 2016 at 28x28.

G: z (100) -> 7x7x256 -> 14x14x128 -> 28x28x64 -> 28x28xC tanh (BatchNorm + ReLU, no BN on
the output). D: strided convs 28 -> 14 -> 7 -> 4, LeakyReLU 0.2, BatchNorm except on the
first layer. Weights N(0, 0.02); Adam lr 2e-4, beta1 0.5. ``base_channels`` (64 in the
paper) scales every width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from genlab.errors import ConfigError
from genlab.models.gan import AdversarialFamily
from genlab.models.registry import register


@dataclass(frozen=True)
class DCGANConfig:
    z_dim: int = 100
    base_channels: int = 64  # G: 4b -> 2b -> b channels; D: b -> 2b -> 4b
    loss: Literal["non-saturating", "minimax"] = "non-saturating"
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999

    def check(self) -> None:
        if self.z_dim < 1 or self.base_channels < 1:
            raise ConfigError(f"z_dim and base_channels must be >= 1, got {self.z_dim} and {self.base_channels}")
        if self.lr <= 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")


class DCGenerator(nn.Module):
    def __init__(self, z_dim: int, b: int, channels: int) -> None:
        super().__init__()
        self.b = b
        self.project = nn.Sequential(nn.Linear(z_dim, 4 * b * 7 * 7, bias=False), nn.BatchNorm1d(4 * b * 7 * 7), nn.ReLU())
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

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # (B, z_dim) -> (B, 4b, 7, 7) -> (B, C, 28, 28)
        return self.net(self.project(z).view(z.shape[0], 4 * self.b, 7, 7))


class DCDiscriminator(nn.Module):
    def __init__(self, b: int, channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, b, 4, 2, 1),  # (B, C, 28, 28) -> (B, b, 14, 14), no BN here
            nn.LeakyReLU(0.2),
            nn.Conv2d(b, 2 * b, 4, 2, 1, bias=False),  # -> (B, 2b, 7, 7)
            nn.BatchNorm2d(2 * b),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * b, 4 * b, 3, 2, 1, bias=False),  # -> (B, 4b, 4, 4)
            nn.BatchNorm2d(4 * b),
            nn.LeakyReLU(0.2),
        )
        self.head = nn.Linear(4 * b * 4 * 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, C, 28, 28) -> (B,) logits
        return self.head(self.net(x).flatten(1)).squeeze(1)


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


@register(
    "dcgan",
    config=DCGANConfig,
    description="DCGAN (Radford et al. 2016) at 28x28; width knob base_channels (64)",
    presets={"small": {"base_channels": 16}},
    tiny={"z_dim": 4, "base_channels": 2},
)
class DCGAN(AdversarialFamily):
    def __init__(self, cfg, info) -> None:
        if (info.height, info.width) != (28, 28):
            raise ConfigError(f"dcgan is built for 28x28 images, the data set has {info.height}x{info.width}")
        super().__init__(cfg, info)

    def make_generator(self) -> nn.Module:
        net = DCGenerator(self.cfg.z_dim, self.cfg.base_channels, self.info.channels)
        dcgan_init_(net)
        return net

    def make_discriminator(self) -> nn.Module:
        net = DCDiscriminator(self.cfg.base_channels, self.info.channels)
        dcgan_init_(net)
        return net
