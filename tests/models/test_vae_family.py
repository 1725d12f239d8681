"""The VAE family's own options at tiny size: KL schedules, free bits, binarisation, conv and conditional nets."""

import pytest
import torch

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.models import vae as vae_module
from genlab.models.registry import get_family
from genlab.models.vae import active_units
from genlab.models.vae_conv import conv_levels
from genlab.runs.checkpoint import load_checkpoint, save_checkpoint

MNIST = DataInfo(1, 28, 28, 10)
SHAPES = DataInfo(3, 64, 64, 4)  # the 64x64 RGB procedural set's layout
VAES = ["vae", "conv-vae", "cvae"]


def build(name, info=MNIST, seed=0, **overrides):
    spec = get_family(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return spec.family_cls(spec.config_cls(**{**spec.tiny, **overrides}), info)


def batch(info=MNIST, n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, info.channels, info.height, info.width, generator=g), torch.randint(
        0, info.num_classes, (n,), generator=g
    )


def steps(family, k, seed=0):
    x, y = batch(family.info)
    g = torch.Generator().manual_seed(seed)
    return [family.train_step(x, y, g) for _ in range(k)]


@pytest.mark.parametrize(("size", "levels"), [((28, 28), 2), ((64, 64), 4), ((32, 32), 3), ((7, 7), 0), ((28, 64), 2)])
def test_conv_levels_follow_the_image_size(size, levels):
    assert conv_levels(*size) == levels


@pytest.mark.parametrize("info", [MNIST, SHAPES], ids=["28x28x1", "64x64x3"])
@pytest.mark.parametrize("name", ["conv-vae", "cvae"])
def test_conv_nets_fit_both_image_sizes(name, info):
    family = build(name, info, arch="conv") if name == "cvae" else build(name, info)
    x, y = batch(info)
    mu, logvar = family.encode(x, y)
    assert mu.shape == logvar.shape == (6, 2)
    assert family.nets["decoder"](mu, family.one_hot(y, 6)).shape == x.shape
    metrics = steps(family, 1)[0]
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())
    s = family.sample(3, labels=y[:3] if family.conditional else None, generator=torch.Generator().manual_seed(0))
    assert s.shape == (3, *family.image_shape) and s.min() >= -1 and s.max() <= 1


def test_hidden_layers_deepen_the_mlp():
    family = build("vae", hidden_layers=3)
    linears = [m for net in family.nets.values() for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == (3 + 2) + (3 + 1)  # encoder: 3 hidden + mu, logvar; decoder: 3 hidden + output


@pytest.mark.parametrize("name", VAES)
def test_linear_annealing_follows_the_step_counter(name):
    family = build(name, kl_anneal="linear", kl_warmup_steps=4, beta=2.0)
    assert [m["kl_weight"] for m in steps(family, 6)] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]
    assert family.step == 6 and family.state_dict()["step"] == 6


def test_cyclical_annealing_restarts_each_cycle():
    family = build("vae", kl_anneal="cyclical", kl_warmup_steps=8, kl_cycles=2, kl_cycle_ratio=0.5)
    assert [m["kl_weight"] for m in steps(family, 10)] == [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0, 1.0, 1.0]


def test_free_bits_raise_the_kl_term_of_the_loss():
    plain, free = build("vae"), build("vae", free_bits=5.0)
    mp, mf = steps(plain, 1)[0], steps(free, 1)[0]
    assert mp["recon"] == mf["recon"] and mp["kl"] == mf["kl"]  # same nets, same draws
    assert mp["kl"] < 2 * 5.0 and mf["loss"] == pytest.approx(
        mf["recon"] + 2 * 5.0, rel=1e-6
    )  # 2 dims floored at 5 nats
    assert mp["loss"] == pytest.approx(mp["recon"] + mp["kl"], rel=1e-6)


def test_dynamic_binarisation_draws_from_the_training_generator():
    family = build("vae", binarize="dynamic")
    x, _ = batch()
    seen = []
    family.losses = lambda images, labels, generator: (
        seen.append(images) or type(family).losses(family, images, labels, generator)
    )
    g = torch.Generator().manual_seed(1)  # not batch()'s seed: the same uniforms would give u < u, all zeros
    family.train_step(x, None, g)
    family.train_step(x, None, g)
    assert set(seen[0].unique().tolist()) == {0.0, 1.0} and not torch.equal(seen[0], seen[1])
    assert torch.equal(seen[0], torch.bernoulli(x, generator=torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("name", VAES)
def test_resume_is_bit_exact_with_annealing(name, tmp_path):
    opts = dict(kl_anneal="cyclical", kl_warmup_steps=6, kl_cycles=2, binarize="dynamic", free_bits=0.1)
    straight = build(name, **opts)
    x, y = batch()
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        straight.train_step(x, y, g)
    save_checkpoint(tmp_path / "ckpt", {"family": straight.state_dict(), "g": g.get_state()}, {})
    expected = [straight.train_step(x, y, g) for _ in range(3)]
    state, _ = load_checkpoint(tmp_path / "ckpt.json")
    resumed = build(name, seed=5, **opts)
    resumed.load_state_dict(state["family"])
    g2 = torch.Generator()
    g2.set_state(state["g"])
    assert resumed.step == 3 and [resumed.train_step(x, y, g2) for _ in range(3)] == expected


def test_a_checkpoint_from_before_the_step_counter_still_loads():
    family = build("vae")
    state = family.state_dict()
    del state["step"]
    restored = build("vae", seed=1)
    restored.load_state_dict(state, weights_only=True)
    assert restored.step == 0


@pytest.mark.parametrize("name", VAES)
def test_evaluate_reports_kl_per_dimension_and_active_units(name):
    family = build(name, latent_dim=3, binarize="dynamic")
    x, y = batch(n=20)
    sums = family.evaluate(x, y)
    assert sums == family.evaluate(x, y)  # fixed binarisation and sampling seeds
    assert sums["nelbo"] == pytest.approx(sums["recon"] + sums["kl"])
    assert sum(sums[f"kl_dim_{j:02d}"] for j in range(3)) == pytest.approx(sums["kl"], rel=1e-5)
    means = family.summarise_evaluation({k: v / 20 for k, v in sums.items()})
    assert 0 <= means["active_units"] <= 3 and not any(k.startswith("_") for k in means)
    assert all(net.training for net in family.nets.values())


@pytest.mark.parametrize("threshold", [0.0, 0.01, 1e9])
def test_active_units_are_counted_over_all_batches_not_per_batch(threshold, monkeypatch):
    """Summed moments over two batches give the variance over all 40 images exactly."""
    family = build("vae", latent_dim=3)
    x, y = batch(n=40)
    halves = [family.evaluate(x[i : i + 20], y[i : i + 20]) for i in (0, 20)]
    means = {k: (halves[0][k] + halves[1][k]) / 40 for k in halves[0]}
    monkeypatch.setattr(vae_module, "ACTIVE_UNIT_THRESHOLD", threshold)
    family.train(False)
    with torch.no_grad():
        mu = family.losses(x, y, torch.Generator().manual_seed(0))["mu"]
    family.train(True)
    assert family.summarise_evaluation(means)["active_units"] == active_units(mu, threshold)


def test_cvae_samples_follow_the_labels():
    family = build("cvae")
    steps(family, 2)
    z_seed = lambda: torch.Generator().manual_seed(4)  # noqa: E731
    sevens = family.sample(4, labels=torch.full((4,), 7), generator=z_seed())
    threes = family.sample(4, labels=torch.full((4,), 3), generator=z_seed())
    again = family.sample(4, labels=torch.full((4,), 7), generator=z_seed())
    assert family.conditional and torch.equal(sevens, again) and not torch.equal(sevens, threes)
    default = family.sample(10, generator=z_seed())  # no labels: classes cycle 0..9
    assert torch.equal(default[7:8], family.sample(10, labels=torch.arange(10), generator=z_seed())[7:8])


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"kl_anneal": "linear"}, ["kl_warmup_steps"]),
        ({"kl_anneal": "cyclical", "kl_warmup_steps": 3, "kl_cycles": 5}, ["kl_cycles"]),
        ({"kl_cycle_ratio": 0.0}, ["kl_cycle_ratio"]),
        ({"free_bits": -1.0}, ["free_bits"]),
        ({"binarize": "dynamic", "likelihood": "gaussian"}, ["binarize"]),
        ({"hidden_layers": 0}, ["hidden_layers"]),
        ({"latent_dim": 0}, ["latent_dim"]),
    ],
)
def test_bad_options_are_config_errors(overrides, words):
    spec = get_family("vae")
    with pytest.raises(ConfigError) as e:
        spec.config_cls(**{**spec.tiny, **overrides}).check()
    assert all(w in str(e.value) for w in words)


@pytest.mark.parametrize(("name", "key"), [("conv-vae", "width"), ("cvae", "width"), ("cvae", "hidden_layers")])
def test_bad_network_sizes_are_config_errors(name, key):
    spec = get_family(name)
    with pytest.raises(ConfigError, match=key):
        spec.config_cls(**{**spec.tiny, key: 0}).check()
