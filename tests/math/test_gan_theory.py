"""Goodfellow et al. 2014: D*(x) = p_data / (p_data + p_g) and V(D*, G) = -2 log 2 + 2 JSD."""

import math

import numpy as np
import pytest
import torch

from genlab.data import bimodal_1d, bimodal_1d_pdf
from genlab.math.gan import (
    VALUE_AT_EQUILIBRIUM,
    discriminator_loss,
    gan_value,
    generator_loss,
    jensen_shannon,
    optimal_discriminator,
)

X = np.linspace(-8, 8, 40_001)
P_DATA = bimodal_1d_pdf(X)


def test_value_at_equilibrium_is_minus_two_log_two_to_the_printed_digit():
    d_star = optimal_discriminator(P_DATA, P_DATA)
    assert np.allclose(d_star, 0.5)
    value = gan_value(d_star, P_DATA, P_DATA, X)
    assert round(value, 3) == -1.386
    assert value == pytest.approx(-2 * math.log(2), abs=1e-9)
    assert VALUE_AT_EQUILIBRIUM == pytest.approx(-1.3862944, abs=1e-7)


@pytest.mark.parametrize("shift", [0.5, 1.0, 3.0])
def test_value_of_optimal_discriminator_is_minus_two_log_two_plus_two_jsd(shift):
    p_g = bimodal_1d_pdf(X, means=(-2.0 + shift, 2.0 + shift))
    d_star = optimal_discriminator(P_DATA, p_g)
    value = gan_value(d_star, P_DATA, p_g, X)
    jsd = jensen_shannon(P_DATA, p_g, X)
    assert value == pytest.approx(-2 * math.log(2) + 2 * jsd, abs=1e-6)
    assert 0 < jsd <= math.log(2) + 1e-9
    assert value > VALUE_AT_EQUILIBRIUM  # the generator's minimum is only at p_g = p_data


def test_optimal_discriminator_beats_any_other_discriminator():
    p_g = bimodal_1d_pdf(X, means=(-1.0, 3.0), std=0.8)
    best = gan_value(optimal_discriminator(P_DATA, p_g), P_DATA, p_g, X)
    rng = np.random.default_rng(0)
    for _ in range(20):
        other = 1 / (1 + np.exp(-(rng.normal() * X + rng.normal())))
        assert gan_value(other, P_DATA, p_g, X) < best


def test_monte_carlo_value_on_samples_of_the_1d_mixture():
    g = torch.Generator().manual_seed(0)
    real = bimodal_1d(200_000, g).squeeze(1).numpy().astype(np.float64)
    shifted = dict(means=(-1.0, 3.0))
    fake = bimodal_1d(200_000, g, **shifted).squeeze(1).numpy().astype(np.float64)

    def d_star(x):
        return optimal_discriminator(bimodal_1d_pdf(x), bimodal_1d_pdf(x, **shifted))

    monte_carlo = np.mean(np.log(d_star(real))) + np.mean(np.log1p(-d_star(fake)))
    exact = gan_value(d_star(X), P_DATA, bimodal_1d_pdf(X, **shifted), X)
    assert monte_carlo == pytest.approx(exact, abs=0.01)


def test_losses_on_logits():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-1.0, 0.3])
    d = torch.sigmoid
    expected_d = -(torch.log(d(real)).mean() + torch.log(1 - d(fake)).mean())
    assert torch.allclose(discriminator_loss(real, fake), expected_d)
    assert torch.allclose(generator_loss(fake, "non-saturating"), -torch.log(d(fake)).mean())
    assert torch.allclose(generator_loss(fake, "minimax"), torch.log(1 - d(fake)).mean())


def test_minimax_generator_loss_saturates_where_non_saturating_does_not():
    # Early in training D rejects fakes confidently (logit -8): the minimax gradient vanishes.
    grads = {}
    for kind in ("minimax", "non-saturating"):
        logit = torch.tensor([-8.0], requires_grad=True)
        generator_loss(logit, kind).backward()
        grads[kind] = abs(logit.grad.item())
    assert grads["minimax"] < 1e-3
    assert grads["non-saturating"] > 0.99
