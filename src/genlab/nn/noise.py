"""Noise from a CPU generator, on any device: the one way the library draws random tensors.

Every random draw goes through the caller's CPU ``torch.Generator`` (a CUDA generator
would give other numbers): these helpers draw on the CPU and move the result to the
device. A run's noise is then the same on every device, and on the CPU the move is a
no-op, so CPU numerics are exactly those of ``torch.randn(shape, generator=g)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

Size = Sequence[int] | torch.Size


def randn(
    shape: Size, generator: torch.Generator, device: torch.device, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Standard normal noise of ``shape`` from the CPU ``generator``, on ``device``."""
    return torch.randn(tuple(shape), generator=generator, dtype=dtype, device="cpu").to(device)


def truncated_randn(shape: Size, threshold: float, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Standard normal noise conditioned on |z_i| <= ``threshold`` (> 0), from the CPU ``generator``, on ``device``:
    every entry outside is redrawn until none is (BigGAN's truncation trick, Brock et al. 2019, sec. 3.1)."""
    if threshold <= 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    z = torch.randn(tuple(shape), generator=generator, device="cpu")
    outside = z.abs() > threshold
    while bool(outside.any()):
        z[outside] = torch.randn(int(outside.sum()), generator=generator, device="cpu")
        outside = z.abs() > threshold
    return z.to(device)


def rand(
    shape: Size, generator: torch.Generator, device: torch.device, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Uniform [0, 1) noise of ``shape`` from the CPU ``generator``, on ``device``."""
    return torch.rand(tuple(shape), generator=generator, dtype=dtype, device="cpu").to(device)


def randint(low: int, high: int, shape: Size, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Integers in [low, high) (int64) of ``shape`` from the CPU ``generator``, on ``device``."""
    return torch.randint(low, high, tuple(shape), generator=generator, device="cpu").to(device)


def randn_like(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Standard normal noise shaped and typed like ``x``, drawn on the CPU, on ``x``'s device."""
    return randn(x.shape, generator, x.device, x.dtype)


def bernoulli(p: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """0/1 draws with probabilities ``p`` from the CPU ``generator``, on ``p``'s device (same shape)."""
    return torch.bernoulli(p.cpu(), generator=generator).to(p.device)
