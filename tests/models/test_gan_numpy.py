"""The NumPy GAN: hand-written gradients vs autograd and finite differences, Adam vs torch, the 1-D mixture, the
family."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import kstest, norm, wasserstein_distance
from threadpoolctl import threadpool_limits

from genlab.config import TrainConfig
from genlab.data import DataInfo
from genlab.data.toy import bimodal_1d, bimodal_1d_pdf
from genlab.errors import ConfigError
from genlab.math.gan import VALUE_AT_EQUILIBRIUM, discriminator_loss, generator_loss
from genlab.models import gan_numpy_layers as L
from genlab.models.gan_numpy import NumpyGAN, NumpyGANConfig, fit_samples, gan_step, generate, init_players
from genlab.models.registry import get_family
from genlab.runs import RunConfig
from genlab.runs.loading import load_family
from genlab.training import train

INFO = DataInfo(1, 28, 28, 10)
CFG = NumpyGANConfig(z_dim=3, hidden=16, layers=2)
DATA_DIM = 5
# The 1-D mixture: data / SCALE lies in about [-1, 1], the range of G's tanh output.
SCALE = 4.0
TOY_CFG = NumpyGANConfig(z_dim=4, hidden=64, layers=2, lr=1e-3)
TOY_STEPS = 1500
# A GAN on one mode, or an untrained one, has KS >= 0.43 and W1 >= 1.2 against the mixture (untrained G, seeds
# 0..19: KS 0.43 .. 0.50, W1 1.21 .. 1.66). Trained (TOY_STEPS, data/fit/sample seeds s, s, s+1 for s in 0..19, one
# BLAS thread): KS 0.078 .. 0.158 (median 0.12), W1 0.13 .. 0.41 (median 0.19; 0.41 is seed 9, a run that keeps a
# bridge between the modes, every other seed <= 0.27), so W1_MAX was raised from 0.4 (seed 9 failed it) to 0.6.
KS_MAX, W1_MAX = 0.25, 0.6
GRID = np.linspace(-6.0, 6.0, 4001)


def one_blas_thread():
    """Multi-threaded BLAS on these tiny matrices is ~50x slower on a busy machine."""
    return threadpool_limits(1, user_api="blas")


def perturbed_players(rng):
    players = init_players(CFG, DATA_DIM, rng, np.float64)
    return {
        name: {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in p.items()} for name, p in players.items()
    }  # non-zero biases


def torch_mlp(params, x, output):
    """The same MLP written with torch ops, for autograd. Shapes: (B, d_0) -> (B, d_n)."""
    n = len(params) // 2
    h = x
    for i in range(1, n + 1):
        a = h @ params[f"W{i}"] + params[f"b{i}"]
        h = F.leaky_relu(a, 0.2) if i < n else (torch.tanh(a) if output == "tanh" else a)
    return h


def as_leaves(params):
    return {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}


def finite_difference_check(loss_fn, params, grads, rng, h=1e-5):
    for name, p in params.items():
        assert grads[name].shape == p.shape and grads[name].dtype == np.float64
        for flat in rng.choice(p.size, size=min(4, p.size), replace=False):
            idx = np.unravel_index(flat, p.shape)
            plus, minus = p.copy(), p.copy()
            plus[idx] += h
            minus[idx] -= h
            numeric = (loss_fn({**params, name: plus}) - loss_fn({**params, name: minus})) / (2 * h)
            np.testing.assert_allclose(grads[name][idx], numeric, rtol=1e-6, atol=1e-10, err_msg=f"{name}{idx}")


def test_discriminator_gradients_match_autograd_and_finite_differences():
    rng = np.random.default_rng(0)
    d = perturbed_players(rng)["discriminator"]
    real, fake = rng.uniform(-1, 1, (8, DATA_DIM)), rng.uniform(-1, 1, (6, DATA_DIM))
    loss, grads, real_logits, fake_logits = L.discriminator_loss_and_grads(d, real, fake)

    td = as_leaves(d)
    t_real, t_fake = (
        torch_mlp(td, torch.tensor(real), "linear")[:, 0],
        torch_mlp(td, torch.tensor(fake), "linear")[:, 0],
    )
    torch_loss = discriminator_loss(t_real, t_fake)  # genlab's torch BCE, an independent reference
    torch_loss.backward()
    np.testing.assert_allclose(loss, torch_loss.item(), rtol=1e-12)
    np.testing.assert_allclose(real_logits, t_real.detach().numpy(), rtol=1e-12)
    for name in d:
        np.testing.assert_allclose(grads[name], td[name].grad.numpy(), rtol=1e-6, atol=1e-12, err_msg=name)

    finite_difference_check(lambda p: L.discriminator_loss_and_grads(p, real, fake)[0], d, grads, rng)


def test_generator_gradients_through_the_discriminator_match_autograd_and_finite_differences():
    rng = np.random.default_rng(1)
    players = perturbed_players(rng)
    g, d = players["generator"], players["discriminator"]
    z = rng.standard_normal((8, CFG.z_dim))
    loss, grads = L.generator_loss_and_grads(g, d, z)

    tg, td = as_leaves(g), as_leaves(d)
    logits = torch_mlp(td, torch_mlp(tg, torch.tensor(z), "tanh"), "linear")[:, 0]
    torch_loss = generator_loss(logits, "non-saturating")
    torch_loss.backward()
    np.testing.assert_allclose(loss, torch_loss.item(), rtol=1e-12)
    assert set(grads) == set(g)
    for name in g:
        np.testing.assert_allclose(grads[name], tg[name].grad.numpy(), rtol=1e-6, atol=1e-12, err_msg=name)

    finite_difference_check(lambda p: L.generator_loss_and_grads(p, d, z)[0], g, grads, rng)


def test_losses_stay_finite_where_the_discriminator_saturates():
    logits = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])
    loss_d, d_real, d_fake = L.discriminator_loss(logits, logits)
    loss_g, d_g = L.generator_loss(logits)
    assert math.isfinite(loss_d) and math.isfinite(loss_g)
    assert np.all(np.isfinite(d_real)) and np.all(np.isfinite(d_fake)) and np.all(np.isfinite(d_g))
    np.testing.assert_allclose(L.sigmoid(logits), torch.sigmoid(torch.tensor(logits)).numpy(), rtol=1e-15)
    np.testing.assert_allclose(
        L.softplus(logits), F.softplus(torch.tensor(logits)).numpy(), rtol=1e-12
    )  # torch returns x for x > 20


def test_adam_matches_torch_optim_adam():
    rng = np.random.default_rng(2)
    params = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
    tp = [torch.tensor(params["W"]), torch.tensor(params["b"])]
    opt = torch.optim.Adam(tp, lr=0.01, betas=(0.5, 0.999), eps=1e-8)
    state = L.adam_init(params)
    for _ in range(5):
        grads = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
        params, state = L.adam_step(params, grads, state, lr=0.01)  # beta1 = 0.5 is the default
        for p, grad in zip(tp, grads.values()):
            p.grad = torch.tensor(grad)
        opt.step()
        np.testing.assert_allclose(params["W"], tp[0].numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(params["b"], tp[1].numpy(), rtol=1e-12, atol=1e-15)
    assert state["step"] == 5


def test_a_training_step_keeps_float32():
    rng = np.random.default_rng(3)
    players = init_players(CFG, DATA_DIM, rng)
    adam = {name: L.adam_init(p) for name, p in players.items()}
    real = rng.uniform(-1, 1, (8, DATA_DIM)).astype(np.float32)
    z = rng.standard_normal((8, CFG.z_dim)).astype(np.float32)
    metrics = gan_step(players, adam, real, z, CFG)
    assert set(metrics) == {"loss_d", "loss_g", "d_real", "d_fake"}
    arrays = [a for p in players.values() for a in p.values()] + [
        a for s in adam.values() for a in [*s["m"].values(), *s["v"].values()]
    ]
    assert all(a.dtype == np.float32 for a in arrays)


def mixture_cdf(x):
    return 0.5 * norm.cdf(x, -2.0, 0.5) + 0.5 * norm.cdf(x, 2.0, 0.5)


def distances(samples):
    """(KS statistic, Wasserstein-1) of 1-D samples to the exact mixture (W1 against its pdf on a fine grid)."""
    return kstest(samples, mixture_cdf).statistic, wasserstein_distance(samples, GRID, v_weights=bimodal_1d_pdf(GRID))


@pytest.fixture(scope="module")
def toy():
    data = bimodal_1d(2000, torch.Generator().manual_seed(0)).numpy() / SCALE  # (2000, 1)
    with one_blas_thread():
        players, losses = fit_samples(data, TOY_CFG, steps=TOY_STEPS, seed=0)
        samples = generate(players["generator"], 5000, np.random.default_rng(1))[:, 0].astype(np.float64) * SCALE
    return data, players, losses, samples


@pytest.mark.trains
def test_gan_learns_both_modes_of_the_1d_mixture(toy):
    """The fitted G covers both modes and leaves the gap between them nearly empty.

    Measured over seeds 0..19 as for KS_MAX / W1_MAX (NumPy with one BLAS thread, so the thread setting does not
    enter; the seed here is 0): share below 0 0.47 .. 0.59; mass within 0.5 of 0 as a fraction of a single
    Gaussian's 0.08 .. 0.44 (median 0.10; 0.44 is seed 9, next 0.19: the bound was 0.25, now 0.6); |D's loss + 2 log 2|
    over the last 100 steps 0.004 .. 0.039 (median 0.006; the bound was 0.05, now 0.08).
    """
    _, _, losses, samples = toy
    assert samples.shape == (5000,) and np.all(np.isfinite(losses))
    assert 0.3 < np.mean(samples < 0) < 0.7
    # A single Gaussian of the mixture's std (sqrt(4 + 0.25)) puts ~19% within 0.5 of 0; the mixture ~0.1%.
    single_gaussian_mass = 2 * norm.cdf(0.5 / np.sqrt(4.25)) - 1
    assert np.mean(np.abs(samples) < 0.5) < 0.6 * single_gaussian_mass
    ks, w1 = distances(samples)
    assert ks < KS_MAX and w1 < W1_MAX
    # Near equilibrium D(x) -> 1/2 everywhere, so its BCE -> 2 log 2 = -V(D*, G).
    assert abs(losses[-100:, 0].mean() + VALUE_AT_EQUILIBRIUM) < 0.08


@pytest.mark.trains
def test_untrained_and_collapsed_generators_fail_the_same_thresholds(toy):
    data, _, _, _ = toy
    untrained = init_players(TOY_CFG, 1, np.random.default_rng(0))["generator"]
    samples = generate(untrained, 5000, np.random.default_rng(1))[:, 0].astype(np.float64) * SCALE
    collapsed = np.abs(data[:, 0].astype(np.float64)) * SCALE  # every point moved onto the +2 mode
    for s in (samples, collapsed):
        ks, w1 = distances(s)
        assert ks > KS_MAX and w1 > W1_MAX


def test_fit_samples_is_deterministic_under_the_seed():
    data = bimodal_1d(64, torch.Generator().manual_seed(0)).numpy() / SCALE
    with one_blas_thread():
        (p1, l1), (p2, l2), (p3, _) = (fit_samples(data, CFG, steps=10, batch_size=16, seed=s) for s in (5, 5, 6))
    np.testing.assert_array_equal(l1, l2)
    for name in p1:
        for k in p1[name]:
            np.testing.assert_array_equal(p1[name][k], p2[name][k])
    assert not np.array_equal(p1["generator"]["W1"], p3["generator"]["W1"])


def test_family_weights_are_numpy_arrays_shared_with_torch_parameters():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        family = NumpyGAN(NumpyGANConfig(**get_family("numpy-gan").tiny), INFO)
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    family.train_step(x, None, torch.Generator().manual_seed(0))
    family.load_state_dict(family.state_dict())
    for net in family.nets.values():
        arrays = net.arrays
        for name, p in net.named_parameters():
            assert not p.requires_grad and np.shares_memory(arrays[name], p.detach().numpy())
    assert family.adam["generator"]["step"] == family.adam["discriminator"]["step"] == 1


def test_a_tiny_run_through_the_trainer_checkpoints_and_samples(tmp_path):
    spec = get_family("numpy-gan")
    run = RunConfig(
        "numpy-gan", spec.config_cls(**spec.tiny), TrainConfig(steps=2, batch_size=16, grid_size=4, log_every=1)
    )
    result = train(run, tmp_path / "run", quiet=True)
    assert result.step == 2 and math.isfinite(result.last_metrics["loss_d"])
    assert (tmp_path / "run" / "samples" / "step_00000002.png").is_file()
    family, _, meta = load_family(tmp_path / "run")
    assert meta["step"] == 2
    images = family.sample(6, generator=torch.Generator().manual_seed(0))
    assert images.shape == (6, 1, 28, 28) and images.dtype == torch.float32 and images.abs().max() <= 1


def test_bad_settings_raise_config_error():
    with pytest.raises(ConfigError):
        NumpyGANConfig(layers=0).check()
    with pytest.raises(ConfigError):
        NumpyGANConfig(beta1=1.0).check()
    for bad in (-0.1, 1.0):
        with pytest.raises(ConfigError, match="ema"):
            NumpyGANConfig(ema=bad).check()
    with pytest.raises(ConfigError):
        fit_samples(np.zeros(10), CFG, steps=1)  # (N,) instead of (N, D)
    with pytest.raises(ConfigError):
        L.mlp_forward(
            init_players(CFG, DATA_DIM, np.random.default_rng(0))["discriminator"], np.zeros((2, DATA_DIM + 1))
        )


def test_the_ema_copy_follows_its_recurrence_and_sampling_uses_it(tmp_path):
    """ema_t = d ema_(t-1) + (1 - d) G_t after every step, in its own memory; samples come from it; it is saved."""
    decay = 0.9
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        family = NumpyGAN(NumpyGANConfig(**{**get_family("numpy-gan").tiny, "ema": decay}), INFO)
    g, ema = family.nets["generator"].arrays, family.nets["generator_ema"].arrays
    assert all(np.array_equal(ema[k], g[k]) and not np.shares_memory(ema[k], g[k]) for k in g)
    expected = {k: a.astype(np.float64) for k, a in g.items()}
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        x = torch.rand(8, 1, 28, 28, generator=gen) * 2 - 1
        family.train_step(x, None, gen)
        expected = {k: decay * expected[k] + (1 - decay) * g[k] for k in g}
    for k in g:
        np.testing.assert_allclose(ema[k], expected[k], rtol=1e-5, atol=1e-6)
        assert not np.allclose(ema[k], g[k])  # three steps at decay 0.9 leave the copy behind G
    z = torch.randn(5, family.cfg.z_dim, generator=torch.Generator().manual_seed(1)).numpy()
    drawn = family.sample(5, generator=torch.Generator().manual_seed(1))
    np.testing.assert_array_equal(drawn.numpy().reshape(5, -1), L.mlp_forward(ema, z, "tanh")[0].clip(-1, 1))
    again = NumpyGAN(family.cfg, INFO)
    again.load_state_dict(family.state_dict())
    np.testing.assert_array_equal(again.nets["generator_ema"].arrays["W1"], ema["W1"])
