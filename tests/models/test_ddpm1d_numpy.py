"""The NumPy 1-D DDPM: hand-written gradients vs finite differences and autograd, training, samples."""

import numpy as np
import pytest
import torch
from scipy.stats import ks_2samp, norm
from threadpoolctl import threadpool_limits

from genlab.data.toy import bimodal_1d
from genlab.errors import ConfigError
from genlab.math.schedules import alpha_bar
from genlab.models import ddpm1d_numpy as m


def one_blas_thread():
    """Multi-threaded BLAS on these tiny matrices is ~50x slower on a busy machine."""
    return threadpool_limits(1, user_api="blas")


def batch(rng, size=8):
    x_t = rng.standard_normal(size) * 2  # (B,)
    t = rng.integers(1, m.NUM_STEPS + 1, size=size)  # (B,)
    eps = rng.standard_normal(size)  # (B,)
    return x_t, t, eps


def perturbed_params(rng):
    params = m.init_params(rng, hidden=16)
    return {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in params.items()}  # non-zero biases too


def test_gradients_match_central_finite_differences():
    rng = np.random.default_rng(0)
    params, (x_t, t, eps) = perturbed_params(rng), batch(rng)
    _, grads = m.loss_and_grads(params, x_t, t, eps)
    h = 1e-5
    for name, p in params.items():
        assert grads[name].shape == p.shape
        for flat in rng.choice(p.size, size=min(5, p.size), replace=False):
            idx = np.unravel_index(flat, p.shape)
            plus = {**params, name: p.copy()}
            minus = {**params, name: p.copy()}
            plus[name][idx] += h
            minus[name][idx] -= h
            numeric = (m.loss_and_grads(plus, x_t, t, eps)[0] - m.loss_and_grads(minus, x_t, t, eps)[0]) / (2 * h)
            np.testing.assert_allclose(grads[name][idx], numeric, rtol=1e-6, atol=1e-10, err_msg=f"{name}{idx}")


def test_gradients_match_torch_autograd():
    rng = np.random.default_rng(1)
    params, (x_t, t, eps) = perturbed_params(rng), batch(rng, size=32)
    loss, grads = m.loss_and_grads(params, x_t, t, eps)

    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    inputs = torch.tensor(np.concatenate([x_t[:, None], m.time_features(t)], axis=1))  # (B, IN_DIM)
    h1 = torch.tanh(inputs @ tp["W1"] + tp["b1"])
    h2 = torch.tanh(h1 @ tp["W2"] + tp["b2"])
    eps_hat = (h2 @ tp["W3"] + tp["b3"])[:, 0]
    torch_loss = ((eps_hat - torch.tensor(eps)) ** 2).mean()
    torch_loss.backward()

    np.testing.assert_allclose(loss, torch_loss.item(), rtol=1e-12)
    for name in m.PARAM_NAMES:
        np.testing.assert_allclose(grads[name], tp[name].grad.numpy(), rtol=1e-8, atol=1e-14, err_msg=name)


def test_schedule_ends_near_pure_noise():
    abar = alpha_bar(m.default_betas())
    assert abar.shape == (100,) and abar[-1] < 1e-3


@pytest.fixture(scope="module")
def trained():
    with one_blas_thread():
        params, losses = m.train(n_steps=3000, batch_size=256, lr=3e-3, seed=0)
        samples = m.sample(params, 2000, np.random.default_rng(1))
    return params, losses, samples


@pytest.mark.trains
def test_training_reduces_the_loss(trained):
    """Mean loss of the last tenth of the steps / the first tenth, over seeds 0..19 (NumPy, one BLAS thread, so
    the thread setting does not enter; the seed here is 0: 0.80): min 0.70, median 0.77, max 0.81, so the old
    bound 0.85 sat close to the worst seed; it is 0.9. Frozen (lr 1e-12), seeds 0..2: 0.997 .. 1.003."""
    _, losses, _ = trained
    assert np.all(np.isfinite(losses))
    tenth = len(losses) // 10
    assert losses[-tenth:].mean() < 0.9 * losses[:tenth].mean()


@pytest.mark.trains
def test_samples_reproduce_both_modes(trained):
    """Over seeds 0..19 (training s, sampling s + 1, reference s + 7): KS p-value 0.045 .. 0.82 (bound 1e-3);
    share below 0 0.47 .. 0.52 (bounds 0.35, 0.65); mass within 0.5 of 0 as a fraction of a single Gaussian's
    0.02 .. 0.09 (bound 0.25)."""
    _, _, samples = trained
    assert samples.shape == (2000,)
    reference = bimodal_1d(2000, torch.Generator().manual_seed(7)).numpy()[:, 0].astype(np.float64)
    assert ks_2samp(samples, reference).pvalue > 1e-3
    assert 0.35 < np.mean(samples < 0) < 0.65
    # A single Gaussian of the mixture's std (sqrt(4 + 0.25) = 2.06) puts ~19% within 0.5 of 0;
    # the mixture puts ~0.1% there.
    single_gaussian_mass = 2 * norm.cdf(0.5 / np.sqrt(4.25)) - 1  # 0.19
    assert np.mean(np.abs(samples) < 0.5) < 0.25 * single_gaussian_mass


def test_same_seed_same_params_and_samples():
    with one_blas_thread():
        (p1, l1), (p2, l2) = m.train(n_steps=20, seed=3), m.train(n_steps=20, seed=3)
        p3, _ = m.train(n_steps=20, seed=4)
        s1 = m.sample(p1, 50, np.random.default_rng(5))
        s2 = m.sample(p2, 50, np.random.default_rng(5))
    np.testing.assert_array_equal(l1, l2)
    for name in m.PARAM_NAMES:
        np.testing.assert_array_equal(p1[name], p2[name])
    assert not np.array_equal(p1["W1"], p3["W1"])
    np.testing.assert_array_equal(s1, s2)


def test_bad_arguments_raise_config_error():
    with pytest.raises(ConfigError):
        m.train(n_steps=0)
    with pytest.raises(ConfigError):
        m.train(n_steps=1, betas=np.full(10, 0.1))
    with pytest.raises(ConfigError):
        m.sample({"W1": np.zeros((m.IN_DIM, 4))}, 3, np.random.default_rng(0))
