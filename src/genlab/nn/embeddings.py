"""Time and class embeddings for conditional networks."""

from __future__ import annotations

import math

import torch


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Transformer-style embedding of (possibly fractional) timesteps (Vaswani et al. 2017; Ho et al. 2020).

    Shapes: t (B,) -> (B, dim); first half cosines, second half sines.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    return torch.nn.functional.pad(emb, (0, dim % 2))
