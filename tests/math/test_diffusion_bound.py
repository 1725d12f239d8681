"""The variational-bound terms of genlab.math.diffusion_bound against closed forms and torch.distributions."""

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from genlab.math.diffusion import posterior_mean_variance
from genlab.math.diffusion_bound import (
    bits_per_dim,
    decoder_nll,
    discretized_gaussian_log_likelihood,
    gaussian_kl,
    prior_kl,
    reverse_kl,
)
from genlab.math.schedules import alpha_bar, linear_betas

LEVELS = torch.arange(256, dtype=torch.float64) / 127.5 - 1.0  # the 256 grey levels on [-1, 1]


def test_kl_of_identical_gaussians_is_zero():
    m, lv = torch.tensor([-2.0, 0.0, 3.5], dtype=torch.float64), torch.tensor([-3.0, 0.0, 1.2], dtype=torch.float64)
    assert torch.equal(gaussian_kl(m, lv, m, lv), torch.zeros(3, dtype=torch.float64))


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    m1, m2 = torch.randn(50, generator=g, dtype=torch.float64), torch.randn(50, generator=g, dtype=torch.float64)
    lv1, lv2 = (torch.randn(50, generator=g, dtype=torch.float64) * 2 for _ in range(2))
    want = kl_divergence(Normal(m1, (0.5 * lv1).exp()), Normal(m2, (0.5 * lv2).exp()))
    assert torch.allclose(gaussian_kl(m1, lv1, m2, lv2), want, rtol=1e-10, atol=1e-12)
    assert (gaussian_kl(m1, lv1, m2, lv2) > 0).all()


@pytest.mark.parametrize("mean", [-1.3, -1.0, -0.37, 0.0, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("log_scale", [math.log(1e-4), math.log(0.01), 0.0, math.log(3.0)])
def test_discretised_masses_over_the_256_levels_sum_to_one(mean, log_scale):
    ll = discretized_gaussian_log_likelihood(LEVELS, torch.tensor(mean), torch.tensor(log_scale))
    assert torch.isfinite(ll).all() or log_scale < -5  # far from the mean, a tiny scale may leave a level no mass
    assert ll.exp().sum().item() == pytest.approx(1.0, abs=1e-9)


def test_discretised_mass_is_the_gaussian_over_the_bin():
    mean, scale = torch.tensor(0.1, dtype=torch.float64), 0.05
    dist = Normal(mean, scale)
    x = LEVELS[100:160]  # inner levels: the mass of [x - 1/255, x + 1/255]
    want = (dist.cdf(x + 1 / 255) - dist.cdf(x - 1 / 255)).log()
    got = discretized_gaussian_log_likelihood(x, mean, torch.tensor(math.log(scale)))
    assert torch.allclose(got, want, rtol=1e-5)  # the naive difference loses digits in the tail
    edges = discretized_gaussian_log_likelihood(LEVELS[[0, 255]], mean, torch.tensor(math.log(scale)))
    assert edges[0].exp().item() == pytest.approx(dist.cdf(torch.tensor(-1 + 1 / 255)).item(), rel=1e-9)
    assert edges[1].exp().item() == pytest.approx(1 - dist.cdf(torch.tensor(1 - 1 / 255)).item(), rel=1e-9)


def test_discretised_likelihood_stays_finite_in_the_far_tails():
    # a mean 20 scales away on either side: a naive Phi(b) - Phi(a) rounds to 0
    for mean in (0.4, -0.4):
        ll = discretized_gaussian_log_likelihood(LEVELS[128:129], torch.tensor(mean), torch.tensor(math.log(0.02)))
        assert torch.isfinite(ll).all() and ll.item() < -100


def test_bits_per_dim():
    assert bits_per_dim(784 * math.log(2), 784) == pytest.approx(1.0)
    assert bits_per_dim(100.0, 3072) == pytest.approx(100.0 / (3072 * math.log(2)))


def test_prior_kl_matches_torch_distributions():
    ab = torch.from_numpy(alpha_bar(linear_betas(1000)))
    x0 = LEVELS[torch.randint(0, 256, (3, 1, 4, 4), generator=torch.Generator().manual_seed(0))]
    a = ab[-1]
    want = kl_divergence(Normal(a.sqrt() * x0, (1 - a).sqrt()), Normal(0.0, 1.0)).flatten(1).sum(1)
    assert torch.allclose(prior_kl(x0, ab), want, rtol=1e-10)
    assert (prior_kl(x0, ab) > 0).all() and (prior_kl(x0, ab) < 1e-3).all()  # alpha-bar_T = 4e-5: nearly N(0, I)


def _step_data(seed=0):
    betas = torch.from_numpy(linear_betas(50))
    ab = torch.from_numpy(alpha_bar(betas.numpy()))
    g = torch.Generator().manual_seed(seed)
    x0 = LEVELS[torch.randint(0, 256, (4, 1, 3, 3), generator=g)]
    xt = torch.randn(4, 1, 3, 3, generator=g, dtype=torch.float64)
    i = torch.tensor([1, 7, 30, 49])
    return betas, ab, x0, xt, i


def test_reverse_kl_is_zero_for_a_perfect_mean_with_the_posterior_variance():
    betas, ab, x0, xt, i = _step_data()
    assert torch.allclose(reverse_kl(x0, xt, i, x0, betas, ab, "beta_tilde"), torch.zeros(4, dtype=torch.float64))
    # with sigma^2 = beta_t only the variance mismatch remains: D/2 (r - 1 - log r), r = beta-tilde / beta
    _, var = posterior_mean_variance(x0, xt, i, betas, ab)
    r = var.flatten() / betas[i]
    assert torch.allclose(reverse_kl(x0, xt, i, x0, betas, ab), 9 / 2 * (r - 1 - r.log()), rtol=1e-9)


def test_reverse_kl_matches_torch_distributions():
    betas, ab, x0, xt, i = _step_data(1)
    x0_pred = x0 + 0.3 * torch.randn(x0.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    mean, var = posterior_mean_variance(x0, xt, i, betas, ab)
    model_mean, _ = posterior_mean_variance(x0_pred, xt, i, betas, ab)
    sd = betas[i].sqrt().view(-1, 1, 1, 1)
    want = kl_divergence(Normal(mean, var.sqrt()), Normal(model_mean, sd)).flatten(1).sum(1)
    assert torch.allclose(reverse_kl(x0, xt, i, x0_pred, betas, ab), want, rtol=1e-9)


def test_decoder_nll_is_minus_the_discretised_log_likelihood():
    x0 = LEVELS[[0, 3, 128, 255]].view(1, 1, 2, 2)
    pred = x0 + 0.004
    want = -discretized_gaussian_log_likelihood(x0, pred, torch.tensor(0.5 * math.log(1e-4))).sum()
    assert decoder_nll(x0, pred, 1e-4).item() == pytest.approx(want.item())
    # a decoder centred on the level puts Phi(0.39) - Phi(-0.39) on inner levels, Phi(0.39) on the edge ones
    at = decoder_nll(x0, x0, 1e-4).item()
    inner, edge = Normal(0.0, 0.01).cdf(torch.tensor(1 / 255)), Normal(0.0, 0.01).cdf(torch.tensor(1 / 255))
    assert at == pytest.approx(-2 * math.log(2 * inner.item() - 1) - 2 * math.log(edge.item()), rel=1e-6)
