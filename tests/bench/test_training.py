"""The training benchmark compares like with like: same batches, same losses, both sides timed."""

import numpy as np
import torch

from genlab.bench.training import FAST_OPTIONS, TensorPerItem, compare_training, reference_batches
from genlab.data import Batcher, DataInfo

INFO = DataInfo(1, 8, 8, 10)


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 1, 8, 8), dtype=np.uint8), rng.integers(0, 10, n)


def test_textbook_dataset_returns_one_float_image_per_item():
    images, labels = data()
    x, y = TensorPerItem(images, labels, "-1,1")[3]
    assert x.shape == (1, 8, 8) and x.dtype == torch.float32 and int(y) == labels[3]
    assert torch.equal(x, torch.from_numpy(images[3].astype(np.float32)) / 127.5 - 1)


def test_the_reference_loader_serves_the_batchers_batches_in_order():
    images, labels = data()
    batcher = Batcher(images, labels, batch_size=16, seed=3, scale="0,1")
    loader = reference_batches(images, labels, batch_size=16, seed=3, scale="0,1")
    before = torch.get_rng_state()
    for _ in range(6):
        (x, y), (rx, ry) = batcher.next_batch(), next(loader)
        assert torch.equal(x, rx) and torch.equal(y, ry)
    assert torch.equal(torch.get_rng_state(), before)  # the loader leaves the global stream (dropout) alone


def test_both_sides_train_identically_and_are_both_timed():
    images, labels = data()
    for name in ("gan", "vae"):  # gan: dropout on torch's global stream, two optimisers
        r = compare_training(name, images, labels, INFO, preset=None, batch_size=16, rounds=3, steps_per_round=2)
        assert (
            len(r["ours_losses"]) == len(r["reference_losses"]) == 6
            and r["loss_key"] == {"gan": "loss_d", "vae": "loss"}[name]
        )
        assert r["max_metric_difference"] == 0.0
        assert r["ours_images_per_s"] > 0 and r["reference_images_per_s"] > 0 and r["timed_steps"] == 4
        assert (
            np.isclose(r["ratio"], r["ours_images_per_s"] / r["reference_images_per_s"]) and r["ratio_of_totals"] > 0
        )


def test_the_fast_side_runs_bfloat16_and_tracks_the_reference_to_its_rounding():
    images, labels = data()
    fast = {**FAST_OPTIONS, "channels_last": True}  # every option, so the channels-last batches are exercised too
    r = compare_training(
        "conv-vae", images, labels, INFO, preset=None, batch_size=16, rounds=3, steps_per_round=2, fast=fast
    )
    assert r["max_metric_difference"] == 0.0  # the float32 side is still exact
    assert r["fast_options"] == fast and len(r["fast_losses"]) == 6
    assert r["fast_losses"] != r["reference_losses"]  # bfloat16 really ran ...
    assert 0 < r["fast_relative_difference"] < 0.05  # ... and differs by rounding only
    assert np.isclose(r["fast_ratio"], r["fast_images_per_s"] / r["reference_images_per_s"])
