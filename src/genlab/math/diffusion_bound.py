"""The terms of a diffusion model's variational bound on -log p(x) (Ho et al. 2020, eq. 5).

    -log p(x_0) <= L_T + sum_{t=2}^{T} L_{t-1} + L_0, in nats per image, with
    L_T     = KL(q(x_T | x_0) || N(0, I))                       (no parameters; :func:`prior_kl`)
    L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t))     (Gaussians; :func:`reverse_kl`)
    L_0     = -log p(x_0 | x_1)                                 (discretised Gaussian; :func:`decoder_nll`)

The data are the 256 grey levels scaled linearly to [-1, 1] (k / 127.5 - 1) and the decoder
puts on each level the mass of a Gaussian over its bin of width 2/255, the edge bins
extended to -inf and +inf (Ho et al. 2020, eq. 13): a discrete likelihood, so no
dequantisation noise is added, and bits/dim = nats / (D ln 2) is directly a code length.
Every function is pure and computes in float64.
"""

from __future__ import annotations

import math

import torch

from genlab.math.diffusion import _at, posterior_mean_variance

BIN_HALF_WIDTH = 1.0 / 255.0  # half the distance between neighbouring grey levels in [-1, 1]


def gaussian_kl(
    mean1: torch.Tensor, logvar1: torch.Tensor, mean2: torch.Tensor, logvar2: torch.Tensor
) -> torch.Tensor:
    """KL(N(mean1, exp(logvar1)) || N(mean2, exp(logvar2))) per element, in nats (shapes broadcast).

    = 1/2 (logvar2 - logvar1 + exp(logvar1 - logvar2) + (mean1 - mean2)^2 exp(-logvar2) - 1)."""
    return 0.5 * (logvar2 - logvar1 + (logvar1 - logvar2).exp() + (mean1 - mean2).pow(2) * (-logvar2).exp() - 1.0)


def _log_normal_cdf_diff(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """log(Phi(b) - Phi(a)) for a < b, stable in both tails: above 0 it uses Phi(-a) - Phi(-b)."""
    log_ndtr = torch.special.log_ndtr
    upper = log_ndtr(b) + torch.log1p(-torch.exp(log_ndtr(a) - log_ndtr(b)))  # right for a <= 0
    lower = log_ndtr(-a) + torch.log1p(-torch.exp(log_ndtr(-b) - log_ndtr(-a)))  # right for a > 0
    return torch.where(a > 0, lower, upper)


def discretized_gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """log P(x) per element of a Gaussian N(mean, exp(log_scale)^2) discretised onto the 256 levels of [-1, 1].

    Level x gets the mass of [x - 1/255, x + 1/255]; the level -1 gets (-inf, -1 + 1/255] and
    the level 1 gets [1 - 1/255, inf), so the masses of the 256 levels sum to 1
    (Ho et al. 2020, eq. 13). ``x`` must lie on the levels. Shapes broadcast; float64."""
    x, mean, log_scale = (torch.as_tensor(v, dtype=torch.float64) for v in (x, mean, log_scale))
    inv = torch.exp(-log_scale)
    centred = x - mean
    lo, hi = inv * (centred - BIN_HALF_WIDTH), inv * (centred + BIN_HALF_WIDTH)
    middle = _log_normal_cdf_diff(lo, hi)
    left = torch.special.log_ndtr(hi)  # log Phi(hi): the whole left tail
    right = torch.special.log_ndtr(-lo)  # log (1 - Phi(lo)): the whole right tail
    return torch.where(x < -1 + BIN_HALF_WIDTH, left, torch.where(x > 1 - BIN_HALF_WIDTH, right, middle))


def bits_per_dim(nats: float | torch.Tensor, dims: int) -> float | torch.Tensor:
    """A negative log-likelihood of an image of ``dims`` values in bits per value: nats / (dims ln 2)."""
    return nats / (dims * math.log(2))


def prior_kl(x0: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """L_T = KL(q(x_T | x_0) || N(0, I)) = KL(N(sqrt(ab_T) x_0, 1 - ab_T) || N(0, 1)) summed per image.

    Shapes: x0 (B, ...) -> (B,); ``alpha_bar`` (T,) float64."""
    a = alpha_bar[-1].double()
    mean = a.sqrt() * x0.double()
    logvar = torch.log1p(-a).expand_as(mean)
    return gaussian_kl(mean, logvar, torch.zeros_like(mean), torch.zeros_like(mean)).flatten(1).sum(1)


def reverse_kl(
    x0: torch.Tensor,
    xt: torch.Tensor,
    i: torch.Tensor,
    x0_pred: torch.Tensor,
    betas: torch.Tensor,
    alpha_bar: torch.Tensor,
    model_variance: str = "beta",
) -> torch.Tensor:
    """L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)) summed per image, for 0-based step i >= 1 (t = i + 1).

    The model's mean is the posterior mean at its predicted x_0 (Ho et al. eq. 7 with x_0 -> x0_pred, which
    is eq. 11 when x0_pred is not clipped); its variance is beta_t (``"beta"``, the DDPM sampler's) or
    beta-tilde_t, the posterior's own (``"beta_tilde"``), which leaves only the mean term.
    Shapes: x0, xt, x0_pred (B, C, H, W), i (B,) -> (B,)."""
    x0, xt, x0_pred = x0.double(), xt.double(), x0_pred.double()
    betas, alpha_bar = betas.double(), alpha_bar.double()
    true_mean, true_var = posterior_mean_variance(x0, xt, i, betas, alpha_bar)  # var (B, 1, 1, 1)
    model_mean, _ = posterior_mean_variance(x0_pred, xt, i, betas, alpha_bar)
    model_var = _at(betas, i, xt) if model_variance == "beta" else true_var
    kl = gaussian_kl(true_mean, true_var.log(), model_mean, model_var.log())
    return kl.flatten(1).sum(1)


def decoder_nll(x0: torch.Tensor, x0_pred: torch.Tensor, beta_1: float) -> torch.Tensor:
    """L_0 = -log p(x_0 | x_1): the discretised Gaussian with mean x0_pred (the posterior mean at t = 1) and
    variance beta_1 (the DDPM sampler's sigma_1^2), summed per image. Shapes: (B, C, H, W) -> (B,)."""
    log_scale = torch.tensor(0.5 * math.log(beta_1), dtype=torch.float64)
    return -discretized_gaussian_log_likelihood(x0, x0_pred, log_scale).flatten(1).sum(1)
