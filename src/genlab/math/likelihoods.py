"""Per-image negative log-likelihoods of decoder outputs, in nats."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x | logits) for Bernoulli pixels (x in [0, 1]), summed per image.

    Shapes: logits, x (B, ...) -> (B,)
    """
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def gaussian_nll(mean: torch.Tensor, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """-log N(x; mean, sigma^2 I) with a fixed sigma, summed per image (the MSE likelihood).

    Shapes: mean, x (B, ...) -> (B,)
    """
    d = mean[0].numel()
    sq = (x - mean).pow(2).flatten(1).sum(1)
    return 0.5 * sq / sigma**2 + d * (math.log(sigma) + 0.5 * math.log(2 * math.pi))
