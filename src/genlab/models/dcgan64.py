"""``dcgan64``: the 64x64 DCGAN of Radford et al. 2016 (their LSUN architecture).

G: z -> 4x4x8b (transposed conv 4x4 from 1x1) -> 8x8x4b -> 16x16x2b -> 32x32xb -> 64x64xC,
BatchNorm + ReLU, tanh output. D: strided 4x4 convs 64 -> 32 -> 16 -> 8 -> 4 with
b, 2b, 4b, 8b channels, LeakyReLU 0.2, BatchNorm except on the first; the paper's final
4x4 conv to one logit is the critic's linear head over the 4x4x8b features.
``base_channels`` b is 64 in the paper (the 128/1024 widths of its figure 1 are b = 128).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genlab.models.dcgan import DCGANConfig, dc_features, dcgan_init_
from genlab.models.gan import AdversarialFamily
from genlab.models.gan_parts import LabelInput
from genlab.models.registry import register
from genlab.models.shapes import ShapeSupport


@dataclass(frozen=True)
class DCGAN64Config(DCGANConfig):
    pass


class DCGenerator64(nn.Module):
    def __init__(self, z_dim: int, b: int, channels: int, num_classes: int = 0, embed_dim: int = 10) -> None:
        super().__init__()
        self.label = LabelInput(num_classes, embed_dim) if num_classes else None
        z_in = z_dim + (embed_dim if num_classes else 0)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_in, 8 * b, 4, 1, 0, bias=False),
            nn.BatchNorm2d(8 * b),
            nn.ReLU(),
        ]  # 1 -> 4
        for c_in, c_out in ((8 * b, 4 * b), (4 * b, 2 * b), (2 * b, b)):  # 4 -> 8 -> 16 -> 32
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
        layers += [nn.ConvTranspose2d(b, channels, 4, 2, 1), nn.Tanh()]  # 32 -> 64
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        # (B, z_dim) [+ labels (B,)] -> (B, C, 64, 64)
        if self.label is not None:
            z = self.label(z, labels)
        return self.net(z[:, :, None, None])


def dc64_features(b: int, channels: int, norm: str = "batch") -> tuple[nn.Module, int]:
    """Four strided convs: (B, C, 64, 64) -> (B, b, 32, 32) -> ... -> (B, 8b, 4, 4) -> flat (dcgan's body at 64)."""
    return dc_features(b, channels, norm, 64)


@register(
    "dcgan64",
    config=DCGAN64Config,
    description="DCGAN (Radford et al. 2016) at 64x64 RGB, for the procedural shapes64 data (--dataset shapes64)",
    presets={"small": {"base_channels": 16}},
    tiny={"z_dim": 4, "base_channels": 2, "embed_dim": 3},
    dataset="shapes64",
    example_shape=(3, 64, 64),
    # The textbook network at its one size; dcgan builds at 28, 32, 64 and 128.
    shapes=ShapeSupport((64,), (3,), task="the textbook 64x64 DCGAN, --dataset shapes64; dcgan takes other sizes"),
)
class DCGAN64(AdversarialFamily):
    def make_generator(self, num_classes: int) -> nn.Module:
        return DCGenerator64(
            self.cfg.z_dim, self.cfg.base_channels, self.info.channels, num_classes, self.cfg.embed_dim
        )

    def make_features(self, in_channels: int) -> tuple[nn.Module, int]:
        return dc64_features(self.cfg.base_channels, in_channels, self.cfg.d_norm)

    def init_weights(self, g: nn.Module, d: nn.Module) -> None:
        dcgan_init_(g)
        dcgan_init_(d)
