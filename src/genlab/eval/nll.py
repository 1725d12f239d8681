"""Test log-likelihood of a VAE by importance sampling, as the literature reports it.

Burda et al. 2016 ("Importance weighted autoencoders", eq. 8): with z_i ~ q(z | x),

    log p(x) >= L_k = log (1/k) sum_i p(x, z_i) / q(z_i | x),

L_1 is the ELBO, E[L_k] is non-decreasing in k and L_k -> log p(x) as k grows; the
standard protocol reports L_5000 on the test set. The k samples are drawn in chunks so
memory stays bounded, and the log-weights are accumulated with a running logsumexp in
float64. The test set is binarised once with a fixed, printed seed (Bernoulli pixels,
the dynamically binarised MNIST protocol).

The model only needs two hooks (``genlab.models.vae.VAEFamily`` has both):
``encode(x, labels) -> mu, logvar`` and ``log_px_given_z(x, z, labels) -> (S, B)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from genlab.math.kl import kl_normal_std_per_dim
from genlab.models.vae import ACTIVE_UNIT_THRESHOLD

LOG_2PI = math.log(2 * math.pi)

Encode = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]  # x (B, ...) -> mu, logvar (B, Z)
LogLikelihood = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # x (B, ...), z (S, B, Z) -> (S, B)


def log_normal_std(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I), summed over the last dimension. Shapes: (..., Z) -> (...)."""
    return -0.5 * (z.pow(2) + LOG_2PI).sum(-1)


def log_normal_diag(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(logvar)), summed over the last dimension. Shapes: broadcast (..., Z) -> (...)."""
    return -0.5 * ((z - mu).pow(2) * (-logvar).exp() + logvar + LOG_2PI).sum(-1)


def iwae_bound(log_weights: torch.Tensor) -> torch.Tensor:
    """L_k = logsumexp_i(log w_i) - log k, in float64. Shapes: (K, B) -> (B,)."""
    lw = log_weights.double()
    return torch.logsumexp(lw, dim=0) - math.log(lw.shape[0])


def importance_log_likelihood(
    x: torch.Tensor,
    encode: Encode,
    log_px_given_z: LogLikelihood,
    *,
    k: int,
    generator: torch.Generator,
    chunk: int = 500,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_k, ELBO) per image, float64, from the same k samples of q(z | x).

    The ELBO is the mean of the k log-weights (an unbiased estimate of E_q[log w]).
    Shapes: x (B, ...) -> (B,), (B,)
    """
    mu, logvar = encode(x)  # (B, Z) each
    b = mu.shape[0]
    std = (0.5 * logvar).exp()
    running_max = torch.full((b,), -math.inf, dtype=torch.float64)
    running_sum = torch.zeros(b, dtype=torch.float64)  # sum_i exp(log w_i - running_max)
    log_w_total = torch.zeros(b, dtype=torch.float64)
    for start in range(0, k, chunk):
        s = min(chunk, k - start)
        # 1. z_i = mu + sigma * eps_i, i in this chunk: (S, B, Z).
        eps = torch.randn((s, *mu.shape), generator=generator)
        z = mu + std * eps
        # 2. log w_i = log p(x | z_i) + log p(z_i) - log q(z_i | x): (S, B).
        log_w = (log_px_given_z(x, z) + log_normal_std(z) - log_normal_diag(z, mu, logvar)).double()
        # 3. Running logsumexp: rescale the old sum to the new maximum.
        new_max = torch.maximum(running_max, log_w.max(dim=0).values)
        running_sum = running_sum * (running_max - new_max).exp() + (log_w - new_max).exp().sum(0)
        running_max = new_max
        log_w_total += log_w.sum(0)
    return running_sum.log() + running_max - math.log(k), log_w_total / k


def binarize(images: torch.Tensor, seed: int) -> torch.Tensor:
    """Bernoulli pixels with p = the grey level in [0, 1], drawn once with ``seed``. Same shape."""
    return torch.bernoulli(images, generator=torch.Generator().manual_seed(seed))


@dataclass
class NLLResult:
    """Per-image averages over the evaluated images, in nats; log-likelihoods are negated (lower is better)."""

    nll: float  # -L_k
    elbo_nll: float  # -ELBO
    bits_per_dim: float  # nll / (D ln 2)
    k: int
    n: int
    dims: int
    active_units: int
    kl_per_dim: list[float]  # closed-form KL(q(z_j | x) || N(0, 1)), averaged over the images
    mean_variance: list[float]  # Var_x(E_q[z_j | x]) per dimension, the active-unit statistic
    binarize_seed: int | None = None  # the seed the images were binarised with, if they were


def posterior_statistics(mu: torch.Tensor, logvar: torch.Tensor) -> tuple[list[float], list[float], int]:
    """(KL per dimension averaged over x, Var_x of the posterior mean per dimension, active units).

    Burda et al. 2016: unit u is active when Var_x(E_q[z_u | x]) > 0.01.
    Shapes: mu, logvar (N, Z).
    """
    kl = kl_normal_std_per_dim(mu.double(), logvar.double()).mean(0)
    var = mu.double().var(dim=0, unbiased=False)
    return kl.tolist(), var.tolist(), int((var > ACTIVE_UNIT_THRESHOLD).sum())


BATCH_SEED_STRIDE = 1_000_003  # batch b of seed s draws its samples from generator seed s * stride + b


@torch.inference_mode()
def batch_sums(
    family, x: torch.Tensor, y: torch.Tensor | None, *, k: int, seed: int, batch_index: int, max_rows: int = 20_000
) -> tuple[float, float]:
    """(sum of L_k, sum of ELBO) over one batch of images.

    Each batch draws from its own generator (seed * BATCH_SEED_STRIDE + batch_index), so
    batches can be computed separately, resumed or spread over processes and still sum to
    exactly what :func:`estimate_nll` returns. ``max_rows`` bounds one decoder call to
    samples x images rows. Shapes: x (B, C, H, W) in [0, 1], y (B,) or None.
    """
    generator = torch.Generator().manual_seed(seed * BATCH_SEED_STRIDE + batch_index)
    mu, logvar = family.encode(x, y)
    chunk = max(1, max_rows // x.shape[0])
    iwae, elbo = importance_log_likelihood(
        x,
        lambda _x: (mu, logvar),
        lambda xx, z: family.log_px_given_z(xx, z, y),
        k=k,
        generator=generator,
        chunk=chunk,
    )
    return float(iwae.sum()), float(elbo.sum())


@torch.inference_mode()
def nll_result(
    family,
    images: torch.Tensor,
    labels: torch.Tensor | None,
    iwae_sum: float,
    elbo_sum: float,
    k: int,
    batch_size: int = 500,
) -> NLLResult:
    """Assemble an :class:`NLLResult` from summed bounds; the posterior statistics take one encoder pass."""
    mus, logvars = zip(
        *(
            family.encode(images[s : s + batch_size], None if labels is None else labels[s : s + batch_size])
            for s in range(0, len(images), batch_size)
        )
    )
    kl, var, active = posterior_statistics(torch.cat(mus), torch.cat(logvars))
    n, dims = images.shape[0], images[0].numel()
    nll = -iwae_sum / n
    return NLLResult(nll, -elbo_sum / n, nll / (dims * math.log(2)), k, n, dims, active, kl, var)


def estimate_nll(
    family,
    images: torch.Tensor,
    labels: torch.Tensor | None,
    *,
    k: int,
    seed: int,
    batch_size: int = 100,
    max_rows: int = 20_000,
    progress: Callable[[int, int], None] | None = None,
) -> NLLResult:
    """-L_k, -ELBO, bits/dim and posterior diagnostics of ``family`` on ``images`` (already in [0, 1]).

    ``labels`` are passed to a conditional family (then the numbers are of log p(x | y)).
    Shapes: images (N, C, H, W), labels (N,) or None.
    """
    n = images.shape[0]
    iwae_sum = elbo_sum = 0.0
    for b, start in enumerate(range(0, n, batch_size)):
        y = None if labels is None else labels[start : start + batch_size]
        iwae, elbo = batch_sums(
            family, images[start : start + batch_size], y, k=k, seed=seed, batch_index=b, max_rows=max_rows
        )
        iwae_sum += iwae
        elbo_sum += elbo
        if progress is not None:
            progress(min(n, start + batch_size), n)
    return nll_result(family, images, labels, iwae_sum, elbo_sum, k)


def as_unit_interval(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 in [0, 1] (255 -> exactly 1)."""
    return torch.from_numpy(np.asarray(images, dtype=np.float32) / 255.0)
