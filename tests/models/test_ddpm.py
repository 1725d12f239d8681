"""ddpm-specific behaviour beyond the registry-wide conformance suite."""

import dataclasses

import pytest
import torch

from genlab.data import DataInfo
from genlab.models.registry import get_family
from genlab.samplers import run_sampler

INFO = DataInfo(1, 28, 28, 10)


def tiny(**overrides):
    spec = get_family("ddpm")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return spec.family_cls(dataclasses.replace(spec.config_cls(**spec.tiny), **overrides), INFO)


def perturbed(family):
    # Random weights everywhere (a fresh U-Net outputs exactly 0: its last conv starts at zero).
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in family.nets["ema"].net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return family


def test_guidance_weights_mean_what_they_say():
    family = perturbed(tiny())
    net = family.nets["ema"].net.eval()
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([1, 2, 3, 4])
    idx = torch.full((4,), 7)
    with torch.no_grad():
        cond, uncond = net(x, idx, labels), net(x, idx, torch.full((4,), 10))
        assert torch.allclose(family.eps_fn(labels, 1.0)(x, 7), cond, atol=1e-6)  # w = 1: conditional
        assert torch.allclose(family.eps_fn(labels, 0.0)(x, 7), uncond, atol=1e-6)  # w = 0: unconditional
        assert torch.allclose(family.eps_fn(labels, 3.0)(x, 7), uncond + 3 * (cond - uncond), atol=1e-5)


def test_ddim_eta_0_sampling_is_a_deterministic_function_of_x_T():
    family = perturbed(tiny(eta=0.0))
    x_T = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    eps = family.eps_fn(torch.tensor([3, 4]), 1.0)
    with torch.no_grad():
        a = run_sampler(family.make_sampler(), eps, x_T, torch.Generator().manual_seed(1))
        b = run_sampler(family.make_sampler(), eps, x_T, torch.Generator().manual_seed(2))
    assert torch.equal(a, b)


def test_every_prediction_target_and_sampler_runs():
    for prediction in ("eps", "v", "x0"):
        for sampler in ("ddim", "ddpm"):
            family = tiny(prediction=prediction, sampler=sampler)
            x = torch.rand(4, 1, 28, 28) * 2 - 1
            assert torch.isfinite(
                torch.tensor(family.train_step(x, torch.arange(4), torch.Generator().manual_seed(0))["loss"])
            )
            out = family.sample(2, generator=torch.Generator().manual_seed(0))
            assert out.shape == (2, 1, 28, 28) and torch.isfinite(out).all()


def test_unconditional_configuration():
    family = tiny(class_conditional=False)
    assert not family.conditional
    assert family.sample(2, generator=torch.Generator()).shape == (2, 1, 28, 28)


def test_ema_tracks_the_weights():
    family = tiny(ema_decay=0.5)
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    for _ in range(3):
        family.train_step(x, torch.arange(4), torch.Generator().manual_seed(0))
    ema, live = family.nets["ema"], family.nets["unet"]
    assert int(ema.num_updates) == 3
    assert all(not p.requires_grad for p in ema.net.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(ema.net.parameters(), live.parameters()))


def test_bfloat16_sampling_stays_close_to_float32_and_returns_float32():
    """sample_dtype=bfloat16 autocasts the U-Net; the result is float32 in [-1, 1], near the float32 samples."""
    base = perturbed(tiny())
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    x32 = base.sample(4, generator=g())
    base.cfg = dataclasses.replace(base.cfg, sample_dtype="bfloat16")
    x16 = base.sample(4, generator=g())
    assert x16.dtype == torch.float32 and x16.shape == x32.shape and x16.abs().max() <= 1
    assert 0 < (x16 - x32).abs().mean() < 0.05  # bfloat16 changes the numbers, a little
    assert torch.equal(x16, base.sample(4, generator=g()))  # still deterministic under a seed


def test_a_bad_sample_dtype_is_refused_by_name():
    from genlab.errors import ConfigError

    with pytest.raises(ConfigError, match="sample_dtype must be float32 or bfloat16"):
        tiny(sample_dtype="float16").cfg.check()


@pytest.mark.slow
def test_compiled_sampling_matches_eager_and_is_reused():
    """sample_compile=true: torch.compile of the sampling U-Net gives the float32 samples (slow: it compiles)."""
    family = perturbed(tiny())
    eager = family.sample(4, generator=torch.Generator().manual_seed(0))
    family.cfg = dataclasses.replace(family.cfg, sample_compile=True)
    compiled = family.sample(4, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(compiled, eager, atol=1e-4, rtol=0)
    first = family._compiled[1]
    family.sample(2, generator=torch.Generator().manual_seed(1))
    assert family._compiled[1] is first  # compiled once per family
