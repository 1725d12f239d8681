"""The pix2pix U-Net generator (Isola et al. 2017, appendix 6.1.1), for any image size.

Encoder: ``depth`` 4x4 stride-2 convolutions, widths b, 2b, 4b, 8b, 8b, ... (b = ``base``),
BatchNorm except on the first and the innermost layer, LeakyReLU 0.2. Decoder: 4x4
stride-2 transposed convolutions back up, BatchNorm, ReLU, each joined by a skip
connection (channel concatenation) to the encoder layer of its size; dropout on the
innermost three decoder layers; a last transposed convolution to the output channels and
tanh. The input is padded (replicate) to a multiple of 2^depth and the output cropped back,
so 28 x 28 runs as 32 -> 16 -> 8 -> 4 -> 2 -> 1 at depth 5 (the paper: 256 -> 1 at depth 8).

Dropout is the generator's only noise, on at training *and* test time as in the paper;
its masks come from an explicit ``torch.Generator`` (``None`` turns dropout off).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genlab.nn.noise import rand

DROPOUT_LAYERS = 3  # innermost decoder layers with dropout (CD512 x 3 in the paper)


def generator_dropout(x: torch.Tensor, p: float, generator: torch.Generator | None) -> torch.Tensor:
    """Inverted dropout with masks drawn from ``generator``; identity when p == 0 or generator is None."""
    if p == 0.0 or generator is None:
        return x
    keep = rand(x.shape, generator, x.device) >= p
    return x * keep / (1.0 - p)


class TranslationUNet(nn.Module):
    """Image-to-image U-Net. Shapes: (B, in_channels, H, W) -> (B, out_channels, H, W) in (-1, 1)."""

    def __init__(self, in_channels: int, out_channels: int, base: int, depth: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.depth, self.dropout = depth, dropout
        widths = [base * min(2**i, 8) for i in range(depth)]
        self.down = nn.ModuleList()
        c = in_channels
        for i, w in enumerate(widths):
            norm = 0 < i < depth - 1
            self.down.append(
                nn.Sequential(
                    nn.Conv2d(c, w, 4, 2, 1, bias=not norm),
                    nn.BatchNorm2d(w) if norm else nn.Identity(),
                    nn.LeakyReLU(0.2),
                )
            )
            c = w
        self.up = nn.ModuleList()  # up[i] maps level i+1 to level i, for i = depth-2 .. 0
        for i in range(depth - 1):
            c_in = widths[i + 1] if i == depth - 2 else 2 * widths[i + 1]  # the innermost has no skip to join
            self.up.append(
                nn.Sequential(nn.ConvTranspose2d(c_in, widths[i], 4, 2, 1, bias=False), nn.BatchNorm2d(widths[i]))
            )
        self.out = nn.ConvTranspose2d(2 * widths[0] if depth > 1 else widths[0], out_channels, 4, 2, 1)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2**self.depth
        ph, pw = -h % m, -w % m
        # (B, C, H, W) -> (B, C, H + ph, W + pw), H + ph and W + pw multiples of 2^depth
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode="replicate") if ph or pw else x
        skips = []
        for layer in self.down:
            x = layer(x)  # (B, c, s, s) -> (B, w_i, s/2, s/2)
            skips.append(x)
        u = skips[-1]
        for i in reversed(range(self.depth - 1)):
            if i != self.depth - 2:
                u = torch.cat([u, skips[i + 1]], dim=1)  # skip connection: (B, 2 w_{i+1}, s, s)
            u = self.up[i](u)  # -> (B, w_i, 2s, 2s)
            if i >= self.depth - 1 - DROPOUT_LAYERS:
                u = generator_dropout(u, self.dropout, generator)
            u = F.relu(u)
        if self.depth > 1:
            u = torch.cat([u, skips[0]], dim=1)
        y = torch.tanh(self.out(u))  # (B, out_channels, H + ph, W + pw)
        return y[..., ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + w]
