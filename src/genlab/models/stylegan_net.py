"""The networks of ``stylegan-lite``: the style-based generator and a residual discriminator.

Generator (Karras et al. 2019 / 2020): a mapping network z -> w, a learned constant
4x4 input, then per resolution 8, 16, ..., R an upsampling style layer and a style layer,
each conv -> per-pixel noise -> bias -> leaky ReLU, styled by modulation/demodulation
(StyleGAN2) or AdaIN (StyleGAN); RGB is summed over resolutions ("skip" outputs, StyleGAN2
fig. 7). Layer l reads style l of ws (B, L, w_dim), L = 2 log2(R) - 2; a toRGB shares its
index with the next block's first conv, as in StyleGAN2. Widths: min(max_channels,
channel_base / resolution).

Discriminator (StyleGAN2's residual D): fromRGB 1x1, residual blocks that halve H and W
down to 4x4, a 3x3 conv and a linear layer; :class:`genlab.models.gan_parts.Critic` adds
minibatch standard deviation and the linear head.

A resolution that is not a power of two starts from the base side of the shared schedule
(:mod:`genlab.nn.sizes`) instead of 4: R = 28 has a 7x7 constant, blocks at 14 and 28, and a
discriminator that ends at 7x7; L = 2 (halvings of R) + 2, which is 2 log2(R) - 2 for a power of two.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genlab.nn.noise import randn
from genlab.nn.sizes import base_side, halvings
from genlab.nn.style import (
    AdaIN,
    EqualConv2d,
    EqualLinear,
    MappingNetwork,
    ModulatedConv2d,
    NoiseInjection,
    leaky_gain,
    mix_styles,
    truncate,
)

NoiseMode = Literal["random", "none"]


def channels_at(resolution: int, channel_base: int, max_channels: int) -> int:
    """Feature maps at a resolution: min(max_channels, channel_base / resolution), at least 1."""
    return max(1, min(max_channels, channel_base // resolution))


def num_styles(resolution: int) -> int:
    """How many per-layer styles a generator of output size ``resolution`` reads: 2 log2(R) - 2
    for a power of two; 2 (doublings from the base side) + 2 in general (28: 6)."""
    return 2 * halvings(resolution) + 2


def coarse_cutoff(resolution: int = 8) -> int:
    """Style index where the layers above ``resolution`` start: styles [0, cutoff) drive the
    convolutions at 4x4 .. resolution x resolution (StyleGAN's "coarse" styles for 8)."""
    return num_styles(resolution) - 1


class StyleLayer(nn.Module):
    """conv (styled) -> noise -> bias -> leaky ReLU; AdaIN styles after the activation.

    Shapes: x (B, I, H, W), w (B, w_dim), noise (B, 1, H', W') or None -> (B, O, H', W').
    """

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, *, style: str, up: bool = False) -> None:
        super().__init__()
        self.style, self.up = style, up
        if style == "modulation":
            self.conv: nn.Module = ModulatedConv2d(in_ch, out_ch, 3, w_dim, up=up)
        else:
            self.conv = EqualConv2d(in_ch, out_ch, 3, bias=False)
            self.adain = AdaIN(out_ch, w_dim)
        self.noise = NoiseInjection(out_ch)
        self.bias = nn.Parameter(torch.zeros(out_ch))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        if self.style == "modulation":
            x = self.conv(x, w)
        else:
            if self.up:
                x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = self.conv(x)
        x = self.noise(x, noise)
        x = leaky_gain(x + self.bias[None, :, None, None])
        return self.adain(x, w) if self.style == "adain" else x


class ToRGB(nn.Module):
    """Modulated 1x1 conv without demodulation, plus bias. Shapes: (B, C, H, W), (B, w_dim) -> (B, 3, H, W)."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(out_ch))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None]


class StyleGenerator(nn.Module):
    """Mapping network, tracked mean w (buffer ``w_avg``) and synthesis network.

    Shapes: z (B, z_dim) -> w (B, w_dim) -> ws (B, L, w_dim) -> images (B, C, R, R), not clamped.
    """

    def __init__(
        self,
        *,
        z_dim: int,
        w_dim: int,
        resolution: int,
        channels: int,
        mapping_layers: int,
        mapping_width: int,
        mapping_lr_mul: float,
        channel_base: int,
        max_channels: int,
        style: str,
    ) -> None:
        super().__init__()
        self.z_dim, self.resolution = z_dim, resolution
        self.mapping = MappingNetwork(z_dim, w_dim, layers=mapping_layers, width=mapping_width, lr_mul=mapping_lr_mul)
        self.register_buffer("w_avg", torch.zeros(w_dim))  # EMA of w over training: the truncation centre
        self.num_ws = num_styles(resolution)
        ch = lambda r: channels_at(r, channel_base, max_channels)  # noqa: E731
        base = base_side(resolution)[0]  # 4 for a power of two, 7 for 28
        self.const = nn.Parameter(torch.randn(ch(base), base, base))
        self.layers = nn.ModuleList([StyleLayer(ch(base), ch(base), w_dim, style=style)])
        self.to_rgb = nn.ModuleList([ToRGB(ch(base), channels, w_dim)])
        r = 2 * base
        while r <= resolution:
            self.layers.append(StyleLayer(ch(r // 2), ch(r), w_dim, style=style, up=True))
            self.layers.append(StyleLayer(ch(r), ch(r), w_dim, style=style))
            self.to_rgb.append(ToRGB(ch(r), channels, w_dim))
            r *= 2

    def styles(self, z: torch.Tensor, *, psi: float = 1.0) -> torch.Tensor:
        """(B, z_dim) -> the same w at every layer, truncated towards w_avg: (B, L, w_dim)."""
        w = truncate(self.mapping(z), self.w_avg, psi) if psi != 1.0 else self.mapping(z)
        return w[:, None, :].expand(-1, self.num_ws, -1)

    def mixed_styles(self, z_a: torch.Tensor, z_b: torch.Tensor, cutoff: int) -> torch.Tensor:
        """Styles [0, cutoff) from z_a, the rest from z_b. Shapes: (B, z_dim) x 2 -> (B, L, w_dim)."""
        return mix_styles(self.styles(z_a), self.styles(z_b), cutoff)

    @torch.no_grad()
    def track_w_avg(self, w: torch.Tensor, beta: float) -> None:
        """w_avg <- beta w_avg + (1 - beta) mean(w) over the batch (StyleGAN2's w_avg_beta)."""
        self.w_avg.lerp_(w.detach().mean(dim=0).to(self.w_avg.dtype), 1.0 - beta)

    def synthesis(
        self, ws: torch.Tensor, *, noise: NoiseMode = "random", generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """ws (B, L, w_dim) -> images (B, C, R, R). ``noise``: fresh per-pixel noise from
        ``generator`` at every layer, or none at all."""
        if ws.shape[1] != self.num_ws:
            raise ValueError(f"expected {self.num_ws} styles per sample, got {ws.shape[1]}")
        if noise == "random" and generator is None:
            raise ValueError("random noise needs a generator")
        b = ws.shape[0]
        x = self.const[None].expand(b, -1, -1, -1)  # (B, C_base, base, base): 4x4 for a power of two
        rgb = None
        for i, layer in enumerate(self.layers):
            size = x.shape[-1] * (2 if layer.up else 1)
            n = randn((b, 1, size, size), generator, ws.device) if noise == "random" else None
            x = layer(x, ws[:, i], n)  # layer i reads style i
            if i % 2 == 0:  # the 4x4 layer and each block's second layer end a resolution
                skip = self.to_rgb[i // 2](x, ws[:, i + 1])  # a toRGB reads the next layer's style
                rgb = (
                    skip
                    if rgb is None
                    else F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False) + skip
                )
        return rgb


def residual_features(channels: int, resolution: int, channel_base: int, max_channels: int) -> tuple[nn.Module, int]:
    """The critic body: (B, C, R, R) -> features (B, ch(base)). See :class:`ResidualBody`."""
    body = ResidualBody(channels, resolution, channel_base, max_channels)
    return body, body.feature_dim


class ResidualBody(nn.Module):
    """fromRGB 1x1, residual blocks R -> R/2 -> ... -> base (4; 7 for 28), then conv 3x3 and linear there.

    Each block: two 3x3 convs (leaky ReLU, average-pool between them) plus a 1x1 skip on the
    pooled input, summed and divided by sqrt(2) (StyleGAN2's residual D, fig. 7c).
    Shapes: (B, C, R, R) -> (B, ch(base)).
    """

    def __init__(self, channels: int, resolution: int, channel_base: int, max_channels: int) -> None:
        super().__init__()
        ch = lambda r: channels_at(r, channel_base, max_channels)  # noqa: E731
        self.from_rgb = EqualConv2d(channels, ch(resolution), 1, activation=True)
        blocks = []
        r = resolution
        for _ in range(halvings(resolution)):  # R -> R/2 -> ... -> the base side
            blocks.append(
                nn.ModuleDict(
                    {
                        "conv1": EqualConv2d(ch(r), ch(r), 3, activation=True),
                        "conv2": EqualConv2d(ch(r), ch(r // 2), 3, activation=True),
                        "skip": EqualConv2d(ch(r), ch(r // 2), 1, bias=False),
                    }
                )
            )
            r //= 2
        self.blocks = nn.ModuleList(blocks)
        self.out_conv = EqualConv2d(ch(r), ch(r), 3, activation=True)
        self.fc = EqualLinear(ch(r) * r * r, ch(r), activation=True)
        self.feature_dim = ch(r)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.from_rgb(x)  # (B, C, R, R) -> (B, ch(R), R, R)
        for block in self.blocks:  # (B, ch(r), r, r) -> (B, ch(r/2), r/2, r/2)
            skip = block["skip"](F.avg_pool2d(x, 2))
            main = block["conv2"](F.avg_pool2d(block["conv1"](x), 2))
            x = (main + skip) / math.sqrt(2.0)
        return self.fc(self.out_conv(x).flatten(1))  # (B, ch(base) * base^2) -> (B, ch(base))
