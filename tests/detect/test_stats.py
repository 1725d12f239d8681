"""AUC/AP against closed forms and the Mann-Whitney U statistic; the bootstrap interval; thresholds."""

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from genlab.detect.stats import bootstrap_interval, rate_above, threshold_at_fpr
from genlab.errors import DataError


def scores_of(n: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], n)
    return labels, rng.normal(size=2 * n) + shift * labels


def test_perfect_reversed_and_tied_rankings():
    labels = np.array([0, 0, 1, 1])
    assert bootstrap_interval(labels, np.array([0.1, 0.2, 0.8, 0.9]), n_resamples=50).value == 1.0
    assert bootstrap_interval(labels, np.array([0.9, 0.8, 0.2, 0.1]), n_resamples=50).value == 0.0
    assert bootstrap_interval(labels, np.zeros(4), n_resamples=50).value == 0.5
    assert bootstrap_interval(labels, np.array([0.1, 0.2, 0.8, 0.9]), "ap", n_resamples=50).value == 1.0


def test_auc_is_the_mann_whitney_u_over_n1_n2():
    labels, scores = scores_of(200, 0.7, seed=3)
    u = mannwhitneyu(scores[labels == 1], scores[labels == 0]).statistic
    assert bootstrap_interval(labels, scores, n_resamples=50).value == pytest.approx(u / 200**2)


@pytest.mark.parametrize("metric", ["auc", "ap"])
def test_interval_contains_the_estimate_and_narrows_with_n(metric):
    widths = []
    for n in (50, 800):
        labels, scores = scores_of(n, 1.0, seed=n)
        ci = bootstrap_interval(labels, scores, metric, n_resamples=200, seed=1)
        assert ci.low <= ci.value <= ci.high
        widths.append(ci.high - ci.low)
    # The width shrinks like 1 / sqrt(n): 16 times the data, about a quarter of the width.
    assert widths[1] < 0.5 * widths[0]


def test_interval_is_seeded():
    labels, scores = scores_of(100, 0.5, seed=0)
    a, b = (bootstrap_interval(labels, scores, n_resamples=100, seed=s) for s in (4, 4))
    c = bootstrap_interval(labels, scores, n_resamples=100, seed=5)
    assert a == b and (a.low, a.high) != (c.low, c.high)


def test_threshold_flags_the_requested_fraction():
    real = np.arange(1000, dtype=np.float64)
    t = threshold_at_fpr(real, 0.01)
    assert round(rate_above(real, t) * real.size) in (9, 10)  # at most 1 %, as close as 1000 scores allow
    assert rate_above(np.array([t - 1, t + 1]), t) == 0.5


def test_one_class_or_bad_scores_are_errors():
    with pytest.raises(DataError, match="both"):
        bootstrap_interval(np.ones(5), np.arange(5.0))
    with pytest.raises(DataError, match="finite"):
        bootstrap_interval(np.array([0, 1]), np.array([0.0, np.nan]))
    with pytest.raises(DataError):
        threshold_at_fpr(np.array([]))
