"""Style-based generator blocks (Karras et al. 2019, StyleGAN; Karras et al. 2020, StyleGAN2).

- :class:`MappingNetwork` z -> w: pixel norm, then an MLP with leaky ReLU whose learning
  rate is scaled down (``lr_mul``, 0.01 in the paper) through the equalised-learning-rate trick;
- :func:`modulate_weight` / :class:`ModulatedConv2d`: weight modulation and demodulation
  (StyleGAN2, eqs. 1-3), the style scales the conv's input channels, demodulation brings
  every output channel back to unit variance;
- :func:`adain` / :class:`AdaIN`: adaptive instance normalisation (StyleGAN, eq. 1), the
  original per-layer style operation;
- :class:`NoiseInjection`: per-pixel noise with a learned scale per channel (StyleGAN, sec. 3.2);
- :func:`truncate` and :func:`mix_styles`: the truncation trick and style mixing on (B, L, D) styles.

Equalised learning rate (Karras et al. 2018, ProGAN sec. 4.1): weights are stored N(0, 1/lr_mul)
and multiplied by lr_mul / sqrt(fan_in) at run time, so Adam's steps have the same relative
size in every layer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LEAKY_SLOPE = 0.2
ACTIVATION_GAIN = math.sqrt(2.0)  # keeps unit variance through leaky ReLU (He et al. 2015)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale each vector to unit root-mean-square over dim 1. Shapes: (B, D) -> (B, D)."""
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


def leaky_gain(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU 0.2 times sqrt(2), the activation of every StyleGAN layer."""
    return F.leaky_relu(x, LEAKY_SLOPE) * ACTIVATION_GAIN


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate. Shapes: (B, in) -> (B, out)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias_init: float = 0.0,
        lr_mul: float = 1.0,
        activation: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul))
        self.scale, self.lr_mul, self.activation = lr_mul / math.sqrt(in_features), lr_mul, activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)
        return leaky_gain(x) if self.activation else x


class EqualConv2d(nn.Module):
    """Conv layer ('same' padding) with equalised learning rate. Shapes: (B, I, H, W) -> (B, O, H, W)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, *, bias: bool = True, activation: bool = False
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale, self.activation = 1.0 / math.sqrt(in_channels * kernel_size**2), activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight * self.scale, self.bias, padding=self.weight.shape[-1] // 2)
        return leaky_gain(x) if self.activation else x


class MappingNetwork(nn.Module):
    """z -> w: pixel norm, then ``layers`` equalised linear layers with leaky ReLU.

    ``width`` is the hidden width (512 in StyleGAN, like w); ``lr_mul`` scales this network's
    learning rate (0.01 in StyleGAN). Shapes: (B, z_dim) -> (B, w_dim).
    """

    def __init__(self, z_dim: int, w_dim: int, *, layers: int = 8, width: int = 512, lr_mul: float = 0.01) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"the mapping network needs at least one layer, got {layers}")
        widths = [z_dim] + [width] * (layers - 1) + [w_dim]
        self.net = nn.Sequential(
            *(EqualLinear(a, b, lr_mul=lr_mul, activation=True) for a, b in zip(widths[:-1], widths[1:]))
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(pixel_norm(z))


def modulate_weight(
    weight: torch.Tensor, styles: torch.Tensor, *, demodulate: bool = True, eps: float = 1e-8
) -> torch.Tensor:
    """Per-sample conv weights: w'_ijk = s_i w_ijk, then w''_ijk = w'_ijk / sqrt(sum_ik w'_ijk^2 + eps).

    Karras et al. 2020, eqs. 1 and 3 (i input channel, j output channel, k kernel position).
    With demodulation, unit-variance i.i.d. inputs give unit-variance outputs (eq. 2).
    Shapes: weight (O, I, k, k), styles (B, I) -> (B, O, I, k, k).
    """
    w = weight[None] * styles[:, None, :, None, None]  # (B, O, I, k, k)
    if demodulate:
        w = w * torch.rsqrt(w.square().sum(dim=(2, 3, 4), keepdim=True) + eps)
    return w


class ModulatedConv2d(nn.Module):
    """Conv whose weights each sample's style modulates (and, by default, demodulates).

    The style s = A(w) is an affine map of w with bias 1 (an identity style at init). The
    per-sample weights run as one grouped convolution. ``up`` doubles H and W first
    (bilinear), instead of StyleGAN2's transposed conv and blur: simpler, and no checkerboard.
    Shapes: x (B, I, H, W), w (B, w_dim) -> (B, O, H', W'), H' = 2H when ``up``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        w_dim: int,
        *,
        demodulate: bool = True,
        up: bool = False,
    ) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.demodulate, self.up = demodulate, up

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        b, c, h, wd = x.shape
        weight = modulate_weight(
            self.weight * self.scale, self.affine(w), demodulate=self.demodulate
        )  # (B, O, I, k, k)
        o, k = weight.shape[1], weight.shape[-1]
        # (B, I, H, W) -> (1, B*I, H, W); weights (B*O, I, k, k); B groups -> (1, B*O, H, W)
        out = F.conv2d(x.reshape(1, b * c, h, wd), weight.reshape(b * o, c, k, k), padding=k // 2, groups=b)
        return out.view(b, o, h, wd)


def adain(x: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """AdaIN(x, y) = y_s (x - mu(x)) / sigma(x) + y_b per sample and channel (Huang & Belongie 2017).

    Each output channel has mean y_b and standard deviation |y_s| over H x W (up to eps).
    Shapes: x (B, C, H, W), scale and bias (B, C) -> (B, C, H, W).
    """
    mu = x.mean(dim=(2, 3), keepdim=True)
    sigma = (x.var(dim=(2, 3), keepdim=True, unbiased=False) + eps).sqrt()
    return scale[:, :, None, None] * (x - mu) / sigma + bias[:, :, None, None]


class AdaIN(nn.Module):
    """The StyleGAN layer's style: y = (y_s, y_b) = A(w), scale bias 1, then :func:`adain`.

    Shapes: x (B, C, H, W), w (B, w_dim) -> (B, C, H, W).
    """

    def __init__(self, channels: int, w_dim: int) -> None:
        super().__init__()
        self.scale = EqualLinear(w_dim, channels, bias_init=1.0)
        self.bias = EqualLinear(w_dim, channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return adain(x, self.scale(w), self.bias(w))


class NoiseInjection(nn.Module):
    """x + b_c * n: one noise image n per sample, scaled per channel by a learned b (init 0).

    Shapes: x (B, C, H, W), noise (B, 1, H, W) -> (B, C, H, W); noise None leaves x as is.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        if noise is None:
            return x
        return x + self.strength[None, :, None, None] * noise


def truncate(w: torch.Tensor, w_avg: torch.Tensor, psi: float) -> torch.Tensor:
    """The truncation trick: w' = w_avg + psi (w - w_avg) (Karras et al. 2019, sec. 3.1 / app. B).

    psi = 1 returns w, psi = 0 the mean w. Shapes: w (..., D), w_avg (D,) -> (..., D).
    """
    return torch.lerp(w_avg.to(w.dtype).expand_as(w), w, psi)


def mix_styles(ws_a: torch.Tensor, ws_b: torch.Tensor, cutoff: int) -> torch.Tensor:
    """Style mixing: layers [0, cutoff) take styles from ``ws_a``, layers [cutoff, L) from ``ws_b``.

    Shapes: (B, L, D), (B, L, D) -> (B, L, D). cutoff = L gives ``ws_a``, 0 gives ``ws_b``.
    """
    if ws_a.shape != ws_b.shape or not 0 <= cutoff <= ws_a.shape[1]:
        raise ValueError(
            f"need two styles of one shape (B, L, D) and 0 <= cutoff <= L; got {tuple(ws_a.shape)}, "
            f"{tuple(ws_b.shape)}, {cutoff}"
        )
    layer = torch.arange(ws_a.shape[1], device=ws_a.device)[None, :, None]  # (1, L, 1)
    return torch.where(layer < cutoff, ws_a, ws_b)
