"""Closed forms of the Gaussian diffusion process (Ho et al. 2020; Song et al. 2021).

``alpha_bar`` is the (T,) float64 tensor of alpha-bar_t, 0-based (``alpha_bar[i]`` is
alpha-bar at t = i + 1). Index tensors ``i`` are 0-based step indices of shape (B,).
"""

from __future__ import annotations

import torch


def _at(values: torch.Tensor, i: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """values[i] broadcast to ``like``: (B,) -> (B, 1, 1, 1)."""
    return values.to(like.dtype)[i].view(-1, *([1] * (like.ndim - 1)))


def q_sample(x0: torch.Tensor, i: torch.Tensor, noise: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """x_t = sqrt(alpha-bar_t) x0 + sqrt(1 - alpha-bar_t) eps, a sample of q(x_t | x_0) (Ho et al. eq. 4)."""
    a = _at(alpha_bar, i, x0)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def posterior_mean_variance(
    x0: torch.Tensor, xt: torch.Tensor, i: torch.Tensor, betas: torch.Tensor, alpha_bar: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of q(x_{t-1} | x_t, x_0) (Ho et al. 2020, eqs. 6-7); variance shaped (B, 1, 1, 1)."""
    prev = torch.cat([alpha_bar.new_ones(1), alpha_bar[:-1]])  # alpha-bar_{t-1}, with alpha-bar_0 = 1
    a_t, a_prev, b_t = _at(alpha_bar, i, xt), _at(prev, i, xt), _at(betas, i, xt)
    mean = (a_prev.sqrt() * b_t / (1 - a_t)) * x0 + ((1 - b_t).sqrt() * (1 - a_prev) / (1 - a_t)) * xt
    variance = b_t * (1 - a_prev) / (1 - a_t)
    return mean, variance


def x0_from_eps(xt: torch.Tensor, i: torch.Tensor, eps: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """x0 = (x_t - sqrt(1 - alpha-bar) eps) / sqrt(alpha-bar)."""
    a = _at(alpha_bar, i, xt)
    return (xt - (1 - a).sqrt() * eps) / a.sqrt()


def eps_from_x0(xt: torch.Tensor, i: torch.Tensor, x0: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """eps = (x_t - sqrt(alpha-bar) x0) / sqrt(1 - alpha-bar)."""
    a = _at(alpha_bar, i, xt)
    return (xt - a.sqrt() * x0) / (1 - a).sqrt()


def v_target(x0: torch.Tensor, i: torch.Tensor, eps: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """v = sqrt(alpha-bar) eps - sqrt(1 - alpha-bar) x0 (Salimans & Ho 2022)."""
    a = _at(alpha_bar, i, x0)
    return a.sqrt() * eps - (1 - a).sqrt() * x0


def eps_from_v(xt: torch.Tensor, i: torch.Tensor, v: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """eps = sqrt(1 - alpha-bar) x_t + sqrt(alpha-bar) v."""
    a = _at(alpha_bar, i, xt)
    return (1 - a).sqrt() * xt + a.sqrt() * v
