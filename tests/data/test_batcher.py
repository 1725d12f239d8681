"""Tests for genlab.data.batcher: coverage, exact resume, scaling and input checks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from genlab.data.batcher import Batcher, iterate_batches
from genlab.errors import DataError

N = 10


def indexed_images(n: int = N, c: int = 1) -> np.ndarray:
    """uint8 (n, c, 2, 3) images whose every pixel holds the example's index."""
    return np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n, c, 2, 3)).copy()


def make(**overrides) -> Batcher:
    kwargs = {"batch_size": 3, "seed": 0, "shuffle": True, "drop_last": True} | overrides
    return Batcher(indexed_images(), np.arange(N), **kwargs)


def take_labels(batcher: Batcher, steps: int) -> list[int]:
    return [int(y) for _ in range(steps) for y in batcher.next_batch()[1]]


def test_batch_shapes_dtypes_and_properties() -> None:
    batcher = make(batch_size=4)
    x, y = batcher.next_batch()
    assert x.shape == (4, 1, 2, 3) and x.dtype == torch.float32
    assert y.shape == (4,) and y.dtype == torch.int64
    assert (batcher.num_examples, batcher.image_shape, batcher.steps_per_epoch) == (N, (1, 2, 3), 2)
    assert make(batch_size=4, drop_last=False).steps_per_epoch == 3


def test_images_and_labels_stay_paired() -> None:
    x, y = make(scale="0,1").next_batch()
    # Pixel value k / 255 belongs to example k.
    torch.testing.assert_close(x[:, 0, 0, 0], y.float() / 255)


def test_three_dim_input_and_no_labels() -> None:
    batcher = Batcher(indexed_images()[:, 0], batch_size=5, seed=0)
    x, y = batcher.next_batch()
    assert x.shape == (5, 1, 2, 3) and y is None and batcher.image_shape == (1, 2, 3)


def test_every_example_exactly_once_per_epoch_without_drop() -> None:
    batcher = make(batch_size=3, drop_last=False)
    for epoch in range(3):
        assert sorted(take_labels(batcher, batcher.steps_per_epoch)) == list(range(N))
        assert batcher.state_dict() == {"epoch": epoch + 1, "position": 0}


def test_drop_last_skips_the_remainder_and_rolls_over() -> None:
    batcher = make(batch_size=3, seed=4)
    first = take_labels(batcher, 3)
    assert len(set(first)) == 9
    assert batcher.state_dict() == {"epoch": 1, "position": 0}
    assert take_labels(batcher, 1) == batcher.epoch_order(1)[:3].tolist()


def test_epoch_order_is_the_documented_pure_function_of_seed_and_epoch() -> None:
    batcher = make(batch_size=2, seed=5, drop_last=False)
    for epoch in range(2):
        generator = torch.Generator().manual_seed(5 * 1_000_003 + epoch)
        expected = torch.randperm(N, generator=generator).tolist()
        assert take_labels(batcher, batcher.steps_per_epoch) == expected


def test_no_shuffle_keeps_order() -> None:
    batcher = make(batch_size=5, shuffle=False)
    assert take_labels(batcher, 4) == list(range(N)) * 2


@pytest.mark.parametrize("drop_last", [True, False])
@pytest.mark.parametrize("steps_before", [0, 1, 3, 4, 7])
def test_resume_from_state_dict_gives_identical_batches(drop_last: bool, steps_before: int) -> None:
    original = make(batch_size=3, seed=11, drop_last=drop_last)
    for _ in range(steps_before):
        original.next_batch()
    state = original.state_dict()
    resumed = make(batch_size=3, seed=11, drop_last=drop_last)
    resumed.load_state_dict(dict(state))
    for _ in range(8):  # crosses at least two epoch boundaries
        (xa, ya), (xb, yb) = original.next_batch(), resumed.next_batch()
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_same_seed_same_batches_other_seed_different() -> None:
    assert take_labels(make(seed=1), 6) == take_labels(make(seed=1), 6)
    assert take_labels(make(seed=1), 6) != take_labels(make(seed=2), 6)


@pytest.mark.parametrize(("scale", "low", "high"), [("-1,1", -1.0, 1.0), ("0,1", 0.0, 1.0)])
def test_scaling_is_exact_over_all_256_values(scale: str, low: float, high: float) -> None:
    values = torch.arange(256, dtype=torch.uint8).reshape(256, 1, 1, 1)
    x, _ = Batcher(values, batch_size=256, seed=0, scale=scale, shuffle=False).next_batch()
    assert x.min().item() == low and x.max().item() == high
    divisor = 127.5 if scale == "-1,1" else 255.0
    expected = values.float() / divisor + low
    assert torch.equal(x, expected)


def test_tensor_and_read_only_array_inputs_without_warnings() -> None:
    images = indexed_images()
    images.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Batcher(images, np.arange(N, dtype=np.uint8), batch_size=2, seed=0).next_batch()
        Batcher(torch.from_numpy(indexed_images()), batch_size=2, seed=0).next_batch()


def test_iterate_batches_is_one_ordered_pass_with_short_last_batch() -> None:
    batches = list(iterate_batches(indexed_images(), np.arange(N), batch_size=4, scale="0,1"))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    assert torch.cat([y for _, y in batches]).tolist() == list(range(N))
    assert batches[0][0].max().item() == pytest.approx(3 / 255)


@pytest.mark.parametrize(
    ("images", "labels", "kwargs", "match"),
    [
        (indexed_images(), None, {"batch_size": 0}, "batch_size"),
        (indexed_images(), None, {"batch_size": N + 1}, "drop_last"),
        (indexed_images().astype(np.float32), None, {}, "uint8"),
        (np.zeros((N, 4), np.uint8), None, {}, r"\(N, H, W\)"),
        (np.zeros((N, 1, 1, 2, 3), np.uint8), None, {}, r"\(N, H, W\)"),
        (np.zeros((0, 2, 3), np.uint8), None, {}, "empty"),
        (indexed_images(), np.arange(N - 1), {}, "shape"),
        (indexed_images(), np.zeros(N, np.float32), {}, "integers"),
        (indexed_images(), torch.zeros(N), {}, "integers"),
        (indexed_images(), None, {"scale": "0,255"}, "scale"),
        (indexed_images(), None, {"seed": -1}, "seed"),
        ([[1, 2]], None, {}, "NumPy array or torch tensor"),
    ],
)
def test_bad_inputs_raise_data_error(images, labels, kwargs, match: str) -> None:
    kwargs = {"batch_size": 2, "seed": 0} | kwargs
    with pytest.raises(DataError, match=match):
        Batcher(images, labels, **kwargs)


@pytest.mark.parametrize("state", [{"epoch": 0}, {"epoch": -1, "position": 0}, {"epoch": 0, "position": 9}])
def test_bad_state_raises_data_error(state: dict) -> None:
    with pytest.raises(DataError, match="state"):
        make(batch_size=3).load_state_dict(state)


def test_memory_mapped_images_give_the_same_batches_without_being_read_whole(tmp_path):
    images = indexed_images(40, c=3)
    np.save(tmp_path / "x.npy", images)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    on_disk = Batcher(mapped, np.arange(40), batch_size=8, seed=3)
    in_memory = Batcher(images, np.arange(40), batch_size=8, seed=3)
    assert isinstance(on_disk._images, np.memmap)  # kept as the map: each batch reads its own rows only
    for _ in range(7):  # across an epoch boundary
        (x1, y1), (x2, y2) = on_disk.next_batch(), in_memory.next_batch()
        assert torch.equal(x1, x2) and torch.equal(y1, y2) and x1.shape == (8, 3, 2, 3)
    grey = Batcher(np.load(tmp_path / "x.npy", mmap_mode="r")[:, 0], None, batch_size=4, seed=0)
    assert grey.image_shape == (1, 2, 3)
