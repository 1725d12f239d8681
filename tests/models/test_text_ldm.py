"""text-ldm (text -> cross-attention U-Net on a frozen spatial-vae's latents -> decoder) and its first stage."""

import pytest
import torch

from genlab.data import DataInfo
from genlab.data.captions import NUM_CODES, canonical_captions
from genlab.errors import ConfigError
from genlab.models.text_ldm import TextLDM, TextLDMConfig
from genlab.models.vae_spatial import SpatialVAE, SpatialVAEConfig, latent_map
from genlab.runs.checkpoint import load_checkpoint, save_checkpoint

INFO = DataInfo(3, 32, 32, NUM_CODES)
TINY = dict(
    autoencoder="untrained",
    base_channels=4,
    channel_mults=(1, 2),
    attention=False,
    text_dim=8,
    text_layers=1,
    text_heads=2,
    diffusion_steps=20,
    sample_steps=4,
)


def tiny(**overrides) -> TextLDM:
    torch.manual_seed(0)
    return TextLDM(TextLDMConfig(**{**TINY, **overrides}), INFO)


def test_spatial_vae_latent_is_a_map_of_the_configured_size():
    assert latent_map(SpatialVAEConfig(), INFO) == (4, 8, 8)  # 256 numbers at f = 4
    assert latent_map(SpatialVAEConfig(levels=3, latent_dim=64), INFO) == (4, 4, 4)
    vae = SpatialVAE(SpatialVAEConfig(width=4), INFO)
    mu, logvar = vae.encode(torch.rand(2, 3, 32, 32))
    assert mu.shape == logvar.shape == (2, 256)
    assert vae.decode_mean(mu).shape == (2, 3, 32, 32)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [({"latent_dim": 100}, "multiple of the latent map's 8x8"), ({"levels": 6}, "not divisible by 64")],
)
def test_spatial_vae_sizes_that_do_not_divide_are_config_errors(overrides, words):
    with pytest.raises(ConfigError, match=words):
        SpatialVAE(SpatialVAEConfig(**overrides), INFO)


def test_text_ldm_latents_round_trip_shapes_and_ranges():
    family = tiny()
    images = torch.rand(3, 3, 32, 32)
    z = family.encode_latents(images)
    assert z.shape == (3, *family.latent_shape) == (3, 4, 8, 8)
    decoded = family.decode_latents(z)
    assert decoded.shape == (3, 3, 32, 32) and decoded.min() >= -1 and decoded.max() <= 1


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"autoencoder": ""}, "genlab train spatial-vae"),
        ({"channel_mults": (1, 2, 2, 2, 2)}, "latent map divisible by 16"),
        ({"caption_dropout": 1.0}, "caption_dropout"),
        ({"text_dim": 7}, "multiple of text_heads"),
    ],
)
def test_bad_configs_are_config_errors(overrides, words):
    with pytest.raises(ConfigError, match=words):
        tiny(**overrides)


@pytest.mark.trains
def test_trains_samples_prompts_with_guidance_and_round_trips_a_checkpoint(tmp_path):
    family = tiny()
    g = torch.Generator().manual_seed(0)
    codes = torch.arange(8) % NUM_CODES
    images = torch.rand(8, 3, 32, 32)
    before = {k: v.clone() for k, v in family.nets["denoiser"].state_dict().items()}
    losses = [family.train_step(images, codes, g)["loss"] for _ in range(3)]
    assert all(torch.isfinite(torch.tensor(losses)))
    after = family.nets["denoiser"].state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert family.latent_scale_measured and family.latent_scale > 0
    # The autoencoder stays frozen: no gradients, no updates.
    assert all(not p.requires_grad for net in family.autoencoder.nets.values() for p in net.parameters())

    prompts = canonical_captions(torch.tensor([0, 5]))
    out = family.sample_captions(prompts, generator=torch.Generator().manual_seed(1), guidance=3.0)
    assert out.shape == (2, 3, 32, 32) and out.min() >= -1 and out.max() <= 1
    unguided = family.sample_captions(prompts, generator=torch.Generator().manual_seed(1), guidance=0.0)
    assert not torch.equal(out, unguided)  # guidance changes the prediction

    save_checkpoint(tmp_path / "ckpt", family.state_dict(), {"family": "text-ldm"})
    state, _ = load_checkpoint(tmp_path / "ckpt.json")
    loaded = tiny()
    loaded.load_state_dict(state)
    assert torch.equal(loaded.latent_scale, family.latent_scale)
    again = loaded.sample_captions(prompts, generator=torch.Generator().manual_seed(1), guidance=3.0)
    assert torch.equal(again, out)
