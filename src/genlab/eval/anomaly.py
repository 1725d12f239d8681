"""Anomaly scores from a VAE: how badly does a model trained without one class explain an image?

Two scores per image, both in nats, higher = more anomalous:

- ``nelbo``: the negative ELBO, -E_q[log p(x | z)] + KL(q(z | x) || N(0, I)), with the
  expectation estimated from k posterior samples and the KL in closed form (the
  training objective of ``genlab.models.vae``; for k = 1 it is exactly ``recon + kl`` of
  ``VAEFamily.losses`` under the same generator).
- ``recon``: the reconstruction error alone, -log p(x | z) at z = the posterior mean
  E_q[z | x] (deterministic, no sampling).

The model needs the two hooks ``genlab.eval.nll`` uses: ``encode(x, labels)`` and
``log_px_given_z(x, z, labels)``. Detection quality is the AUROC and average precision of
a score for "is the held-out class" (positive) against the rest (sklearn.metrics).
Likelihood-based scores are known to rank simple images as *more* likely even when they
come from outside the training data (Nalisnick et al. 2019), so an AUROC < 0.5 is possible.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from genlab.errors import ConfigError
from genlab.math.kl import kl_normal_std_per_dim

SCORES = ("nelbo", "recon")  # the score names, in the order every table prints them


@torch.inference_mode()
def anomaly_scores(family, x: torch.Tensor, *, k: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Per-image ``nelbo`` (k-sample) and ``recon`` (at the posterior mean) of one batch, float64.

    The k latent samples come from ``generator`` as one (k, B, Z) normal draw, so k = 1 draws
    the same numbers as ``VAEFamily.losses``. Shapes: x (B, C, H, W) in [0, 1] -> {name: (B,)}.
    """
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    mu, logvar = family.encode(x, None)  # (B, Z) each
    # 1. -E_q[log p(x | z)] from k reparameterised samples z = mu + sigma * eps: (K, B, Z) -> (B,).
    eps = torch.randn((k, *mu.shape), generator=generator)
    z = mu + (0.5 * logvar).exp() * eps
    expected_nll = -family.log_px_given_z(x, z, None).double().mean(0)
    # 2. KL(q(z | x) || N(0, I)) in closed form: (B, Z) -> (B,).
    kl = kl_normal_std_per_dim(mu, logvar).double().sum(1)
    # 3. Reconstruction error at the posterior mean: (1, B, Z) -> (B,).
    recon = -family.log_px_given_z(x, mu[None], None).double()[0]
    return {"nelbo": expected_nll + kl, "recon": recon}


def score_images(family, images: torch.Tensor, *, k: int, seed: int, batch_size: int = 500) -> dict[str, np.ndarray]:
    """:func:`anomaly_scores` of every image, in batches, from one generator seeded with ``seed``.

    Shapes: images (N, C, H, W) in [0, 1] -> {name: float64 (N,)}.
    """
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    parts: dict[str, list[torch.Tensor]] = {name: [] for name in SCORES}
    for start in range(0, images.shape[0], batch_size):
        batch = anomaly_scores(family, images[start : start + batch_size], k=k, generator=generator)
        for name in SCORES:
            parts[name].append(batch[name])
    return {name: torch.cat(parts[name]).numpy() for name in SCORES}


@dataclass(frozen=True)
class Detection:
    """How well one score separates the held-out class (positives) from the rest."""

    auroc: float  # P(score of a random positive > score of a random negative); 0.5 = chance
    average_precision: float  # area under the precision-recall curve; chance = the positive share
    positive_share: float  # positives / all images


def detection(scores: np.ndarray, labels: np.ndarray, positive: Iterable[int]) -> Detection:
    """AUROC and AP of ``scores`` for "label in ``positive``". Shapes: scores, labels (N,)."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    if scores.shape != labels.shape or scores.ndim != 1:
        raise ConfigError(
            f"scores and labels must be two arrays of N values, got shapes {scores.shape} and {labels.shape}"
        )
    is_positive = np.isin(labels, list(positive))
    if is_positive.all() or not is_positive.any():
        raise ConfigError(
            f"AUROC needs both held-out ({sorted(positive)}) and other images among the {len(labels)} scored"
        )
    return Detection(
        float(roc_auc_score(is_positive, scores)),
        float(average_precision_score(is_positive, scores)),
        float(is_positive.mean()),
    )


def class_means(scores: np.ndarray, labels: np.ndarray) -> dict[int, tuple[int, float]]:
    """Per class: (number of images, mean score). Shapes: scores, labels (N,)."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    return {int(c): (int((labels == c).sum()), float(scores[labels == c].mean())) for c in np.unique(labels)}


def model_input(family, images: np.ndarray, binarize_seed: int) -> tuple[torch.Tensor, bool]:
    """uint8 images as the run was trained on them: [0, 1], binarised once with ``binarize_seed``
    when the run used ``binarize=dynamic``. Returns (x, whether it was binarised).
    Shapes: (N, C, H, W) uint8 -> (N, C, H, W) float32."""
    from genlab.eval.nll import as_unit_interval, binarize

    expected = (family.info.channels, family.info.height, family.info.width)
    if tuple(images.shape[1:]) != expected:
        raise ConfigError(
            f"the run models {'x'.join(map(str, expected))} images (C x H x W), got "
            f"{'x'.join(map(str, images.shape[1:]))}"
        )
    x = as_unit_interval(images)
    dynamic = family.cfg.binarize == "dynamic"  # every VAE config has it (VAEOptions)
    return (binarize(x, binarize_seed) if dynamic else x), dynamic
