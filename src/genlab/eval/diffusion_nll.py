"""Test negative log-likelihood of a diffusion model through its variational bound (Ho et al. 2020, eq. 5).

Per image the bound is L_T + L_0 + sum_{i=1}^{T-1} L_i (see :mod:`genlab.math.diffusion_bound`).
L_T is closed-form and L_0 is always evaluated; the T - 1 KL terms are either all
evaluated (``timesteps=0`` or >= T - 1: the exact sum, Ho et al.'s protocol) or estimated
without bias by stratified sampling: steps 1..T-1 are cut into K contiguous strata of
sizes n_k, one step j_k is drawn uniformly in each stratum for each image, and
sum_k n_k L_{j_k} estimates the sum (E = sum_k n_k * mean over the stratum). The strata are
log-spaced: single steps at small t, where the terms are largest and fall fastest (a trained
MNIST DDPM's L_1 is ~30 times its L_20), widening towards T, where they are small and flat;
equal strata put L_1..L_20 in one stratum and give a skewed, high-variance estimate.

Every term is itself one Monte-Carlo draw of x_t ~ q(x_t | x_0) (as in Ho et al.), so the
reported standard error is that of the mean over images: sd of the per-image bounds /
sqrt(n). It covers the choice of test images, the x_t draws and, when stratified, the step
draws. Each batch draws from its own generator (seed * stride + batch index), so the result
does not depend on how many batches run before it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from genlab.errors import ConfigError
from genlab.math.diffusion_bound import bits_per_dim
from genlab.models.base import VariationalBound

BATCH_SEED_STRIDE = 1_000_003


@dataclass
class BoundResult:
    """Per-image means over the evaluated images, in nats (the bound on -log p(x); lower is better)."""

    nll: float  # mean of L_T + L_0 + sum of the KL terms
    nll_se: float  # standard error of that mean over images
    bits_per_dim: float  # nll / (D ln 2)
    bits_per_dim_se: float
    prior: float  # mean L_T
    decoder: float  # mean L_0
    diffusion: float  # mean of sum_{i=1}^{T-1} L_i (exact or the stratified estimate)
    n: int
    dims: int
    steps: int  # T
    timesteps: int  # KL terms evaluated per image (T - 1 when exact)
    exact: bool
    seed: int


def strata(num: int, k: int) -> list[tuple[int, int]]:
    """``k`` <= ``num`` contiguous, non-empty strata [lo, hi) covering 1..num, log-spaced: the edges follow
    (num + 1) ** (s / k), each at least one past the last and leaving room for the strata still to come."""
    if not 1 <= k <= num:
        raise ConfigError(f"the number of strata must be in 1..{num}, got {k}")
    edges = [1]
    for s in range(1, k + 1):
        target = round((num + 1) ** (s / k))
        edges.append(min(max(edges[-1] + 1, target), num + 1 - (k - s)))
    return list(zip(edges[:-1], edges[1:]))


def stratified_steps(num: int, k: int, b: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One step per stratum per image, and each stratum's size (its weight). Shapes: -> (K, B) long, (K,) float64."""
    bounds = strata(num, k)
    lo = torch.tensor([a for a, _ in bounds], dtype=torch.long)
    size = torch.tensor([c - a for a, c in bounds], dtype=torch.long)
    u = torch.rand((k, b), generator=generator, dtype=torch.float64)
    steps = lo[:, None] + (u * size[:, None]).long().clamp(max=size[:, None] - 1)  # (K, B)
    return steps, size.double()


def image_bounds(
    family: VariationalBound,
    x: torch.Tensor,
    labels: torch.Tensor | None,
    *,
    timesteps: int,
    generator: torch.Generator,
    per_step: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The bound of each image and its parts: ``prior`` (L_T), ``decoder`` (L_0), ``diffusion`` (the KL sum,
    exact or stratified) and ``total``, float64 (B,) each. ``timesteps`` = 0 or >= T - 1: all KL terms.
    With ``per_step`` (a (T,) float64 tensor), the exact sum also adds each step's terms summed over the batch
    into it (index 0: L_0), for a profile of the bound over t.
    Shapes: x (B, C, H, W) on the grey levels of [-1, 1], labels (B,) or None."""
    b, t = x.shape[0], family.bound_steps()
    prior = family.prior_term(x).double().cpu()
    decoder = family.bound_terms(x, torch.zeros(b, dtype=torch.long), labels, generator=generator).double()
    diffusion = torch.zeros(b, dtype=torch.float64)
    if per_step is not None:
        per_step[0] += decoder.sum()
    if t > 1:
        if timesteps == 0 or timesteps >= t - 1:
            for i in range(1, t):
                step = torch.full((b,), i, dtype=torch.long)
                term = family.bound_terms(x, step, labels, generator=generator).double()
                diffusion += term
                if per_step is not None:
                    per_step[i] += term.sum()
        else:
            steps, size = stratified_steps(t - 1, timesteps, b, generator)
            for s in range(timesteps):
                diffusion += size[s] * family.bound_terms(x, steps[s], labels, generator=generator).double()
    return {"prior": prior, "decoder": decoder, "diffusion": diffusion, "total": prior + decoder + diffusion}


def as_model_range(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 on the 256 levels k / 127.5 - 1 of [-1, 1] (Ho et al.'s scaling)."""
    return torch.from_numpy(np.asarray(images, dtype=np.float32) / 127.5 - 1.0)


def estimate_bound(
    family: VariationalBound,
    images: torch.Tensor,
    labels: torch.Tensor | None,
    *,
    timesteps: int = 0,
    seed: int = 0,
    batch_size: int = 100,
    progress: Callable[[int, int], None] | None = None,
    per_step: torch.Tensor | None = None,
) -> BoundResult:
    """The variational bound of ``family`` on ``images`` (already on the levels of [-1, 1]), averaged per image.

    ``labels`` go to a conditional family (the numbers are then of log p(x | y)); ``per_step``: see
    :func:`image_bounds` (summed over all the images).
    Shapes: images (N, C, H, W), labels (N,) or None."""
    if not isinstance(family, VariationalBound):
        raise ConfigError(f"{type(family).__name__} has no variational bound")
    if timesteps < 0 or batch_size < 1:
        raise ConfigError(f"--timesteps must be >= 0 and --batch-size >= 1, got {timesteps} and {batch_size}")
    n, t = images.shape[0], family.bound_steps()
    parts: dict[str, list[torch.Tensor]] = {"prior": [], "decoder": [], "diffusion": [], "total": []}
    for b, start in enumerate(range(0, n, batch_size)):
        generator = torch.Generator().manual_seed(seed * BATCH_SEED_STRIDE + b)
        y = None if labels is None else labels[start : start + batch_size]
        got = image_bounds(
            family, images[start : start + batch_size], y, timesteps=timesteps, generator=generator, per_step=per_step
        )
        for key, value in got.items():
            parts[key].append(value)
        if progress is not None:
            progress(min(n, start + batch_size), n)
    per = {key: torch.cat(value) for key, value in parts.items()}
    total, dims = per["total"], images[0].numel()
    se = float(total.std(unbiased=True)) / math.sqrt(n) if n > 1 else float("nan")
    exact = t <= 1 or timesteps == 0 or timesteps >= t - 1
    nll = float(total.mean())
    return BoundResult(
        nll=nll,
        nll_se=se,
        bits_per_dim=float(bits_per_dim(nll, dims)),
        bits_per_dim_se=float(bits_per_dim(se, dims)),
        prior=float(per["prior"].mean()),
        decoder=float(per["decoder"].mean()),
        diffusion=float(per["diffusion"].mean()),
        n=n,
        dims=dims,
        steps=t,
        timesteps=t - 1 if exact else timesteps,
        exact=exact,
        seed=seed,
    )
