"""Scores of a detector: ROC AUC, average precision, their bootstrap 95 % intervals, thresholds.

Convention: label 1 = generated ("positive"), 0 = real; a higher score means "more
likely generated". AUC and AP come from scikit-learn; the intervals from
``scipy.stats.bootstrap`` with ``paired=True`` (labels and scores resampled together,
so the class balance varies as it would between test sets) and the percentile method.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import bootstrap
from sklearn.metrics import average_precision_score, roc_auc_score

from genlab.errors import DataError

Metric = Callable[[np.ndarray, np.ndarray], float]
METRICS: dict[str, Metric] = {"auc": roc_auc_score, "ap": average_precision_score}


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap confidence interval."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def check_scores(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels in {0, 1} with both classes present, finite scores of the same length."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    if labels.shape != scores.shape or labels.ndim != 1:
        raise DataError(f"labels and scores must be two vectors of one length, got {labels.shape} and {scores.shape}")
    if not np.isin(labels, (0, 1)).all() or np.unique(labels).size != 2:
        raise DataError("AUC and AP need both real (0) and generated (1) images in the test set")
    if not np.isfinite(scores).all():
        raise DataError("detector scores must be finite")
    return labels.astype(np.int64), scores


def bootstrap_interval(
    labels: np.ndarray,
    scores: np.ndarray,
    metric: str = "auc",
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """``metric`` ("auc" or "ap") of (labels, scores) with a paired percentile bootstrap interval."""
    labels, scores = check_scores(labels, scores)
    fn = METRICS[metric]
    value = float(fn(labels, scores))

    def statistic(y: np.ndarray, s: np.ndarray) -> float:
        # A resample with one class only has no AUC; it is rare for n >= 20 per class, and
        # counting it at the point estimate keeps the interval defined for tiny sets.
        return float(fn(y, s)) if 0 < y.sum() < y.size else value

    result = bootstrap(
        (labels, scores),
        statistic,
        paired=True,
        vectorized=False,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return Interval(value, float(result.confidence_interval.low), float(result.confidence_interval.high))


def threshold_at_fpr(real_scores: np.ndarray, fpr: float = 0.01) -> float:
    """The score above which at most a fraction ``fpr`` of these real images fall (its (1 - fpr) quantile)."""
    real_scores = np.asarray(real_scores, dtype=np.float64)
    if real_scores.size == 0:
        raise DataError("the threshold needs at least one held-out real image")
    return float(np.quantile(real_scores, 1.0 - fpr, method="higher"))


def rate_above(scores: np.ndarray, threshold: float) -> float:
    """Fraction of ``scores`` strictly above ``threshold`` (TPR on fakes, FPR on reals)."""
    return float(np.mean(np.asarray(scores) > threshold))
