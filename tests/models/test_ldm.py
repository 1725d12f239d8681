"""``ldm`` at tiny size: training, the frozen autoencoder, samplers, guidance, checkpoints."""

import dataclasses

import pytest
import torch

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.models.latent import latent_codec
from genlab.models.ldm import UNTRAINED, LatentDiffusion, LDMConfig, latent_scale_factor
from genlab.models.registry import get_family
from genlab.runs.checkpoint import load_checkpoint, save_checkpoint
from genlab.samplers import run_sampler

INFO = DataInfo(channels=1, height=28, width=28, num_classes=10)


def build(seed=0, **overrides):
    cfg = LDMConfig(**{**get_family("ldm").tiny, **overrides})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LatentDiffusion(cfg, INFO)


def batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def trained(steps=1, **overrides):
    family = build(**overrides)
    x, y = batch()
    for k in range(steps):
        family.train_step(x, y, torch.Generator().manual_seed(k))
    return family


def test_latent_scale_factor_is_one_over_the_std():
    z = torch.tensor([[1.0, -1.0], [3.0, -3.0]])  # mean 0, unbiased variance 20 / 3
    assert latent_scale_factor(z).item() == pytest.approx((3 / 20) ** 0.5, rel=1e-6)
    with pytest.raises(ConfigError, match="constant latents"):
        latent_scale_factor(torch.ones(4, 3))


def test_one_training_step_is_finite_and_fixes_the_scale_on_the_first_batch():
    family = build()
    x, y = batch()
    assert not family.latent_scale_measured and family.latent_scale.item() == 1.0
    metrics = family.train_step(x, y, torch.Generator().manual_seed(0))
    assert set(metrics) == {"loss"} and torch.isfinite(torch.tensor(metrics["loss"]))
    expected = latent_scale_factor(family.autoencoder.encode(x)[0])
    assert family.latent_scale_measured and torch.equal(family.latent_scale, expected)
    z = family.encode_latents(x)
    assert z.shape == (16, 4) and z.std().item() == pytest.approx(1.0, rel=1e-5)
    family.train_step(*batch(seed=1), torch.Generator().manual_seed(1))  # a later batch does not re-measure
    assert torch.equal(family.latent_scale, expected)


def test_training_leaves_the_frozen_autoencoder_unchanged():
    family = build()
    before = {f"{k}.{n}": p.clone() for k, net in family.autoencoder.nets.items() for n, p in net.state_dict().items()}
    denoiser_before = [p.clone() for p in family.nets["denoiser"].parameters()]
    family.train(True)
    x, y = batch()
    for k in range(3):
        family.train_step(x, y, torch.Generator().manual_seed(k))
    after = {f"{k}.{n}": p for k, net in family.autoencoder.nets.items() for n, p in net.state_dict().items()}
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert all(not p.requires_grad for net in family.autoencoder.nets.values() for p in net.parameters())
    assert all(not net.training for net in family.autoencoder.nets.values())
    assert any(not torch.equal(a, b) for a, b in zip(denoiser_before, family.nets["denoiser"].parameters()))


def test_sampler_shapes_for_ddim_and_ddpm():
    family = trained()
    g = torch.Generator().manual_seed(0)
    assert family.sample_latents(3, generator=g).shape == (3, 4)
    for sampler in ("ddim", "ddpm"):
        family.cfg = dataclasses.replace(family.cfg, sampler=sampler)
        trajectory = []
        images = family.sample(5, labels=torch.arange(5), generator=g, trajectory=trajectory)
        assert images.shape == (5, 1, 28, 28) and -1 <= images.min() and images.max() <= 1
        assert len(trajectory) == (4 if sampler == "ddim" else 20) + 1 and trajectory[0][1].shape == (5, 4)


def test_sampling_is_deterministic_under_a_seed_and_depends_on_it():
    family = trained(eta=0.5)
    labels = torch.arange(6) % 10

    def draw(seed):
        return family.sample(6, labels=labels, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(draw(3), draw(3))
    assert not torch.equal(draw(3), draw(4))


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_with_eta_zero_ignores_the_generator(eta):
    family = trained(eta=eta)
    z_t = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    eps = family.eps_fn(torch.arange(4), 1.0)
    a = run_sampler(family.make_sampler(), eps, z_t.clone(), torch.Generator().manual_seed(1))
    b = run_sampler(family.make_sampler(), eps, z_t.clone(), torch.Generator().manual_seed(2))
    assert torch.equal(a, b) == (eta == 0.0)


def test_guidance_one_is_the_conditional_prediction_and_others_mix_it():
    family = trained(steps=2)
    net = family.nets["ema"].net
    z = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 3, 7, 7, 9])
    i = 11
    idx = torch.full((5,), i)
    cond, uncond = net(z, idx, labels), net(z, idx, torch.full((5,), 10))
    assert not torch.allclose(cond, uncond)
    assert torch.equal(family.eps_fn(labels, 1.0)(z, i), cond)
    assert torch.equal(family.eps_fn(labels, 0.0)(z, i), uncond)
    torch.testing.assert_close(family.eps_fn(labels, 2.5)(z, i), uncond + 2.5 * (cond - uncond))


def test_unconditional_ldm_ignores_labels():
    family = trained(class_conditional=False)
    assert not family.conditional and family.nets["denoiser"].classes is None
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(family.sample(3, labels=torch.arange(3), generator=g()), family.sample(3, generator=g()))


def test_checkpoint_round_trip_restores_autoencoder_scale_and_samples(tmp_path):
    family = trained(steps=2)
    save_checkpoint(tmp_path / "ckpt", family.state_dict(), {"family": "ldm"})
    state, _ = load_checkpoint(tmp_path / "ckpt.json")
    restored = build(seed=99)  # a different random autoencoder and denoiser until loaded
    assert not torch.equal(
        restored.autoencoder.nets["decoder"].fc[0].weight, family.autoencoder.nets["decoder"].fc[0].weight
    )
    restored.load_state_dict(state)
    assert (
        restored.latent_scale_measured
        and torch.equal(restored.latent_scale, family.latent_scale)
        and restored.step == 2
    )
    for k, net in family.autoencoder.nets.items():
        assert all(
            torch.equal(a, b)
            for a, b in zip(net.state_dict().values(), restored.autoencoder.nets[k].state_dict().values())
        )
    assert all(not p.requires_grad for net in restored.autoencoder.nets.values() for p in net.parameters())
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    assert torch.equal(family.sample(4, generator=g()), restored.sample(4, generator=g()))


def test_latent_codec_is_ddim_in_the_autoencoder_latent_space():
    family = trained()
    codec = latent_codec(family)
    assert "autoencoder" in codec.what
    z = codec.draw(3, torch.Generator().manual_seed(0))
    labels = torch.tensor([1, 2, 3])
    images = codec.decode(z, labels)
    assert z.shape == (3, 4) and images.shape == (3, 1, 28, 28)
    assert torch.equal(images, codec.decode(z, labels))  # eta = 0: a deterministic map
    uint8 = ((images + 1) * 127.5).round().to(torch.uint8)
    assert codec.encode(uint8, labels).shape == (3, 4)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"autoencoder": ""}, "--set autoencoder="),
        ({"autoencoder": "/nonexistent/vae-run"}, "does not exist"),
        ({"width": 0}, "width"),
        ({"sample_steps": 50}, "sample_steps"),
    ],
)
def test_bad_configs_raise_one_clear_error(overrides, words):
    with pytest.raises(Exception) as info:
        build(**overrides)
    assert words in str(info.value) and type(info.value).__module__ == "genlab.errors"


def test_untrained_autoencoder_is_the_documented_tiny_conv_vae():
    family = build()
    assert family.cfg.autoencoder == UNTRAINED and family.autoencoder.registry_name == "conv-vae"
    assert family.latent_dim == family.autoencoder.cfg.latent_dim == 4


def test_golden_slice_of_ddim_latents():
    """Tiny model after two steps, DDIM-4, seed 0: a refactor that changes these numbers is seen."""
    z = trained(steps=2).sample_latents(2, labels=torch.tensor([3, 8]), generator=torch.Generator().manual_seed(0))
    expected = torch.tensor([[1.7051, -0.0797, -2.5906, 0.4353], [-1.1055, -1.6620, 0.6273, 0.7650]])
    torch.testing.assert_close(z, expected, atol=1e-3, rtol=0)
