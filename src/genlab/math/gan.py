"""GAN objectives and the theory behind them (Goodfellow et al. 2014).

The losses take discriminator *logits*; log D = -softplus(-l) and log(1 - D) = -softplus(l)
keep them finite where D saturates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

GeneratorLoss = Literal["non-saturating", "minimax"]
GANLoss = Literal["non-saturating", "minimax", "hinge", "least-squares", "wasserstein"]
GAN_LOSSES: tuple[str, ...] = ("non-saturating", "minimax", "hinge", "least-squares", "wasserstein")
BCE_LOSSES: tuple[str, ...] = ("non-saturating", "minimax")  # D is a classifier with sigmoid output
Target = float | torch.Tensor


def discriminator_loss(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    real_target: Target = 1.0,
    *,
    kind: GANLoss = "non-saturating",
    fake_target: Target = 0.0,
) -> torch.Tensor:
    """The discriminator's (critic's) loss, to be minimised, averaged over the batch.

    minimax / non-saturating (same D): -E[t log D(x) + (1-t) log(1-D(x))] on reals (t = 1)
        plus the same on fakes (t = 0); one-sided label smoothing sets t_real = 0.9 and
        noisy labels flip single targets (pass tensors).
    least-squares (Mao et al. 2017, a=0, b=1): 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2].
    hinge (Lim & Ye 2017; Miyato et al. 2018): E[relu(1 - D(x))] + E[relu(1 + D(G(z)))].
    wasserstein (Arjovsky et al. 2017): E[D(G(z))] - E[D(x)], the negated W1 estimate.
    """
    if kind in BCE_LOSSES:
        real = F.binary_cross_entropy_with_logits(real_logits, _as_target(real_target, real_logits))
        fake = F.binary_cross_entropy_with_logits(fake_logits, _as_target(fake_target, fake_logits))
        return real + fake
    if kind == "least-squares":
        real = (real_logits - _as_target(real_target, real_logits)).square().mean()
        fake = (fake_logits - _as_target(fake_target, fake_logits)).square().mean()
        return 0.5 * (real + fake)
    if kind == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    if kind == "wasserstein":
        return fake_logits.mean() - real_logits.mean()
    raise ValueError(f"unknown GAN loss {kind!r}; known: {', '.join(GAN_LOSSES)}")


def generator_loss(fake_logits: torch.Tensor, kind: GANLoss = "non-saturating") -> torch.Tensor:
    """The generator's objective, to be minimised.

    minimax:        E[log(1 - D(G(z)))]  (saturates: tiny gradient while D wins)
    non-saturating: -E[log D(G(z))]      (Goodfellow et al. 2014, section 3)
    least-squares:  1/2 E[(D(G(z)) - 1)^2]
    hinge, wasserstein: -E[D(G(z))]
    """
    if kind == "minimax":
        return -F.softplus(fake_logits).mean()
    if kind == "non-saturating":
        return F.softplus(-fake_logits).mean()
    if kind == "least-squares":
        return 0.5 * (fake_logits - 1.0).square().mean()
    if kind in ("hinge", "wasserstein"):
        return -fake_logits.mean()
    raise ValueError(f"unknown GAN loss {kind!r}; known: {', '.join(GAN_LOSSES)}")


def _as_target(target: Target, like: torch.Tensor) -> torch.Tensor:
    return target if isinstance(target, torch.Tensor) else torch.full_like(like, float(target))


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor
) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad_x D(x_hat)||_2 - 1)^2], x_hat = eps x + (1 - eps) x~.

    Shapes: real, fake (B, ...); eps (B,) in [0, 1]. ``critic`` maps (B, ...) to (G,) scores;
    when it packs samples (G = B / m), the norm is taken over each packed group's input.
    Multiply by lambda (10 in the paper) yourself. Differentiable (create_graph).
    """
    e = eps.view(-1, *([1] * (real.dim() - 1)))
    x_hat = (e * real + (1 - e) * fake).requires_grad_(True)
    scores = critic(x_hat)
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norms = grad.reshape(scores.shape[0], -1).norm(dim=1)
    return (norms - 1.0).square().mean()


def r1_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): 1/2 E[||grad_x D(x)||^2] on real data; multiply by gamma yourself."""
    x = real.detach().requires_grad_(True)
    scores = critic(x)
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return 0.5 * grad.reshape(scores.shape[0], -1).square().sum(dim=1).mean()


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
