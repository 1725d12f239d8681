import pytest
import torch

from genlab.math.kl import kl_normal_std, kl_normal_std_per_dim


def t(values):
    return torch.tensor(values, dtype=torch.float64)


@pytest.mark.parametrize(
    ("mu", "logvar", "expected"),
    [
        # Worked examples; textbooks print 2.754 for the second after rounding each term.
        ([0.8, -0.3], [-0.5, 0.2], 0.4290),
        ([0.5, -1.0, 2.0], [-0.5, 0.0, 0.5], 2.7526),
    ],
)
def test_worked_examples_to_the_printed_digit(mu, logvar, expected):
    kl = kl_normal_std(t(mu), t(logvar)).item()
    assert round(kl, 4) == expected


def test_kl_of_standard_normal_with_itself_is_zero():
    assert kl_normal_std(torch.zeros(5), torch.zeros(5)).item() == 0.0


def test_kl_equals_half_squared_mean_when_variance_is_one():
    mu = t([0.3, -2.0, 1.5])
    assert torch.allclose(kl_normal_std_per_dim(mu, torch.zeros(3, dtype=torch.float64)), 0.5 * mu**2)


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = (
        torch.randn(4, 6, generator=g, dtype=torch.float64),
        torch.randn(4, 6, generator=g, dtype=torch.float64),
    )
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    reference = torch.distributions.kl_divergence(q, p).sum(-1)
    assert torch.allclose(kl_normal_std(mu, logvar), reference, rtol=1e-12)


def test_kl_is_non_negative_and_batched():
    g = torch.Generator().manual_seed(1)
    kl = kl_normal_std(torch.randn(100, 3, generator=g), torch.randn(100, 3, generator=g))
    assert kl.shape == (100,)
    assert (kl >= 0).all()
