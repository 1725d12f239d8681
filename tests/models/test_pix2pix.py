"""pix2pix: PatchGAN receptive field, U-Net, losses, the L1-only ablation, sampling, the CLI."""

import numpy as np
import pytest
import torch
from cli_helpers import one_line_error, run

from genlab.data import DataInfo
from genlab.data.translation import load_translation, split_pair
from genlab.errors import ConfigError
from genlab.models.pix2pix import Pix2Pix, Pix2PixConfig
from genlab.nn.patchgan import (
    PatchDiscriminator,
    patch_layers_for,
    patchgan_layers,
    patchgan_receptive_field,
    receptive_field,
)
from genlab.nn.unet_translate import TranslationUNet

INFO = DataInfo(1, 28, 56, 10)
TINY = dict(base_channels=4, depth=2, d_base_channels=4)


def build(seed=0, info=INFO, **overrides):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Pix2Pix(Pix2PixConfig(**{**TINY, **overrides}), info)


def test_receptive_field_closed_form_and_the_papers_70_patch():
    assert [patchgan_receptive_field(n) for n in range(5)] == [9 * 2**n - 2 for n in range(5)]
    assert patchgan_receptive_field(3) == 70  # Isola et al. 2017's 70 x 70 PatchGAN
    assert receptive_field([(3, 1)] * 4) == 9 and receptive_field([(2, 2)] * 3) == 8
    assert [patch_layers_for(s) for s in (28, 64, 256)] == [0, 1, 3]


@pytest.mark.parametrize("n_down", [0, 1, 2])
def test_one_patch_logit_depends_on_exactly_a_receptive_field_sized_patch(n_down):
    d = PatchDiscriminator(1, 2, n_down, norm="none")
    with torch.no_grad():
        for p in d.parameters():
            p.fill_(0.05)  # positive weights: no cancellation inside the patch
    d.net = torch.nn.Sequential(
        *[m for m in d.net if not isinstance(m, torch.nn.LeakyReLU)]
    )  # linear, so support is exact
    x = torch.zeros(1, 1, 80, 80, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows, cols = torch.nonzero(x.grad[0, 0], as_tuple=True)
    assert rows.max() - rows.min() + 1 == patchgan_receptive_field(n_down) == receptive_field(patchgan_layers(n_down))
    assert cols.max() - cols.min() + 1 == patchgan_receptive_field(n_down)


def test_family_scales_the_patch_to_28_pixels():
    assert build().receptive_field == 7 and build(patch_layers=1).receptive_field == 16
    assert build(adversarial=False).receptive_field == 0


def test_unet_dropout_masks_come_from_the_generator_only():
    net = TranslationUNet(1, 1, 4, 3, dropout=0.5).eval()
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    a = net(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, net(x, torch.Generator().manual_seed(1)))
    assert not torch.equal(a, net(x, torch.Generator().manual_seed(2)))
    assert torch.equal(net(x, None), net(x, None))
    assert a.shape == (2, 1, 28, 28) and a.abs().max() < 1


def test_unet_skip_connection_carries_fine_detail_past_the_bottleneck():
    # A one-pixel change reaches the output through the outermost skip even when depth is large.
    net = TranslationUNet(1, 1, 4, 5).eval()
    x = torch.zeros(1, 1, 28, 28, requires_grad=True)
    net(x)[0, 0, 14, 14].backward()
    assert x.grad[0, 0, 14, 14] != 0 and x.grad.abs().gt(0).sum() > 28 * 28 // 2  # local and global paths


@pytest.mark.trains
def test_l1_only_ablation_has_no_discriminator_and_fits_one_batch():
    """40 steps on one batch of 8 pairs lower the L1 loss well below its first value.

    last / first L1 over seeds 0..19 (model seed, batch = test pairs 8s..8s+8) with 1 and 2 threads:
    min 0.35, median 0.44, max 0.51 (seed 0, used here: 0.40), so the old bound 0.5 failed for one
    seed; the bound is 0.7. With the learning rate set to 0 the ratio is 1.000 (+-0.0004).
    """
    family = build(adversarial=False, l1_weight=100.0, lr=2e-3)
    assert set(family.nets) == {"generator"} and not family.monitor_losses
    pairs = torch.from_numpy(load_translation("digits-outline", "test")[0][:8].copy()).float() / 127.5 - 1
    g = torch.Generator().manual_seed(0)
    first = family.train_step(pairs, None, g)
    assert set(first) == {"loss_l1"}
    for _ in range(40):
        last = family.train_step(pairs, None, g)
    assert last["loss_l1"] < 0.7 * first["loss_l1"]


def test_adversarial_step_logs_both_players():
    family = build()
    pairs = torch.rand(4, 1, 28, 56, generator=torch.Generator().manual_seed(0)) * 2 - 1
    metrics = family.train_step(pairs, None, torch.Generator().manual_seed(0))
    assert {"loss_d", "loss_g", "loss_l1", "d_real", "d_fake"} <= set(metrics) and family.monitor_losses


def test_sample_puts_held_out_inputs_left_of_their_translations():
    family = build()
    out = family.sample(6, generator=torch.Generator().manual_seed(3))
    assert out.shape == (6, 1, 28, 56)
    inputs, _ = split_pair(out)
    test_a, _ = split_pair(load_translation("digits-outline", "test")[0])
    as_uint8 = ((inputs + 1) * 127.5).round().to(torch.uint8).numpy()
    pool = {bytes(v) for v in test_a.reshape(len(test_a), -1)}
    assert all(bytes(v) in pool for v in as_uint8.reshape(6, -1))


def test_evaluate_scores_translations_against_targets():
    family = build()
    pairs = torch.from_numpy(load_translation("digits-outline", "test")[0][:5].copy()).float() / 127.5 - 1
    sums = family.evaluate(pairs, None)
    assert set(sums) == {"l1", "psnr", "ssim"}
    assert 0 < sums["l1"] / 5 < 1 and -1 < sums["ssim"] / 5 < 1
    assert sums == family.evaluate(pairs, None)  # fixed dropout seed: the same model scores the same


def test_wrong_data_set_and_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="--dataset digits-outline"):
        build(info=DataInfo(1, 28, 28, 10))
    with pytest.raises(ConfigError, match="paired translation data set"):
        build(pairs="digits-thickness")
    with pytest.raises(ConfigError, match="dropout"):
        build(dropout=1.0)
    with pytest.raises(ConfigError, match="l1_weight"):
        build(adversarial=False, l1_weight=0.0)


def test_cli_trains_and_samples_pix2pix(capsys, tmp_path):
    run_dir = tmp_path / "p2p"
    sets = [
        "--set",
        "base_channels=4",
        "--set",
        "d_base_channels=4",
        "--set",
        "depth=2",
        "--set",
        "grid_size=4",
        "--set",
        "test_scores=false",
    ]
    code, out, err = run(
        capsys, "train", "pix2pix", "--steps", "2", "--batch-size", "4", "--out", run_dir, "--quiet", *sets
    )
    assert code == 0, err
    assert (run_dir / "samples" / "step_00000002.png").is_file()
    code, out, err = run(capsys, "sample", run_dir, "-n", "3", "-o", tmp_path / "s.npz")
    assert code == 0, err
    with np.load(tmp_path / "s.npz") as f:
        assert f["images"].shape == (3, 28, 56)  # one channel is stored as (N, H, W)
    code, out, err = run(capsys, "train", "pix2pix", "--steps", "1", "--dataset", "mnist", "--out", tmp_path / "bad")
    one_line_error(code, err, "--dataset digits-outline")
