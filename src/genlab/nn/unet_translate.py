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


def separable(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """Depthwise-separable 3x3 block (Howard et al. 2017, MobileNet): depthwise 3x3 (stride ``stride``),
    BatchNorm, ReLU, pointwise 1x1, BatchNorm, ReLU. Shapes: (B, c_in, H, W) -> (B, c_out, H/s, W/s)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False),
        nn.BatchNorm2d(c_in),
        nn.ReLU(),
        nn.Conv2d(c_in, c_out, 1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )


class MobileTranslationUNet(nn.Module):
    """A U-Net for a real-time filter (pix2pix ``arch=mobile``): nothing runs at full resolution.

    The input is folded into 2x2 blocks (pixel unshuffle: (B, C, H, W) -> (B, 4C, H/2, W/2)),
    a 3x3 convolution makes ``b`` channels, ``depth - 1`` depthwise-separable stride-2 blocks
    (Howard et al. 2017) go down with widths 2b, 4b, 4b, ... (capped at 4b); per level back up,
    nearest-neighbour upsampling, the skip concatenated and a separable block; the folded input
    is joined again, a 3x3 convolution makes 4C channels and a pixel shuffle (Shi et al. 2016)
    unfolds them to (B, C, H, W), tanh. ReLU everywhere (ONNX Runtime's INT8 kernels fuse it),
    BatchNorm (folded into the convolutions at export), no dropout: the filter is deterministic.
    Shapes: (B, in_channels, H, W) -> (B, out_channels, H, W) in (-1, 1); H, W padded to 2^depth.
    """

    def __init__(self, in_channels: int, out_channels: int, base: int, depth: int) -> None:
        super().__init__()
        self.depth = depth
        widths = [base * min(2**i, 4) for i in range(depth)]
        stem = nn.Sequential(nn.Conv2d(4 * in_channels, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]))
        self.down = nn.ModuleList(
            [nn.Sequential(*stem, nn.ReLU())] + [separable(widths[i - 1], widths[i], 2) for i in range(1, depth)]
        )
        self.up = nn.ModuleList(separable(widths[i + 1] + widths[i], widths[i]) for i in range(depth - 1))
        self.out = nn.Conv2d(widths[0] + 4 * in_channels, 4 * out_channels, 3, 1, 1)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2**self.depth
        ph, pw = -h % m, -w % m
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode="replicate") if ph or pw else x
        folded = F.pixel_unshuffle(x, 2)  # (B, C, H, W) -> (B, 4C, H/2, W/2)
        skips, u = [], folded
        for layer in self.down:
            u = layer(u)  # level 0 keeps H/2; later levels halve: (B, c, s, s) -> (B, w_i, s/2, s/2)
            skips.append(u)
        u = skips.pop()
        for i in reversed(range(self.depth - 1)):
            u = F.interpolate(u, scale_factor=2.0, mode="nearest")  # (B, w_{i+1}, s, s) -> (B, w_{i+1}, 2s, 2s)
            u = self.up[i](torch.cat([u, skips.pop()], dim=1))  # -> (B, w_i, 2s, 2s)
        y = F.pixel_shuffle(self.out(torch.cat([u, folded], dim=1)), 2)  # (B, 4C', H/2, W/2) -> (B, C', H, W)
        return torch.tanh(y)[..., ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + w]
