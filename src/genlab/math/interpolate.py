"""Paths between two latent vectors."""

from __future__ import annotations

import torch


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(1 - t) a + t b for each t. Shapes: a, b (...), t (S,) -> (S, ...)."""
    t = t.view(-1, *([1] * a.dim())).to(a.dtype)
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985; White 2016 for GAN latents): constant angular speed.

    sin((1-t) w)/sin(w) a + sin(t w)/sin(w) b with w the angle between a and b (flattened);
    falls back to lerp when a and b are (anti)parallel within ``eps``. Shapes as :func:`lerp`.
    """
    fa, fb = a.flatten().double(), b.flatten().double()
    cos = torch.dot(fa, fb) / (fa.norm() * fb.norm()).clamp_min(eps)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if omega.abs() < eps or (torch.pi - omega).abs() < eps:
        return lerp(a, b, t)
    t = t.double().view(-1, *([1] * a.dim()))
    so = torch.sin(omega)
    out = torch.sin((1 - t) * omega) / so * a.double() + torch.sin(t * omega) / so * b.double()
    return out.to(a.dtype)
