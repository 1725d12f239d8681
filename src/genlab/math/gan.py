"""GAN objectives and the theory behind them (Goodfellow et al. 2014).

The losses take discriminator *logits*; log D = -softplus(-l) and log(1 - D) = -softplus(l)
keep them finite where D saturates.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

GeneratorLoss = Literal["non-saturating", "minimax"]


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """Binary cross-entropy of D: -E[log D(x)] - E[log(1 - D(G(z)))], averaged over the batch."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_target))
    fake = F.softplus(fake_logits).mean()
    return real + fake


def generator_loss(fake_logits: torch.Tensor, kind: GeneratorLoss = "non-saturating") -> torch.Tensor:
    """The generator's objective, to be minimised.

    minimax:        E[log(1 - D(G(z)))]  (saturates: tiny gradient while D wins)
    non-saturating: -E[log D(G(z))]      (Goodfellow et al. 2014, section 3)
    """
    if kind == "minimax":
        return -F.softplus(fake_logits).mean()
    return F.softplus(-fake_logits).mean()


def optimal_discriminator(p_data: np.ndarray, p_g: np.ndarray) -> np.ndarray:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)) (Goodfellow et al. 2014, proposition 1)."""
    total = p_data + p_g
    return np.divide(p_data, total, out=np.full_like(total, 0.5, dtype=float), where=total > 0)


def gan_value(d: np.ndarray, p_data: np.ndarray, p_g: np.ndarray, x: np.ndarray) -> float:
    """V(D, G) = E_data[log D] + E_g[log(1 - D)] by trapezoid integration on the grid ``x``.

    D is clipped to [eps, 1 - eps] (float64 eps): where D rounds to 1 the density of the
    other distribution is below float precision, so its term is negligible but not -inf.
    """
    eps = np.finfo(np.float64).epsneg
    d = np.clip(d, eps, 1 - eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        integrand = np.where(p_data > 0, p_data * np.log(d), 0.0) + np.where(p_g > 0, p_g * np.log1p(-d), 0.0)
    return float(np.trapezoid(integrand, x))


def jensen_shannon(p: np.ndarray, q: np.ndarray, x: np.ndarray) -> float:
    """JSD(p || q) in nats by trapezoid integration; V(D*, G) = -2 log 2 + 2 JSD."""
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_pm = np.where(p > 0, p * np.log(p / m), 0.0)
        kl_qm = np.where(q > 0, q * np.log(q / m), 0.0)
    return float(0.5 * np.trapezoid(kl_pm, x) + 0.5 * np.trapezoid(kl_qm, x))


VALUE_AT_EQUILIBRIUM = -2.0 * math.log(2.0)  # V(D*, G) when p_g = p_data, about -1.386
