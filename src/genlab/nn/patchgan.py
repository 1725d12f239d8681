"""The PatchGAN discriminator (Isola et al. 2017, section 3.2.2 and appendix 6.1.2) and its receptive field.

A fully convolutional classifier whose every output logit sees one N x N patch of the
input: ``n_down`` 4x4 stride-2 convolutions (widths b, 2b, 4b, 8b, 8b, ...), one 4x4
stride-1 convolution, and a 4x4 stride-1 convolution to one channel; LeakyReLU 0.2, no
normalisation on the first layer. ``n_down = 3`` is the paper's 70 x 70 PatchGAN for
256 x 256 images; :func:`patch_layers_for` scales it to other image sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

PAPER_PATCH, PAPER_SIZE = 70, 256  # the 70 x 70 PatchGAN on 256 x 256 images


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """Side in pixels of the input patch one output unit of a conv stack sees.

    ``layers`` lists (kernel, stride) from input to output; walking back from one output
    unit, each layer maps a span r to r * stride + (kernel - stride).
    """
    r = 1
    for kernel, stride in reversed(layers):
        r = r * stride + (kernel - stride)
    return r


def patchgan_layers(n_down: int) -> list[tuple[int, int]]:
    """(kernel, stride) of the PatchGAN with ``n_down`` stride-2 layers."""
    return [(4, 2)] * n_down + [(4, 1), (4, 1)]


def patchgan_receptive_field(n_down: int) -> int:
    """Receptive field of :func:`patchgan_layers`: 9 * 2^n_down - 2 (7, 16, 34, 70, 142, ...)."""
    return receptive_field(patchgan_layers(n_down))


def patch_layers_for(size: int) -> int:
    """The ``n_down`` whose patch covers the image fraction closest to the paper's 70 / 256.

    28 px -> 0 (a 7 x 7 patch, 0.25 of the side); 64 px -> 1 (16 x 16); 256 px -> 3 (70 x 70).
    """
    candidates = [n for n in range(8) if patchgan_receptive_field(n) <= size] or [0]
    return min(candidates, key=lambda n: abs(patchgan_receptive_field(n) / size - PAPER_PATCH / PAPER_SIZE))


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels)
    return nn.Identity()


class PatchDiscriminator(nn.Module):
    """Patch logits of an image (or of input and output stacked on channels, for a conditional D).

    Shapes: (B, in_channels, H, W) -> (B, 1, H', W'), one logit per patch.
    """

    def __init__(
        self, in_channels: int, base: int, n_down: int, norm: Literal["batch", "instance", "none"] = "batch"
    ) -> None:
        super().__init__()
        widths = [base * min(2**i, 8) for i in range(n_down + 1)]
        layers: list[nn.Module] = []
        c = in_channels
        for i, width in enumerate(widths):
            stride = 2 if i < n_down else 1  # (B, c, H, W) -> (B, width, H/2, W/2), the last one keeps the size (-1)
            layers += [
                nn.Conv2d(c, width, 4, stride, 1, bias=i == 0 or norm == "none"),
                _norm("none" if i == 0 else norm, width),
                nn.LeakyReLU(0.2),
            ]
            c = width
        layers.append(nn.Conv2d(c, 1, 4, 1, 1))  # -> (B, 1, H' , W')
        self.net = nn.Sequential(*layers)
        self.receptive_field = patchgan_receptive_field(n_down)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def init_normal_(module: nn.Module, std: float = 0.02) -> None:
    """Isola et al. 2017 / Zhu et al. 2017: conv weights N(0, 0.02), norm scales N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
