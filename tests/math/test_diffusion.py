import pytest
import torch

from genlab.data import load_dataset
from genlab.math.diffusion import eps_from_v, eps_from_x0, posterior_mean_variance, q_sample, v_target, x0_from_eps
from genlab.math.schedules import alpha_bar, linear_betas

BETAS = torch.from_numpy(linear_betas())
AB = torch.from_numpy(alpha_bar(linear_betas()))


def test_x_T_is_indistinguishable_from_standard_normal():
    images = torch.tensor(load_dataset("mnist", "test")[0][:2000], dtype=torch.float64) / 127.5 - 1
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    xT = q_sample(images, torch.full((2000,), 999), noise, AB)
    # sqrt(alpha-bar_T) = 0.0064, so the data shifts the mean by < 0.007 and the variance by < 1e-4.
    assert abs(xT.mean().item()) < 0.01 and abs(xT.var().item() - 1) < 0.01


def test_posterior_matches_bayes_rule_in_one_dimension():
    x0, xt = torch.tensor([[0.3]], dtype=torch.float64), torch.tensor([[-0.7]], dtype=torch.float64)
    for t in (2, 10, 500, 1000):
        i = torch.tensor([t - 1])
        mean, var = posterior_mean_variance(x0, xt, i, BETAS, AB)
        # q(x_{t-1} | x0) = N(sqrt(ab_{t-1}) x0, 1 - ab_{t-1}); q(x_t | x_{t-1}) = N(sqrt(1 - b_t) x_{t-1}, b_t).
        ab_prev, b = AB[t - 2].item(), BETAS[t - 1].item()
        precision = 1 / (1 - ab_prev) + (1 - b) / b
        expected_mean = (ab_prev**0.5 * 0.3 / (1 - ab_prev) + (1 - b) ** 0.5 * -0.7 / b) / precision
        assert var.item() == pytest.approx(1 / precision, rel=1e-9)
        assert mean.item() == pytest.approx(expected_mean, rel=1e-9)


def test_predictions_convert_into_each_other():
    g = torch.Generator().manual_seed(0)
    x0, eps = (
        torch.randn(4, 1, 5, 5, generator=g, dtype=torch.float64),
        torch.randn(4, 1, 5, 5, generator=g, dtype=torch.float64),
    )
    i = torch.tensor([0, 10, 500, 999])
    xt = q_sample(x0, i, eps, AB)
    assert torch.allclose(x0_from_eps(xt, i, eps, AB), x0, atol=1e-6)
    assert torch.allclose(eps_from_x0(xt, i, x0, AB), eps, atol=1e-9)
    assert torch.allclose(eps_from_v(xt, i, v_target(x0, i, eps, AB), AB), eps, atol=1e-9)
