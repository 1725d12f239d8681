"""Differentiable augmentation (Zhao et al. 2020, DiffAugment) for data-efficient GANs.

The same random transform family is applied to real and fake images before D, in both
players' steps, so G gets gradients through it. Images in [-1, 1], shape (B, C, H, W);
all randomness comes from the given generator.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genlab.nn.noise import rand, randint


def diff_augment(x: torch.Tensor, policies: tuple[str, ...], generator: torch.Generator) -> torch.Tensor:
    """Apply each policy in order: ``color``, ``translation`` (1/8 of the size), ``cutout`` (1/2)."""
    for policy in policies:
        x = _POLICIES[policy](x, generator)
    return x


def _color(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    b = x.shape[0]
    brightness = rand((b, 1, 1, 1), g, x.device) - 0.5
    x = x + brightness
    if x.shape[1] > 1:  # saturation only means something with colour channels
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (rand((b, 1, 1, 1), g, x.device) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (rand((b, 1, 1, 1), g, x.device) + 0.5) + mean


def _translation(x: torch.Tensor, g: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = randint(-sh, sh + 1, (b,), g, x.device)
    dx = randint(-sw, sw + 1, (b,), g, x.device)
    padded = F.pad(x, (sw, sw, sh, sh))  # zero padding, (B, C, H + 2sh, W + 2sw)
    rows = torch.arange(h, device=x.device).view(1, h) - dy.view(b, 1) + sh  # (B, H) source rows
    cols = torch.arange(w, device=x.device).view(1, w) - dx.view(b, 1) + sw  # (B, W) source cols
    idx_b = torch.arange(b, device=x.device).view(b, 1, 1)
    out = padded.permute(0, 2, 3, 1)[idx_b, rows.view(b, h, 1), cols.view(b, 1, w)]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, g: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = randint(0, h + (1 - ch % 2), (b,), g, x.device)
    cx = randint(0, w + (1 - cw % 2), (b,), g, x.device)
    top, left = (cy - ch // 2).view(b, 1, 1), (cx - cw // 2).view(b, 1, 1)  # region may overhang the border
    ys, xs = torch.arange(h, device=x.device).view(1, h, 1), torch.arange(w, device=x.device).view(1, 1, w)
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)  # (B, H, W)
    return x * (~inside).unsqueeze(1).to(x.dtype)


_POLICIES = {"color": _color, "translation": _translation, "cutout": _cutout}
