"""Closed forms of few-step distillation: time grids, per-sample DDIM steps, targets, scalings.

Pure functions of tensors, shared by ``ddpm-progressive`` and ``ddpm-consistency``.
Conventions as in :mod:`genlab.math.diffusion`: ``alpha_bar`` is the (T,) float64
schedule, 0-based (``alpha_bar[i]`` is alpha-bar at t = i + 1), and step index -1 means
the clean data (alpha-bar = 1). With a = alpha-bar: alpha_t = sqrt(a), sigma_t = sqrt(1 - a),
x_t = alpha_t x_0 + sigma_t eps (variance preserving).
"""

from __future__ import annotations

import torch

from genlab.errors import ConfigError


def at(alpha_bar: torch.Tensor, i: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """alpha-bar at per-sample step indices ``i`` (-1 gives 1), broadcast to ``like``: (B,) -> (B, 1, ...)."""
    values = torch.cat([alpha_bar.to(like.dtype), alpha_bar.new_ones(1).to(like.dtype)])  # index -1 -> the 1
    return values.to(like.device)[i].view(-1, *([1] * (like.ndim - 1)))


def trailing_grid(num_train_steps: int, n: int) -> list[int]:
    """``n`` step indices T(n-k)/n - 1, k = 0..n-1, from T-1 down; the step after the last goes to the data.

    Evenly spaced with the last step ending at t = 0 ("trailing" spacing), so the grid of
    ``n`` steps is every other point of the grid of ``2n``: progressive distillation halves
    a sampler without moving its time points. Shapes: -> n ints.
    """
    if not 1 <= n <= num_train_steps:
        raise ConfigError(
            f"a sampler over {num_train_steps} diffusion steps takes 1..{num_train_steps} steps, got {n}"
        )
    return [round(num_train_steps * (n - k) / n) - 1 for k in range(n)]


def ddim_step(
    x: torch.Tensor,
    x0: torch.Tensor,
    i: torch.Tensor,
    j: torch.Tensor,
    alpha_bar: torch.Tensor,
    clip_x0: bool = False,
) -> torch.Tensor:
    """One deterministic DDIM step (eta = 0, Song et al. 2021 eq. 12) from index ``i`` to ``j`` per sample.

    Takes the predicted clean data ``x0`` (clipped to [-1, 1] first when ``clip_x0``; the
    noise estimate is then the one consistent with it) and returns
    x_j = alpha_j x0 + sigma_j (x_i - alpha_i x0) / sigma_i. It is the Euler step of the
    probability-flow ODE in the variables (x / alpha, sigma / alpha). Shapes: x, x0 (B, ...),
    i, j (B,) -> (B, ...).
    """
    if clip_x0:
        x0 = x0.clamp(-1, 1)
    a_i, a_j = at(alpha_bar, i, x), at(alpha_bar, j, x)
    eps = (x - a_i.sqrt() * x0) / (1 - a_i).sqrt()
    return a_j.sqrt() * x0 + (1 - a_j).sqrt() * eps


def x0_from_output(
    out: torch.Tensor, x: torch.Tensor, i: torch.Tensor, alpha_bar: torch.Tensor, prediction: str
) -> torch.Tensor:
    """The clean-data estimate of a network predicting ``prediction`` (eps, v or x0) at step indices ``i``.

    eps: x0 = (x - sigma eps) / alpha; v (Salimans & Ho 2022): x0 = alpha x - sigma v; x0: itself.
    """
    a = at(alpha_bar, i, x)
    if prediction == "eps":
        return (x - (1 - a).sqrt() * out) / a.sqrt()
    if prediction == "v":
        return a.sqrt() * x - (1 - a).sqrt() * out
    if prediction == "x0":
        return out
    raise ConfigError(f"unknown prediction {prediction!r}; known: eps, v, x0")


def eps_from_x0(x: torch.Tensor, x0: torch.Tensor, i: torch.Tensor, alpha_bar: torch.Tensor) -> torch.Tensor:
    """The noise consistent with ``x0``: (x - alpha x0) / sigma, at per-sample indices ``i`` (i >= 0)."""
    a = at(alpha_bar, i, x)
    return (x - a.sqrt() * x0) / (1 - a).sqrt()


def progressive_target(
    x_t: torch.Tensor, x_t2: torch.Tensor, i: torch.Tensor, j: torch.Tensor, alpha_bar: torch.Tensor
) -> torch.Tensor:
    """Salimans & Ho (2022), Algorithm 2: the x-target one DDIM step from ``i`` to ``j`` must predict.

    Two teacher steps took x_t to x_t''; the student's single step lands there exactly when it
    predicts x~ = (x_t'' - (sigma_t''/sigma_t) x_t) / (alpha_t'' - (sigma_t''/sigma_t) alpha_t).
    At j = -1 (the data) this is x_t'' itself. Shapes: (B, ...), i, j (B,) -> (B, ...).
    """
    a_t, a_s = at(alpha_bar, i, x_t), at(alpha_bar, j, x_t)
    ratio = (1 - a_s).sqrt() / (1 - a_t).sqrt()
    return (x_t2 - ratio * x_t) / (a_s.sqrt() - ratio * a_t.sqrt())


def truncated_snr_weight(alpha_bar: torch.Tensor, i: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """max(SNR, 1) = max(alpha^2 / sigma^2, 1): Salimans & Ho's "truncated SNR" weight of an x-space loss."""
    a = at(alpha_bar, i, like)
    return (a / (1 - a)).clamp(min=1.0)


def ve_sigma(alpha_bar: torch.Tensor, i: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """sigma / alpha = sqrt((1 - a) / a): the noise level of x / alpha (the variance-exploding view)."""
    a = at(alpha_bar, i, like)
    return ((1 - a) / a).sqrt()


def consistency_scalings(
    sigma: torch.Tensor, sigma_min: float, sigma_data: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """c_skip and c_out of a consistency model (Song et al. 2023, appendix C).

    c_skip = s_d^2 / ((sigma - sigma_min)^2 + s_d^2), c_out = (sigma - sigma_min) s_d / sqrt(s_d^2 + sigma^2):
    c_skip(sigma_min) = 1 and c_out(sigma_min) = 0, so f(x, sigma_min) = x by construction.
    """
    c_skip = sigma_data**2 / ((sigma - sigma_min) ** 2 + sigma_data**2)
    c_out = (sigma - sigma_min) * sigma_data / (sigma_data**2 + sigma**2).sqrt()
    return c_skip, c_out


def consistency_function(
    x_ve: torch.Tensor, denoised: torch.Tensor, sigma: torch.Tensor, sigma_min: float, sigma_data: float
) -> torch.Tensor:
    """f(x, sigma) = c_skip x + c_out F, with F the network output read the way EDM reads a denoiser.

    A diffusion network gives a denoised estimate D = c_skip^EDM x + c_out^EDM F (Karras et al.
    2022, table 1: c_skip^EDM = s_d^2 / (sigma^2 + s_d^2), c_out^EDM = sigma s_d / sqrt(sigma^2 + s_d^2)),
    so F = (D - c_skip^EDM x) / c_out^EDM; with the consistency scalings,
    f = c_skip x + ((sigma - sigma_min) / sigma) (D - c_skip^EDM x). A student that starts as a copy
    of the teacher therefore starts at f ~ D (exactly D as sigma_min -> 0), and f(x, sigma_min) = x.
    Shapes: x_ve, denoised (B, ...), sigma (B, 1, ...) -> (B, ...).
    """
    c_skip, _ = consistency_scalings(sigma, sigma_min, sigma_data)
    c_skip_edm = sigma_data**2 / (sigma**2 + sigma_data**2)
    return c_skip * x_ve + (sigma - sigma_min) / sigma * (denoised - c_skip_edm * x_ve)


def consistency_grid(num_train_steps: int, n: int) -> list[int]:
    """The ``n + 1`` step indices t_n > ... > t_0 = 0 that consistency distillation moves between.

    Evenly spaced from T-1 down to 0 (index 0 is sigma_min, the boundary where f is the
    identity). Shapes: -> n + 1 ints, descending.
    """
    if not 1 <= n < num_train_steps:
        raise ConfigError(f"ode_steps must be in 1..{num_train_steps - 1}, got {n}")
    return [round((num_train_steps - 1) * (n - k) / n) for k in range(n + 1)]


def multistep_times(grid: list[int], k: int) -> list[int]:
    """The ``k`` indices of ``grid`` (descending, last 0) multistep consistency sampling evaluates f at.

    The first is the top of the grid (pure noise); the others are spread evenly down the grid,
    never reaching its last point (re-noising to sigma_min would change nothing). Shapes: -> k ints.
    """
    n = len(grid) - 1
    if not 1 <= k <= n:
        raise ConfigError(f"consistency sampling takes 1..{n} steps (ode_steps), got {k}")
    return [grid[(m * n) // k] for m in range(k)]
