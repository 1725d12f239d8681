import math

import torch

from genlab.math.likelihoods import bernoulli_nll, gaussian_nll


def test_bernoulli_nll_matches_distribution_log_prob():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 1, 4, 4, generator=g, dtype=torch.float64)
    x = (torch.rand(3, 1, 4, 4, generator=g, dtype=torch.float64) > 0.5).to(torch.float64)
    expected = -torch.distributions.Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(bernoulli_nll(logits, x), expected)


def test_bernoulli_nll_of_half_probability_is_d_log_2():
    x = torch.rand(2, 10, dtype=torch.float64)
    assert torch.allclose(
        bernoulli_nll(torch.zeros(2, 10, dtype=torch.float64), x),
        torch.full((2,), 10 * math.log(2), dtype=torch.float64),
    )


def test_gaussian_nll_matches_distribution_log_prob():
    g = torch.Generator().manual_seed(0)
    mean, x = torch.rand(2, 5, generator=g, dtype=torch.float64), torch.rand(2, 5, generator=g, dtype=torch.float64)
    expected = -torch.distributions.Normal(mean, 0.1).log_prob(x).sum(1)
    assert torch.allclose(gaussian_nll(mean, x, 0.1), expected)
