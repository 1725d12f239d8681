"""KL divergences with closed forms.

Kingma & Welling 2014, appendix B:
    KL(N(mu, sigma^2) || N(0, 1)) = -1/2 * sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)
"""

from __future__ import annotations

import torch


def kl_normal_std_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) for each dimension; same shape as ``mu``."""
    return -0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp())


def kl_normal_std(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) in nats, summed over the last dimension.

    Shapes: mu, logvar (..., D) -> (...)
    """
    return kl_normal_std_per_dim(mu, logvar).sum(dim=-1)
