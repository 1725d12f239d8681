"""The CycleGAN ResNet generator (Zhu et al. 2017, appendix 7.2, after Johnson et al. 2016).

c7s1-b, d2b, d4b, R4b x ``n_blocks``, u2b, ub, c7s1-C: a 7x7 convolution, two 3x3 stride-2
down-samplings, residual blocks of two 3x3 convolutions, two 3x3 stride-2 transposed
convolutions, a 7x7 convolution to the output channels and tanh; InstanceNorm and ReLU
after every convolution but the last, reflection padding. 28 x 28 runs at 28 -> 14 -> 7.
"""

from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """x + conv(relu(norm(conv(x)))) with a final norm. Shapes: (B, C, H, W) -> same."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
            nn.ReLU(),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """Shapes: (B, channels, H, W), H and W divisible by 4 -> (B, channels, H, W) in (-1, 1)."""

    def __init__(self, channels: int, base: int, n_blocks: int) -> None:
        super().__init__()
        b = base
        self.net = nn.Sequential(
            nn.ReflectionPad2d(3),
            nn.Conv2d(channels, b, 7),  # (B, C, H, W) -> (B, b, H, W)
            nn.InstanceNorm2d(b),
            nn.ReLU(),
            nn.Conv2d(b, 2 * b, 3, 2, 1),  # -> (B, 2b, H/2, W/2)
            nn.InstanceNorm2d(2 * b),
            nn.ReLU(),
            nn.Conv2d(2 * b, 4 * b, 3, 2, 1),  # -> (B, 4b, H/4, W/4)
            nn.InstanceNorm2d(4 * b),
            nn.ReLU(),
            *[ResidualBlock(4 * b) for _ in range(n_blocks)],
            nn.ConvTranspose2d(4 * b, 2 * b, 3, 2, 1, output_padding=1),  # -> (B, 2b, H/2, W/2)
            nn.InstanceNorm2d(2 * b),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * b, b, 3, 2, 1, output_padding=1),  # -> (B, b, H, W)
            nn.InstanceNorm2d(b),
            nn.ReLU(),
            nn.ReflectionPad2d(3),
            nn.Conv2d(b, channels, 7),  # -> (B, C, H, W)
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
