"""Procedural toy data with known ground truth, for checking mode coverage and density fits.

Every sampler draws the mode index and the noise from the given ``generator``, so the
same seed gives the same samples on any machine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from genlab.errors import DataError


def ring8_centres(radius: float = 2.0) -> Tensor:
    """Return the 8 mode centres of the ring, evenly spaced on a circle.

    Shapes: (8, 2), float32; mode k sits at angle 2*pi*k/8 (VEEGAN, Srivastava et al. 2017).
    """
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def ring8(n: int, generator: torch.Generator, radius: float = 2.0, std: float = 0.02) -> Tensor:
    """Sample the 8-Gaussian ring: a uniform mode, plus isotropic noise of scale ``std``.

    Shapes: returns (n, 2), float32.
    """
    return _sample_mixture(n, generator, ring8_centres(radius), std, weights=None)


def grid25_centres(spacing: float = 2.0) -> Tensor:
    """Return the 25 mode centres of the 5x5 grid, {-2s, -s, 0, s, 2s}^2 for spacing s.

    Shapes: (25, 2), float32, row-major (x slow, y fast) (VEEGAN; PacGAN, Lin et al. 2018).
    """
    axis = torch.arange(-2, 3, dtype=torch.float64) * spacing
    xs, ys = torch.meshgrid(axis, axis, indexing="ij")  # (5, 5) each
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1).float()


def grid25(n: int, generator: torch.Generator, spacing: float = 2.0, std: float = 0.05) -> Tensor:
    """Sample the 25-Gaussian grid: a uniform mode, plus isotropic noise of scale ``std``.

    Shapes: returns (n, 2), float32.
    """
    return _sample_mixture(n, generator, grid25_centres(spacing), std, weights=None)


def bimodal_1d(
    n: int,
    generator: torch.Generator,
    means: Sequence[float] = (-2.0, 2.0),
    std: float = 0.5,
    weights: Sequence[float] = (0.5, 0.5),
) -> Tensor:
    """Sample a 1-D Gaussian mixture with equal ``std`` and mode ``weights``.

    Shapes: returns (n, 1), float32. The exact density is :func:`bimodal_1d_pdf`.
    """
    _check_mixture(means, weights)
    centres = torch.tensor(means, dtype=torch.float32).reshape(-1, 1)  # (K, 1)
    return _sample_mixture(n, generator, centres, std, weights=weights)


def bimodal_1d_pdf(
    x: np.ndarray,
    means: Sequence[float] = (-2.0, 2.0),
    std: float = 0.5,
    weights: Sequence[float] = (0.5, 0.5),
) -> np.ndarray:
    """Return the exact density of :func:`bimodal_1d` at ``x`` (float64, same shape as x)."""
    _check_mixture(means, weights)
    _check_std(std)
    x = np.asarray(x, dtype=np.float64)[..., None]  # (..., 1) against (K,)
    mu, w = np.asarray(means, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    normal = np.exp(-0.5 * ((x - mu) / std) ** 2) / (std * math.sqrt(2 * math.pi))
    return (normal * w).sum(axis=-1)


def _sample_mixture(
    n: int,
    generator: torch.Generator,
    centres: Tensor,
    std: float,
    weights: Sequence[float] | None,
) -> Tensor:
    """Draw n points: mode index (uniform or by weights), then centre + std * N(0, I)."""
    if not isinstance(n, int) or n < 0:
        raise DataError(f"number of samples must be a non-negative int, got {n!r}.")
    _check_std(std)
    k, dim = centres.shape
    if weights is None:
        modes = torch.randint(0, k, (n,), generator=generator)  # (n,)
    elif n == 0:
        modes = torch.zeros(0, dtype=torch.long)
    else:
        probs = torch.tensor(weights, dtype=torch.float64)
        modes = torch.multinomial(probs, n, replacement=True, generator=generator)  # (n,)
    noise = torch.randn(n, dim, generator=generator)  # (n, dim)
    return centres[modes] + std * noise


def _check_std(std: float) -> None:
    if not std > 0:
        raise DataError(f"std must be positive, got {std!r}.")


def _check_mixture(means: Sequence[float], weights: Sequence[float]) -> None:
    if len(means) == 0 or len(means) != len(weights):
        raise DataError(
            f"means and weights must be non-empty and the same length; got {len(means)} "
            f"means and {len(weights)} weights."
        )
    w = np.asarray(weights, dtype=np.float64)
    if (w < 0).any() or not math.isclose(w.sum(), 1.0, abs_tol=1e-6):
        raise DataError(f"weights must be non-negative and sum to 1, got {tuple(weights)}.")
