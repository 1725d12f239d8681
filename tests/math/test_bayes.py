"""Bayes' rule and calibration (genlab.math.bayes) against hand-computed cases."""

import math

import pytest
import torch

from genlab.math.bayes import (
    accuracy,
    calibration_bins,
    expected_calibration_error,
    label_nll,
    log_posterior,
    log_prior_from_counts,
    per_class_accuracy,
    uniform_log_prior,
)


def logs(rows):
    return torch.tensor(rows, dtype=torch.float64).log()


def test_posterior_is_likelihood_times_prior_normalised():
    # p(x | y) = (0.2, 0.6), P(y) = (0.5, 0.5) -> P(y | x) = (0.25, 0.75)
    post = log_posterior(logs([[0.2, 0.6]]), uniform_log_prior(2))
    assert torch.allclose(post.exp(), torch.tensor([[0.25, 0.75]], dtype=torch.float64))
    # equal likelihoods: the posterior is the prior
    post = log_posterior(logs([[0.3, 0.3, 0.3]]), logs([0.1, 0.2, 0.7]))
    assert torch.allclose(post.exp(), torch.tensor([[0.1, 0.2, 0.7]], dtype=torch.float64))
    # p(x|y) P(y) = (0.2 * 0.8, 0.6 * 0.2) = (0.16, 0.12) -> (4/7, 3/7)
    post = log_posterior(logs([[0.2, 0.6]]), logs([0.8, 0.2]))
    assert torch.allclose(post.exp(), torch.tensor([[4 / 7, 3 / 7]], dtype=torch.float64))


def test_posterior_is_stable_for_huge_log_likelihoods_and_shift_invariant():
    ll = torch.tensor([[-1e5, -1e5 + math.log(3.0)], [-20.0, -30.0]], dtype=torch.float64)
    post = log_posterior(ll, uniform_log_prior(2)).exp()
    assert torch.allclose(post[0], torch.tensor([0.25, 0.75], dtype=torch.float64))
    assert torch.allclose(post.sum(1), torch.ones(2, dtype=torch.float64))
    assert torch.allclose(log_posterior(ll + 123.0, uniform_log_prior(2)), log_posterior(ll, uniform_log_prior(2)))


def test_posterior_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        log_posterior(torch.zeros(3, 4), uniform_log_prior(3))


def test_priors_from_counts_and_uniform():
    assert torch.allclose(log_prior_from_counts(torch.tensor([1, 3])).exp(), torch.tensor([0.25, 0.75]).double())
    assert log_prior_from_counts(torch.tensor([0, 2]))[0] == -math.inf
    assert torch.allclose(uniform_log_prior(4), torch.full((4,), -math.log(4), dtype=torch.float64))
    for bad in (torch.tensor([0, 0]), torch.tensor([-1, 3])):
        with pytest.raises(ValueError):
            log_prior_from_counts(bad)
    with pytest.raises(ValueError):
        uniform_log_prior(0)


def test_accuracy_nll_and_per_class_accuracy():
    log_probs = logs([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3]])
    labels = torch.tensor([0, 0, 0])
    assert accuracy(log_probs, labels) == pytest.approx(2 / 3)
    assert label_nll(log_probs, labels) == pytest.approx(-(math.log(0.9) + math.log(0.4) + math.log(0.7)) / 3)
    assert per_class_accuracy(log_probs, labels, 2) == [pytest.approx(2 / 3), None]


def test_ece_hand_computed():
    # confidences 0.85, 0.85 (one right) and 0.65, 0.65 (both right), 10 bins:
    # bin (0.8, 0.9]: |0.5 - 0.85| * 2/4; bin (0.6, 0.7]: |1 - 0.65| * 2/4 -> 0.175 + 0.175 = 0.35
    log_probs = logs([[0.85, 0.15], [0.85, 0.15], [0.35, 0.65], [0.35, 0.65]])
    labels = torch.tensor([0, 1, 1, 1])
    assert expected_calibration_error(log_probs, labels, bins=10) == pytest.approx(0.35)
    # one bin: |accuracy - mean confidence| = |0.75 - 0.75| = 0
    assert expected_calibration_error(log_probs, labels, bins=1) == pytest.approx(0.0, abs=1e-12)


def test_ece_is_zero_when_calibrated_and_large_when_overconfident():
    # 4 images at confidence 0.75, 3 right: perfectly calibrated
    log_probs = logs([[0.75, 0.25]] * 4)
    assert expected_calibration_error(log_probs, torch.tensor([0, 0, 0, 1])) == pytest.approx(0.0, abs=1e-12)
    # confidence 0.99, half right: ECE = 0.49
    log_probs = logs([[0.99, 0.01]] * 4)
    assert expected_calibration_error(log_probs, torch.tensor([0, 0, 1, 1])) == pytest.approx(0.49)


def test_calibration_bins_are_right_closed():
    count, conf, acc = calibration_bins(torch.tensor([0.5, 1.0, 0.25]).double(), torch.tensor([True, False, True]), 4)
    # 0.25 -> (0, 0.25], 0.5 -> (0.25, 0.5], 1.0 -> (0.75, 1]
    assert count.tolist() == [1, 1, 0, 1] and acc.tolist() == [1, 1, 0, 0]
    assert conf.tolist() == [0.25, 0.5, 0.0, 1.0]
    with pytest.raises(ValueError):
        calibration_bins(torch.tensor([0.5]), torch.tensor([True]), 0)
