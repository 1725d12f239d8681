"""Bayes' rule for a generative classifier, and the scores of its probabilities.

A class-conditional generative model gives log p(x | y) for every class y; Bayes' rule turns it
into the class posterior (Ng & Jordan 2001's generative classifier):

    log P(y | x) = log p(x | y) + log P(y) - logsumexp_y' (log p(x | y') + log P(y')).

The priors P(y) are either the training label frequencies or uniform. A classifier's
probabilities are scored by accuracy, the negative log-likelihood of the true labels, and the
expected calibration error (Naeini et al. 2015; Guo et al. 2017, eq. 3) with M equal-width bins
of the top-class confidence:

    ECE = sum_m |B_m| / n * |acc(B_m) - conf(B_m)|.

Every function is pure and computes in float64.
"""

from __future__ import annotations

import math

import torch

ECE_BINS = 15  # Guo et al. 2017's M


def log_posterior(log_likelihoods: torch.Tensor, log_prior: torch.Tensor) -> torch.Tensor:
    """log P(y | x) from log p(x | y) and log P(y) by Bayes' rule; each row sums to 1 in probability.

    Shapes: log_likelihoods (N, K), log_prior (K,) -> (N, K) float64."""
    if log_likelihoods.ndim != 2 or log_prior.shape != log_likelihoods.shape[1:]:
        raise ValueError(
            f"need (N, K) log-likelihoods and (K,) log-priors, got {tuple(log_likelihoods.shape)} and "
            f"{tuple(log_prior.shape)}"
        )
    joint = log_likelihoods.double() + log_prior.double()  # (N, K): log p(x, y)
    return joint - torch.logsumexp(joint, dim=1, keepdim=True)


def log_prior_from_counts(counts: torch.Tensor) -> torch.Tensor:
    """log P(y) = log (n_y / n), the maximum-likelihood prior of the training labels; a class never seen gets -inf.

    Shapes: counts (K,) -> (K,) float64."""
    counts = counts.double()
    if counts.ndim != 1 or (counts < 0).any() or counts.sum() <= 0:
        raise ValueError("counts must be a 1-D tensor of non-negative numbers with a positive sum")
    return counts.log() - math.log(float(counts.sum()))


def uniform_log_prior(num_classes: int) -> torch.Tensor:
    """log P(y) = -log K for each of K classes. Shapes: -> (K,) float64."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    return torch.full((num_classes,), -math.log(num_classes), dtype=torch.float64)


def accuracy(log_probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of rows whose most probable class is the label. Shapes: (N, K), (N,)."""
    return float((log_probs.argmax(1) == labels).double().mean())


def per_class_accuracy(log_probs: torch.Tensor, labels: torch.Tensor, num_classes: int) -> list[float | None]:
    """Accuracy over the rows of each true class (None for a class with no rows). Shapes: (N, K), (N,)."""
    hit = log_probs.argmax(1) == labels
    out: list[float | None] = []
    for c in range(num_classes):
        rows = labels == c
        out.append(float(hit[rows].double().mean()) if rows.any() else None)
    return out


def label_nll(log_probs: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean -log P(y_true | x) in nats (the cross-entropy of the labels). Shapes: (N, K), (N,)."""
    return float(-log_probs.double().gather(1, labels.long()[:, None]).mean())


def calibration_bins(
    confidence: torch.Tensor, correct: torch.Tensor, bins: int = ECE_BINS
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per bin of the top-class confidence: (count, mean confidence, accuracy), bins (m/M, (m+1)/M], m = 0..M-1.

    A confidence of exactly m/M falls in bin m - 1 (right-closed bins; Guo et al. 2017); empty bins have mean 0.
    Shapes: confidence (N,) in [0, 1], correct (N,) bool -> (M,) float64 each."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    index = (torch.ceil(confidence.double() * bins) - 1).clamp(0, bins - 1).long()  # (N,)
    count = torch.bincount(index, minlength=bins).double()
    conf_sum = torch.bincount(index, weights=confidence.double(), minlength=bins)
    hit_sum = torch.bincount(index, weights=correct.double(), minlength=bins)
    safe = count.clamp(min=1)
    return count, conf_sum / safe, hit_sum / safe


def expected_calibration_error(log_probs: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS) -> float:
    """ECE = sum_m |B_m| / n |acc(B_m) - conf(B_m)| over ``bins`` equal-width bins of the top-class probability.

    Shapes: log_probs (N, K) (log-probabilities), labels (N,)."""
    probs = log_probs.double().exp()
    confidence, predicted = probs.max(1)
    count, conf, acc = calibration_bins(confidence, predicted == labels, bins)
    return float((count * (acc - conf).abs()).sum() / count.sum())
