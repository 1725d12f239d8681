"""The IWAE estimator on a linear-Gaussian latent model, whose log p(x) is known in closed form.

p(z) = N(0, I), p(x | z) = N(W z + b, s^2 I)  =>  p(x) = N(b, W W^T + s^2 I), and the exact
posterior is N(m, S) with S = (I + W^T W / s^2)^-1, m = S W^T (x - b) / s^2 (diagonal here,
since W has orthogonal columns).
"""

import math

import pytest
import torch

from genlab.data import DataInfo
from genlab.eval.nll import (
    batch_sums,
    binarize,
    estimate_nll,
    importance_log_likelihood,
    iwae_bound,
    log_normal_diag,
    log_normal_std,
    nll_result,
    posterior_statistics,
)
from genlab.models.registry import get_family

W = torch.tensor([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]], dtype=torch.float64)
B_ = torch.tensor([0.5, -1.0, 0.25], dtype=torch.float64)
SIGMA = 0.7


def data(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 2, generator=g, dtype=torch.float64)
    return z @ W.T + B_ + SIGMA * torch.randn(n, 3, generator=g, dtype=torch.float64)


def exact_log_px(x):
    cov = W @ W.T + SIGMA**2 * torch.eye(3, dtype=torch.float64)
    return torch.distributions.MultivariateNormal(B_, cov).log_prob(x)


def exact_posterior(x):
    s = torch.linalg.inv(torch.eye(2, dtype=torch.float64) + W.T @ W / SIGMA**2)
    m = (x - B_) @ W @ s.T / SIGMA**2  # (B, 3) -> (B, 2)
    return m, torch.diagonal(s).log().expand_as(m)


def poor_posterior(x):
    m, logvar = exact_posterior(x)
    return m + 0.5, logvar + math.log(2.0)


def log_px_given_z(x, z):  # x (B, 3), z (S, B, 2) -> (S, B)
    mean = z @ W.T + B_
    return -0.5 * (((x - mean) / SIGMA) ** 2 + math.log(2 * math.pi * SIGMA**2)).sum(-1)


def estimate(x, encode, k, seed=0, chunk=500):
    return importance_log_likelihood(
        x, encode, log_px_given_z, k=k, generator=torch.Generator().manual_seed(seed), chunk=chunk
    )


def test_log_densities_match_torch_distributions():
    g = torch.Generator().manual_seed(1)
    z, mu, logvar = (torch.randn(4, 3, generator=g, dtype=torch.float64) for _ in range(3))
    reference = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    assert torch.allclose(log_normal_diag(z, mu, logvar), reference, rtol=1e-12)
    assert torch.allclose(log_normal_std(z), torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1), rtol=1e-12)


@pytest.mark.parametrize("k", [1, 7, 100])
def test_with_the_exact_posterior_every_bound_is_log_p_x(k):
    x = data(20)
    iwae, elbo = estimate(x, exact_posterior, k)
    assert torch.allclose(iwae, exact_log_px(x), atol=1e-9) and torch.allclose(elbo, exact_log_px(x), atol=1e-9)


def test_iwae_grows_with_k_in_expectation_and_reaches_log_p_x():
    x = data(400)
    exact = exact_log_px(x).mean().item()
    means = [estimate(x, poor_posterior, k, seed=k)[0].mean().item() for k in (1, 10, 100, 5000)]
    assert means[0] < means[1] < means[2] < means[3] <= exact + 0.01
    assert exact - means[0] > 0.3  # the poor posterior leaves a real gap at k = 1 ...
    assert exact - means[3] < 0.02  # ... that 5000 samples close


def test_iwae_1_is_the_single_log_weight_and_the_elbo_is_their_mean():
    log_w = torch.tensor([[-3.0, -1.0], [-5.0, -1.5]], dtype=torch.float64)
    assert torch.equal(iwae_bound(log_w[:1]), log_w[0])
    assert torch.allclose(iwae_bound(log_w), torch.log((log_w.exp()).mean(0)), rtol=1e-12)
    x = data(300)
    iwae1, elbo = estimate(x, poor_posterior, 1)
    assert torch.equal(iwae1, elbo)


def test_chunks_accumulate_exactly_and_survive_huge_negative_log_weights():
    x = data(5)
    k, chunk, offset = 10, 3, -1e4
    lp = lambda xx, z: log_px_given_z(xx, z) + offset  # noqa: E731
    iwae, elbo = importance_log_likelihood(
        x, poor_posterior, lp, k=k, generator=torch.Generator().manual_seed(3), chunk=chunk
    )
    # The same draws by hand, chunk by chunk, then one logsumexp over all k weights.
    g = torch.Generator().manual_seed(3)
    mu, logvar = poor_posterior(x)
    log_w = []
    for s in (3, 3, 3, 1):
        z = mu + (0.5 * logvar).exp() * torch.randn((s, *mu.shape), generator=g)
        log_w.append(lp(x, z) + log_normal_std(z) - log_normal_diag(z, mu, logvar))
    log_w = torch.cat(log_w)
    assert torch.allclose(iwae, iwae_bound(log_w), rtol=0, atol=1e-9)
    assert torch.allclose(elbo, log_w.mean(0), rtol=0, atol=1e-9)
    assert torch.isfinite(iwae).all() and (iwae < offset / 2).all()


def test_binarize_is_seeded_and_binary():
    grey = torch.full((2000,), 0.3)
    a, b, c = binarize(grey, 5), binarize(grey, 5), binarize(grey, 6)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert set(a.unique().tolist()) <= {0.0, 1.0} and abs(a.mean().item() - 0.3) < 0.04


def test_posterior_statistics_by_hand():
    # Variances over x of the means: dim 0 -> 0.04 (active), dim 1 -> 0.0025 (inactive).
    mu = torch.tensor([[0.2, 0.05], [-0.2, -0.05]])
    logvar = torch.zeros(2, 2)
    kl, var, active = posterior_statistics(mu, logvar)
    assert active == 1 and var == pytest.approx([0.04, 0.0025])
    assert kl == pytest.approx([0.02, 0.00125])  # KL = mu^2 / 2 when sigma = 1


def test_estimate_nll_on_a_tiny_vae():
    spec = get_family("vae")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        family = spec.family_cls(spec.config_cls(hidden=8, latent_dim=3), DataInfo(1, 28, 28, 10))
    x = binarize(torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0)), 1)
    assert 0.3 < x.mean() < 0.7
    one = estimate_nll(family, x, None, k=1, seed=0, batch_size=4)
    assert one.nll == pytest.approx(one.elbo_nll, abs=1e-9)  # k = 1: IWAE is the ELBO
    many = estimate_nll(family, x, None, k=200, seed=0, batch_size=4, max_rows=50)
    assert many.nll < many.elbo_nll and many.n == 6 and many.dims == 784 and len(many.kl_per_dim) == 3
    assert many.bits_per_dim == pytest.approx(many.nll / (784 * math.log(2)))
    # log p(x | z) of the family is the negative reconstruction NLL the training loss uses
    z = torch.randn(2, 6, 3, generator=torch.Generator().manual_seed(1))
    direct = -family.recon_nll(family.nets["decoder"](z[1]), x)
    assert torch.allclose(family.log_px_given_z(x, z)[1], direct, atol=1e-4)


def test_batches_are_independent_so_the_work_can_be_split_and_resumed():
    spec = get_family("vae")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        family = spec.family_cls(spec.config_cls(hidden=8, latent_dim=3), DataInfo(1, 28, 28, 10))
    x = binarize(torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(0)), 1)
    whole = estimate_nll(family, x, None, k=20, seed=3, batch_size=4)
    parts = {
        b: batch_sums(family, x[4 * b : 4 * b + 4], None, k=20, seed=3, batch_index=b) for b in (2, 0, 1)
    }  # any order
    iwae_sum = parts[0][0] + parts[1][0] + parts[2][0]
    assert nll_result(family, x, None, iwae_sum, 0.0, 20).nll == whole.nll
    assert batch_sums(family, x[:4], None, k=20, seed=3, batch_index=1) != parts[0]  # each batch has its own stream
