"""Mode coverage on 2-D Gaussian mixtures, with the definitions of VEEGAN and PacGAN.

VEEGAN (Srivastava et al. 2017, section 5.1) and PacGAN (Lin et al. 2018, section 5.1)
score 2 500 generated points against the K mixture components (ring of 8: std 0.02;
grid of 25: std 0.05):

- a sample is *high quality* when its Euclidean distance to the nearest mode centre is
  at most 3 standard deviations of the mixture components;
- each high-quality sample is registered to that nearest mode; a mode is *covered* when
  at least one high-quality sample is registered to it (``modes``), and - PacGAN's
  stricter count - when at least ``min_count`` are (``modes_20``: 20, a fifth of the 100
  samples per mode expected from 2 500 points on 25 modes);
- *reverse KL* is KL(p_gen || p_data) between the histogram of registered high-quality
  samples over the K modes and the uniform histogram of the data, sum_k p_k log(K p_k)
  (0 when the modes are hit equally; log K when one mode takes everything).
"""

from __future__ import annotations

import math

import numpy as np


def mode_coverage(
    samples: np.ndarray, centres: np.ndarray, std: float, *, min_count: int = 20
) -> dict[str, float | list[int]]:
    """Score ``samples`` (N, 2) against ``centres`` (K, 2) with component ``std``.

    Returns: high_quality (fraction in [0, 1]), modes (covered by >= 1 high-quality
    sample), modes_20 (covered by >= ``min_count``), reverse_kl (nats; inf when no sample
    is high quality) and histogram (high-quality samples per mode, length K).
    """
    samples = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    centres = np.asarray(centres, dtype=np.float64)
    if samples.shape[1] != centres.shape[1]:
        raise ValueError(f"samples have dimension {samples.shape[1]}, centres {centres.shape[1]}")
    k = centres.shape[0]
    dist = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=2)  # (N, K)
    nearest = dist.argmin(axis=1)
    good = dist[np.arange(len(samples)), nearest] <= 3.0 * std
    hist = np.bincount(nearest[good], minlength=k)
    return {
        "high_quality": float(good.mean()) if len(samples) else 0.0,
        "modes": int((hist >= 1).sum()),
        "modes_20": int((hist >= min_count).sum()),
        "reverse_kl": reverse_kl_to_uniform(hist),
        "histogram": hist.tolist(),
    }


def reverse_kl_to_uniform(histogram: np.ndarray) -> float:
    """KL(p || uniform) = sum_k p_k log(K p_k) for the normalised ``histogram``; inf if empty."""
    h = np.asarray(histogram, dtype=np.float64)
    total = h.sum()
    if total == 0:
        return math.inf
    p = h[h > 0] / total
    return float(np.sum(p * np.log(len(h) * p)))
