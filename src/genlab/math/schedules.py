"""Noise schedules of diffusion models, computed in float64; a named schedule never changes.

Indexing: t = 1..T as in Ho et al. 2020; arrays are 0-based, so ``betas[t - 1]`` is beta_t
and ``alpha_bar[t - 1]`` is alpha-bar_t = prod_{s <= t} (1 - beta_s). For the linear
schedule (1e-4 -> 0.02, T = 1000) the exact products are alpha-bar_500 = 0.0786 and
alpha-bar_1000 = 4.04e-5 (a textbook printing 4.35e-5 rounded along the way).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from genlab.errors import ConfigError


def linear_betas(num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
    """beta_t evenly spaced from beta_start to beta_end (Ho et al. 2020, section 4). Shapes: -> (T,)."""
    return np.linspace(beta_start, beta_end, num_steps, dtype=np.float64)


def cosine_betas(num_steps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """alpha-bar(t) = cos^2(((t/T + s) / (1 + s)) pi/2) (Nichol & Dhariwal 2021, eq. 17), betas clipped at 0.999."""
    f = lambda t: math.cos((t / num_steps + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    betas = [min(1 - f(t + 1) / f(t), max_beta) for t in range(num_steps)]
    return np.array(betas, dtype=np.float64)


def alpha_bar(betas: np.ndarray) -> np.ndarray:
    """alpha-bar_t = prod_{s<=t} (1 - beta_s), float64. Shapes: (T,) -> (T,)."""
    return np.cumprod(1.0 - np.asarray(betas, dtype=np.float64))


def snr(alpha_bars: np.ndarray) -> np.ndarray:
    """Signal-to-noise ratio alpha-bar / (1 - alpha-bar) (Kingma et al. 2021)."""
    return alpha_bars / (1.0 - alpha_bars)


SCHEDULES: dict[str, Callable[[int], np.ndarray]] = {"linear": linear_betas, "cosine": cosine_betas}


def named_betas(name: str, num_steps: int) -> np.ndarray:
    """The betas of a released schedule name; unknown names list the known ones."""
    if name not in SCHEDULES:
        raise ConfigError(f"unknown noise schedule {name!r}; known: {', '.join(SCHEDULES)}")
    if num_steps < 1:
        raise ConfigError(f"the number of diffusion steps must be >= 1, got {num_steps}")
    return SCHEDULES[name](num_steps)
