"""stylegan-lite at tiny size: style layout, truncation, mixing, noise, R1 schedule, config errors, CLI."""

import numpy as np
import pytest
import torch
from cli_helpers import one_line_error, run

from genlab.data import DataInfo, load_samples
from genlab.errors import ConfigError
from genlab.models.registry import get_family
from genlab.models.stylegan import StyleGANConfig, StyleGANLite, working_resolution
from genlab.models.stylegan_net import channels_at, coarse_cutoff, num_styles

SPEC = get_family("stylegan-lite")
INFO = DataInfo(3, 64, 64, 6)


def build(seed=0, info=INFO, **overrides):
    torch.manual_seed(seed)
    return StyleGANLite(StyleGANConfig(**{**SPEC.tiny, **overrides}), info)


def real_batch(n=8, seed=0):
    return torch.rand(n, 3, 64, 64, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_style_layout_follows_stylegan2():
    assert [num_styles(r) for r in (8, 16, 32, 64)] == [4, 6, 8, 10]
    assert coarse_cutoff(8) == 3  # styles 0..2 drive the 4x4 and both 8x8 convs
    assert [channels_at(r, 512, 64) for r in (4, 8, 16, 32)] == [64, 64, 32, 16]
    family = build(resolution=16)
    g = family.nets["generator"]
    assert g.num_ws == 6 and len(g.layers) == 5 and len(g.to_rgb) == 3
    assert g.synthesis(g.styles(torch.randn(2, 4)), noise="none").shape == (2, 3, 16, 16)


def test_every_style_reaches_the_image():
    g = build(resolution=16).nets["generator"]
    ws = g.styles(torch.randn(3, 4)).detach().clone().requires_grad_(True)
    g.synthesis(ws, noise="none").square().sum().backward()
    assert (ws.grad.abs().sum(dim=(0, 2)) > 0).all()


def test_mixed_styles_change_only_the_layers_after_the_cutoff():
    g = build(resolution=16, noise=False).nets["generator"]
    za, zb = torch.randn(2, 4), torch.randn(2, 4)
    with torch.no_grad():
        mixed = g.mixed_styles(za, zb, coarse_cutoff(8))
        assert torch.equal(mixed[:, :3], g.styles(za)[:, :3]) and torch.equal(mixed[:, 3:], g.styles(zb)[:, 3:])
        assert not torch.equal(g.synthesis(mixed, noise="none"), g.synthesis(g.styles(za), noise="none"))


def test_truncation_zero_gives_one_image_and_one_is_the_identity():
    family = build(noise=False)
    family.nets["generator_ema"].w_avg.normal_()  # a non-trivial tracked mean
    z = torch.randn(4, 4)
    at_mean = family.render(family.styles(z, psi=0.0))
    assert torch.allclose(at_mean, at_mean[:1].expand_as(at_mean), atol=1e-6)
    w = family.sampling_generator.mapping(z)
    assert torch.allclose(family.styles(z, psi=1.0)[:, 0], w, atol=1e-6)
    truncated = StyleGANLite(StyleGANConfig(**{**SPEC.tiny, "noise": False, "truncation": 0.0}), INFO)
    truncated.nets["generator_ema"].load_state_dict(family.nets["generator_ema"].state_dict())
    samples = truncated.sample(3, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(samples, samples[:1].expand_as(samples), atol=1e-6)


def test_train_step_tracks_w_avg_into_the_checkpointed_state_and_the_ema_copy():
    family = build()
    assert torch.equal(family.nets["generator"].w_avg, torch.zeros(4))
    family.train_step(real_batch(), None, torch.Generator().manual_seed(0))
    w_avg = family.nets["generator"].w_avg
    assert w_avg.abs().sum() > 0
    assert torch.equal(family.nets["generator_ema"].w_avg, w_avg)
    assert torch.equal(family.state_dict()["nets"]["generator"]["w_avg"], w_avg)


def test_style_mixing_probability_one_mixes_and_zero_does_not():
    gen = torch.Generator().manual_seed(0)
    never, always = build(style_mixing=0.0), build(style_mixing=1.0)
    ws = never.training_styles(4, gen)
    assert torch.equal(ws, ws[:, :1].expand_as(ws))
    ws = always.training_styles(4, gen)
    assert not torch.equal(ws[:, 0], ws[:, -1])  # the last layer always takes the second w


def test_noise_varies_details_and_none_is_deterministic():
    family = build()
    for layer in family.nets["generator_ema"].layers:
        layer.noise.strength.data.fill_(1.0)
    ws = family.styles(torch.randn(2, 4))
    a = family.render(ws, generator=torch.Generator().manual_seed(0))
    b = family.render(ws, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(a, b)
    assert torch.equal(family.render(ws, noise="none"), family.render(ws, noise="none"))
    quiet = build(noise=False)
    assert torch.equal(
        quiet.sample(2, generator=torch.Generator().manual_seed(0)),
        quiet.render(quiet.styles(torch.randn(2, 4, generator=torch.Generator().manual_seed(0))), noise="none"),
    )


def test_r1_runs_every_r1_every_steps():
    family = build(r1_every=2)
    gen = torch.Generator().manual_seed(0)
    seen = ["r1" in family.train_step(real_batch(seed=i), None, gen) for i in range(3)]
    assert seen == [True, False, True]
    assert "r1" not in build(r1=0.0).train_step(real_batch(), None, gen)


def test_adain_generator_trains_and_samples_at_the_data_size():
    family = build(style="adain")
    metrics = family.train_step(real_batch(), None, torch.Generator().manual_seed(0))
    assert all(np.isfinite(v) for v in metrics.values())
    x = family.sample(3, generator=torch.Generator().manual_seed(1))
    assert x.shape == (3, 3, 64, 64) and x.abs().max() <= 1
    assert family.render(family.styles(torch.randn(2, 4)), noise="none", native=True).shape == (2, 3, 8, 8)


@pytest.mark.parametrize(
    "cap, size, expected",
    [(32, 64, 32), (8, 64, 8), (0, 64, 64), (128, 64, 64), (32, 28, 28), (8, 28, 14), (0, 28, 28), (32, 128, 32)],
)
def test_resolution_is_the_largest_size_of_the_data_chain_up_to_the_cap(cap, size, expected):
    assert working_resolution(StyleGANConfig(resolution=cap), DataInfo(1, size, size, 0)) == expected


@pytest.mark.parametrize(("size", "base"), [(28, 7), (32, 4), (64, 4), (128, 4)])
def test_at_the_data_size_the_generator_doubles_its_base_side_up_to_it(size, base):
    family = build(info=DataInfo(1, size, size, 0), resolution=0)
    g = family.nets["generator"]
    assert g.const.shape[1:] == (base, base) and g.num_ws == num_styles(size)
    x = torch.rand(4, 1, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert all(np.isfinite(v) for v in family.train_step(x, None, torch.Generator().manual_seed(0)).values())
    native = family.render(family.styles(torch.randn(2, 4)), noise="none", native=True)
    assert native.shape == (2, 1, size, size) and native.abs().max() <= 1


def test_a_28_pixel_generator_starts_from_a_7x7_constant():
    family = build(info=DataInfo(1, 28, 28, 10), resolution=0)
    assert (
        family.nets["generator"].const.shape[1:] == (7, 7) and family.nets["generator"].num_ws == num_styles(28) == 6
    )
    assert family.render(family.styles(torch.randn(2, 4)), noise="none", native=True).shape == (2, 1, 28, 28)


@pytest.mark.parametrize(
    "overrides, info, words",
    [
        ({"resolution": 12}, INFO, "power of two"),
        ({"truncation": 1.5}, INFO, "truncation"),
        ({"style": "wavelet"}, INFO, "style"),
        ({"resolution": 32}, DataInfo(1, 27, 27, 10), "does not halve"),
        ({"resolution": 0}, DataInfo(1, 6, 6, 10), "does not halve"),
        ({}, DataInfo(3, 64, 32, 6), "square"),
    ],
)
def test_bad_configs_raise_config_errors(overrides, info, words):
    with pytest.raises(ConfigError, match=words):
        StyleGANLite(StyleGANConfig(**{**SPEC.tiny, **overrides}), info)


def tiny_sets():
    return [a for k, v in SPEC.tiny.items() for a in ("--set", f"{k}={v}")]


@pytest.mark.slow  # renders the shapes64 train split (about half a minute on the shared machine)
def test_cli_trains_and_samples_with_truncation(tmp_path, capsys):
    run_dir = tmp_path / "sg"
    code, _, err = run(
        capsys,
        "train",
        "stylegan-lite",
        "--steps",
        "2",
        "--batch-size",
        "8",
        "--out",
        run_dir,
        "--quiet",
        *tiny_sets(),
    )
    assert code == 0, err
    outs = {}
    for psi in ("1.0", "0.0"):
        code, _, err = run(
            capsys,
            "sample",
            run_dir,
            "-n",
            "4",
            "-o",
            tmp_path / f"s{psi}.npz",
            "--set",
            f"truncation={psi}",
            "--set",
            "noise=false",
        )
        assert code == 0, err
        outs[psi] = load_samples(tmp_path / f"s{psi}.npz")[0]
    assert outs["1.0"].shape == (4, 3, 64, 64)
    assert (outs["0.0"] == outs["0.0"][:1]).all() and not (outs["1.0"] == outs["1.0"][:1]).all()
    code, _, err = run(capsys, "sample", run_dir, "-n", "2", "-o", tmp_path / "x.npz", "--set", "truncation=2")
    one_line_error(code, err, "truncation")
