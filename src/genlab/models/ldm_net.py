"""The network of ``ldm``: an MLP that predicts the noise in a flat latent vector.

A stack of pre-norm residual MLP blocks; each block adds a projection of the time
(sinusoidal, Ho et al. 2020) plus class embedding, the way the U-Net's residual blocks do.
Class ``num_classes`` is the null label that classifier-free guidance needs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genlab.nn.embeddings import sinusoidal_embedding


class ResidualMLPBlock(nn.Module):
    """h + W2 silu(W1 silu(LN(h)) + P silu(emb)). Shapes: h (B, W), emb (B, W) -> (B, W)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width)
        self.emb = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        r = self.fc1(F.silu(self.norm(h))) + self.emb(F.silu(emb))
        return h + self.fc2(F.silu(r))


class LatentDenoiser(nn.Module):
    """eps_theta(z_t, t[, y]) for latents of ``dim`` dimensions.

    Shapes: z (B, D), step indices t (B,), labels y (B,) in 0..K (K = null) or None -> (B, D).
    """

    def __init__(self, dim: int, width: int, depth: int, num_classes: int = 0) -> None:
        super().__init__()
        self.width = width
        self.time = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.classes = nn.Embedding(num_classes + 1, width) if num_classes else None
        self.inp = nn.Linear(dim, width)
        self.blocks = nn.ModuleList(ResidualMLPBlock(width) for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, dim))

    def forward(self, z: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        assert z.ndim == 2 and t.shape == (z.shape[0],), (
            f"expected z (B, D) and t (B,), got {tuple(z.shape)} and {tuple(t.shape)}"
        )
        emb = self.time(sinusoidal_embedding(t, self.width))  # (B,) -> (B, W)
        if self.classes is not None:
            if y is None:
                raise ValueError("a class-conditional denoiser needs labels (the null class for unconditional)")
            emb = emb + self.classes(y)
        h = self.inp(z)  # (B, D) -> (B, W)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(h)  # (B, W) -> (B, D)
