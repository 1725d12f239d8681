"""Every GAN option does what its docstring says, on tiny networks."""

import dataclasses

import pytest
import torch

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.math.gan import GAN_LOSSES
from genlab.models.registry import get_family
from genlab.runs.loading import grid_labels

INFO = DataInfo(1, 28, 28, 10)
TOY = DataInfo(2, 1, 1, 0)  # 2-D points as (B, 2, 1, 1) "images", unlabelled


def build(name="gan", info=INFO, seed=0, **overrides):
    spec = get_family(name)
    cfg = spec.config_cls(**{**spec.tiny, **overrides})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return spec.family_cls(cfg, info)


def batch(n=8, info=INFO, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, info.channels, info.height, info.width, generator=g) * 2 - 1
    return x, torch.randint(0, 10, (n,), generator=g)


def step(family, n=8, seed=0):
    x, y = batch(n, family.info, seed)
    return family.train_step(x, y, torch.Generator().manual_seed(seed))


OPTIONS = [
    {"label_smoothing": 0.1},
    {"label_noise": 0.1},
    {"instance_noise": 0.1},
    {"spectral_norm": True},
    {"lr_d": 4e-4},
    {"n_critic": 2},
    {"minibatch": "discrimination"},
    {"minibatch": "stddev"},
    {"r1": 10.0},
    {"gp": 10.0},
    {"ema": 0.9},
    {"diffaug": "color,translation,cutout"},
    {"pack": 2},
    {"optimizer": "rmsprop", "clip": 0.01, "loss": "wasserstein"},
]


@pytest.mark.parametrize("loss", GAN_LOSSES)
@pytest.mark.parametrize("name", ["gan", "dcgan"])
def test_every_loss_trains_with_finite_metrics(name, loss):
    metrics = step(build(name, loss=loss))
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())
    assert ("w_estimate" in metrics) == (loss == "wasserstein")


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_every_stabiliser_trains_deterministically(opts):
    extra = {"d_norm": "layer"} if "gp" in opts else {}
    runs = [step(build("dcgan", **opts, **extra)) for _ in range(2)]
    assert runs[0] == runs[1]
    assert all(torch.isfinite(torch.tensor(v)) for v in runs[0].values())


def test_n_critic_takes_k_discriminator_steps_per_generator_step():
    family = build("gan", n_critic=3)
    assert family.batches_per_step == 3
    step(family, n=12)
    d_state = family.opts["discriminator"].state_dict()["state"]
    g_state = family.opts["generator"].state_dict()["state"]
    assert {int(s["step"]) for s in d_state.values()} == {3}
    assert {int(s["step"]) for s in g_state.values()} == {1}


def test_weight_clipping_bounds_every_critic_parameter():
    family = build("gan", loss="wasserstein", clip=0.01, lr=0.5)
    step(family)
    assert max(p.abs().max().item() for p in family.nets["discriminator"].parameters()) <= 0.01


def test_ema_follows_its_formula_and_is_sampled_from():
    family = build("gan", ema=0.9)
    g, ema = family.nets["generator"], family.nets["generator_ema"]
    before = [p.detach().clone() for p in ema.parameters()]
    step(family)
    for p_ema, p_old, p in zip(ema.parameters(), before, g.parameters()):
        assert torch.allclose(p_ema, 0.9 * p_old + 0.1 * p, atol=1e-7)
    sample = family.sample(3, generator=torch.Generator().manual_seed(0))
    z = torch.randn(3, family.cfg.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(sample, ema.eval()(z).clamp(-1, 1))
    assert family.num_parameters() == sum(
        p.numel() for k in ("generator", "discriminator") for p in family.nets[k].parameters()
    )


def test_one_sided_label_smoothing_and_flips():
    family = build("gan", label_smoothing=0.1)
    real, fake = family._targets(torch.zeros(1000), torch.Generator().manual_seed(0))
    assert torch.all(real == 0.9) and torch.all(fake == 0)
    noisy = build("gan", label_noise=0.2)
    real, fake = noisy._targets(torch.zeros(4000), torch.Generator().manual_seed(0))
    assert 0.17 < (real == 0).float().mean() < 0.23 and 0.17 < (fake == 1).float().mean() < 0.23


def test_instance_noise_decays_linearly_to_zero():
    family = build("gan", instance_noise=1.0, instance_noise_steps=10)
    x = torch.zeros(4000, 1, 1, 1)
    assert family._d_input(x, torch.Generator().manual_seed(0)).std().item() == pytest.approx(1.0, abs=0.05)
    family.step = 5
    assert family._d_input(x, torch.Generator().manual_seed(0)).std().item() == pytest.approx(0.5, abs=0.03)
    family.step = 10
    assert torch.equal(family._d_input(x, torch.Generator().manual_seed(0)), x)


def test_spectral_norm_keeps_each_critic_layer_near_unit_norm():
    family = build("gan", spectral_norm=True, hidden=16)
    for seed in range(30):
        step(family, seed=seed)
    # Power iteration runs once per training-mode forward, so the estimate of sigma lags
    # the optimiser; forwards with the weights held fixed let it converge (slowly when the
    # top two singular values are close, hence many).
    critic = family.nets["discriminator"]
    critic.train()
    x = torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for _ in range(300):
            critic(x)
    for m in critic.modules():
        if isinstance(m, torch.nn.Linear):
            assert torch.linalg.matrix_norm(m.weight, ord=2).item() == pytest.approx(1.0, abs=0.02)


def test_packing_scores_m_samples_at_once_and_needs_a_multiple():
    family = build("gan", info=TOY, pack=4, hidden=8)
    x, _ = batch(8, TOY)
    assert family.nets["discriminator"](x).shape == (2,)
    with pytest.raises(ConfigError, match="multiple of pack"):
        step(family, n=6)


def test_conditional_generator_depends_on_the_label():
    family = build("cgan")
    assert family.conditional
    z = torch.randn(2, family.cfg.z_dim)
    g = family.nets["generator"]
    assert not torch.allclose(g(z, torch.tensor([0, 0])), g(z, torch.tensor([7, 7])))
    assert family.nets["discriminator"](batch(2)[0], torch.tensor([0, 7])).shape == (2,)


def test_toy_data_trains_through_the_mlp_gan():
    family = build("gan", info=TOY, hidden=8, minibatch="discrimination")
    assert family.sample(5, generator=torch.Generator().manual_seed(0)).shape == (5, 2, 1, 1)
    assert "loss_d" in step(family)


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"loss": "hinge", "label_smoothing": 0.1}, "target-based loss"),
        ({"conditional": True, "pack": 2}, "pack"),
        ({"diffaug": "color,zoom"}, "zoom"),
        ({"ema": 1.0}, "ema"),
        ({"n_critic": 0}, "n_critic"),
    ],
)
def test_bad_option_combinations_are_refused(bad, match):
    with pytest.raises(ConfigError, match=match):
        build("gan", **bad)


def test_gradient_penalty_refuses_a_batchnorm_critic():
    with pytest.raises(ConfigError, match="BatchNorm"):
        build("dcgan", gp=10.0)
    assert build("wgan-gp").cfg.d_norm == "layer"


def test_wasserstein_families_follow_their_papers():
    wgan, gp = get_family("wgan").config_cls(), get_family("wgan-gp").config_cls()
    assert (wgan.loss, wgan.optimizer, wgan.lr, wgan.clip, wgan.n_critic) == ("wasserstein", "rmsprop", 5e-5, 0.01, 5)
    assert (gp.loss, gp.gp, gp.lr, gp.beta1, gp.beta2, gp.n_critic, gp.clip) == (
        "wasserstein",
        10.0,
        1e-4,
        0.0,
        0.9,
        5,
        0.0,
    )
    assert dataclasses.asdict(get_family("cdcgan").config_cls())["conditional"] is True


def test_conditional_grids_have_one_class_per_row():
    assert grid_labels(100, 10).view(10, 10).tolist() == [[r] * 10 for r in range(10)]
    assert grid_labels(64, 10).tolist() == [i % 10 for i in range(64)]


def test_dcgan64_shapes():
    info = DataInfo(3, 64, 64, 8)
    family = build("dcgan64", info=info)
    assert family.sample(2, generator=torch.Generator().manual_seed(0)).shape == (2, 3, 64, 64)
    assert "loss_g" in step(family, n=4)
    convs_t = [m for m in family.nets["generator"].modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    strided = [
        m for m in family.nets["discriminator"].modules() if isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2)
    ]
    assert len(convs_t) >= 4 and len(strided) >= 4
    with pytest.raises(ConfigError, match="64x64"):
        build("dcgan64", info=INFO)


@pytest.mark.parametrize(
    ("size", "base", "ups", "d_side"), [(28, 7, 2, 4), (32, 4, 3, 4), (64, 4, 4, 4), (128, 4, 5, 4)]
)
def test_dcgan_doubles_a_base_side_up_to_the_data_size(size, base, ups, d_side):
    family = build("dcgan", info=DataInfo(3, size, size, 10))
    g, d = family.nets["generator"], family.nets["discriminator"]
    convs_t = [m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert g.top == (2 * min(2**ups, 8), base, base) and len(convs_t) == ups  # base_channels 2 in the tiny config
    strided = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2)]
    assert [m.kernel_size[0] for m in strided][-1] == (3 if size == 28 else 4)  # 7 -> 4 takes a 3x3
    assert d.head.in_features == strided[-1].out_channels * d_side * d_side
    assert family.sample(2, generator=torch.Generator().manual_seed(0)).shape == (2, 3, size, size)


def test_dcgan_needs_a_square_side_that_halves():
    with pytest.raises(ConfigError, match="square"):
        build("dcgan", info=DataInfo(1, 28, 32, 10))
    with pytest.raises(ConfigError, match="does not halve"):
        build("dcgan", info=DataInfo(1, 27, 27, 10))


def test_linear_learning_rate_decay():
    family = build("gan", lr=1e-3, lr_d=2e-3, lr_decay_steps=4)
    lrs = []
    for seed in range(5):
        step(family, seed=seed)
        lrs += [family.opts["generator"].param_groups[0]["lr"], family.opts["discriminator"].param_groups[0]["lr"]]
    assert lrs == pytest.approx([1e-3, 2e-3, 7.5e-4, 1.5e-3, 5e-4, 1e-3, 2.5e-4, 5e-4, 0.0, 0.0])


def test_identity_output_for_unbounded_toy_data():
    family = build("gan", info=TOY, hidden=8, output="identity")
    with torch.no_grad():
        for p in family.nets["generator"].net[-2].parameters():
            p.fill_(3.0)  # pre-activations far outside [-1, 1]
    x = family.sample(4, generator=torch.Generator().manual_seed(0))
    assert x.abs().max() > 1.0
    assert not isinstance(family.nets["generator"].net[-1], torch.nn.Tanh)


@pytest.mark.parametrize("every", [False, True])
def test_label_every_layer_feeds_the_label_past_the_first_layer(every):
    """With the first layer's label columns zeroed, G's output depends on the label only if later layers see it."""
    family = build("cgan", hidden=8, z_dim=4, embed_dim=3, label_every_layer=every)
    g = family.nets["generator"]
    first = g.net[0]
    with torch.no_grad():
        first.weight[:, 4:] = 0  # the embedding's columns of the first layer (z takes the first 4)
    z = torch.randn(1, 4, generator=torch.Generator().manual_seed(0)).expand(10, 4)
    images = g(z, torch.arange(10))
    assert images.shape == (10, 1, 28, 28)
    gap = (images[1:] - images[0]).abs().amax().item()  # how far the other labels' images are from label 0's
    assert gap > 1e-3 if every else gap < 1e-6, gap
    widths = [m.in_features for m in g.net if isinstance(m, torch.nn.Linear)]
    assert widths == ([4 + 3, 8 + 3, 16 + 3, 32 + 3] if every else [4 + 3, 8, 16, 32])
    with pytest.raises(ConfigError, match="label_every_layer"):
        build("gan", hidden=8, z_dim=4, label_every_layer=True)
