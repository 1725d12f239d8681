"""cyclegan: the history pool, the losses' weights, resume with the pool, sampling, the CLI."""

import numpy as np
import pytest
import torch
from cli_helpers import one_line_error, run

from genlab.data import DataInfo
from genlab.data.translation import load_translation, split_pair
from genlab.errors import ConfigError
from genlab.models.cyclegan import CycleGAN, CycleGANConfig
from genlab.models.translate_parts import ImagePool
from genlab.runs.checkpoint import load_checkpoint, save_checkpoint

INFO = DataInfo(1, 28, 56, 10)
TINY = dict(base_channels=2, n_blocks=1, d_base_channels=2, pool_size=4)


def build(seed=0, info=INFO, **overrides):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CycleGAN(CycleGANConfig(**{**TINY, **overrides}), info)


def batch(n=4, seed=0):
    return torch.rand(n, 1, 28, 56, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def images(start, n):
    return torch.arange(start, start + n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 2, 2).clone()


def test_pool_stores_the_first_images_then_swaps_half_of_the_new_ones_on_average():
    pool, g = ImagePool(5, (1, 2, 2)), torch.Generator().manual_seed(0)
    assert torch.equal(pool.query(images(0, 5), g), images(0, 5)) and pool.count == 5
    returned_old = 0
    seen = set(range(5))
    for k in range(1, 201):
        new = images(10 * k, 5)
        out = pool.query(new, g)
        for i, v in enumerate(out[:, 0, 0, 0].tolist()):
            assert v == 10 * k + i or v in seen  # the new image, or one stored earlier (this batch included)
            returned_old += v != 10 * k + i
            seen.add(10 * k + i)
    assert 0.4 < returned_old / 1000 < 0.6  # probability 1/2 per image
    assert set(pool.images[:, 0, 0, 0].tolist()) <= seen


def test_pool_of_size_zero_passes_images_through():
    pool = ImagePool(0, (1, 2, 2))
    x = images(0, 3)
    assert pool.query(x, torch.Generator()) is x


def test_pool_state_round_trip_gives_the_same_future():
    pool, g = ImagePool(3, (1, 2, 2)), torch.Generator().manual_seed(1)
    pool.query(images(0, 4), g)
    copy = ImagePool(3, (1, 2, 2))
    copy.load_state_dict(pool.state_dict())
    ga, gb = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    assert torch.equal(pool.query(images(100, 6), ga), copy.query(images(100, 6), gb))
    with pytest.raises(ValueError, match="does not fit"):
        ImagePool(4, (1, 2, 2)).load_state_dict(pool.state_dict())


def test_pool_survives_a_checkpoint_and_resume_stays_bit_exact(tmp_path):
    family = build()
    g = torch.Generator().manual_seed(0)
    for seed in range(3):  # pool of 4, batches of 4: full after one step, swapping after that
        family.train_step(batch(seed=seed), None, g)
    save_checkpoint(tmp_path / "ckpt", family.state_dict(), {"family": "cyclegan"})
    state, _ = load_checkpoint(tmp_path / "ckpt.json")
    restored = build(seed=5)
    restored.load_state_dict(state)
    for k in ("a", "b"):
        assert torch.equal(restored.pools[k].images, family.pools[k].images) and restored.pools[k].count == 4
    m1 = family.train_step(batch(seed=9), None, torch.Generator().manual_seed(3))
    m2 = restored.train_step(batch(seed=9), None, torch.Generator().manual_seed(3))
    assert m1 == m2


def test_losses_cycle_weight_and_identity_fraction():
    family = build()
    metrics = family.train_step(batch(), None, torch.Generator().manual_seed(0))
    assert set(metrics) == {"loss_g_ab", "loss_g_ba", "loss_cycle", "loss_identity", "loss_d_a", "loss_d_b"}
    assert (
        CycleGANConfig().cycle_weight == 10.0
        and CycleGANConfig().identity_weight * CycleGANConfig().cycle_weight == 5.0
    )
    assert (
        build(identity_weight=0.0).train_step(batch(), None, torch.Generator().manual_seed(0))["loss_identity"] == 0.0
    )


@pytest.mark.parametrize("direction, held_out_side", [("a2b", 0), ("b2a", 1)])
def test_sample_keeps_a_left_b_right_and_translates_held_out_images(direction, held_out_side):
    family = build(direction=direction)
    out = family.sample(5, generator=torch.Generator().manual_seed(0))
    assert out.shape == (5, 1, 28, 56)
    real = split_pair(out)[held_out_side]
    test_side = split_pair(load_translation("digits-thickness", "test")[0])[held_out_side]
    pool = {bytes(v) for v in test_side.reshape(len(test_side), -1)}
    as_uint8 = ((real + 1) * 127.5).round().to(torch.uint8).numpy()
    assert all(bytes(v) in pool for v in as_uint8.reshape(5, -1))


def test_evaluate_reports_cycle_reconstruction_per_domain():
    sums = build().evaluate(batch(3), None)
    assert set(sums) == {"cycle_l1_a", "cycle_l1_b"} and all(0 < v / 3 < 1 for v in sums.values())


def test_wrong_data_set_and_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="--dataset digits-thickness"):
        build(info=DataInfo(1, 28, 28, 10))
    with pytest.raises(ConfigError, match="unpaired translation data set"):
        build(domains="digits-outline")
    with pytest.raises(ConfigError, match="cycle_weight"):
        build(cycle_weight=-1.0)


def test_cli_trains_and_samples_both_directions(capsys, tmp_path):
    run_dir = tmp_path / "cg"
    sets = [
        "--set",
        "base_channels=2",
        "--set",
        "d_base_channels=2",
        "--set",
        "n_blocks=1",
        "--set",
        "grid_size=4",
        "--set",
        "test_scores=false",
    ]
    code, out, err = run(
        capsys, "train", "cyclegan", "--steps", "2", "--batch-size", "4", "--out", run_dir, "--quiet", *sets
    )
    assert code == 0, err
    assert (run_dir / "samples" / "step_00000002.png").is_file()
    code, out, err = run(capsys, "sample", run_dir, "-n", "3", "-o", tmp_path / "b2a.npz", "--set", "direction=b2a")
    assert code == 0, err
    with np.load(tmp_path / "b2a.npz") as f:
        assert f["images"].shape == (3, 28, 56)  # one channel is stored as (N, H, W)
    code, out, err = run(capsys, "sample", run_dir, "-n", "3", "-o", tmp_path / "x.npz", "--set", "direction=sideways")
    one_line_error(code, err, "direction")
