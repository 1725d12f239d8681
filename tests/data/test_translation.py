"""The procedural translation sets: layout, ground truth, transforms, splits, determinism."""

import numpy as np
import pytest
import torch

from genlab.data import DataInfo, load_dataset, load_mnist
from genlab.data.datasets import LOADERS
from genlab.data.translation import (
    BACKGROUND_RGB,
    TRANSLATION_SETS,
    _build,
    class_colours,
    colour_digits,
    join_pair,
    load_translation,
    outline_digits,
    split_pair,
    thick_digits,
    thin_digits,
    translation_ground_truth,
)
from genlab.errors import DataError


@pytest.fixture(scope="module")
def digits():
    x, y = load_mnist("test")
    return x[:200], y[:200].astype(np.int64)


@pytest.mark.parametrize("name", list(TRANSLATION_SETS))
def test_every_set_is_registered_and_loads_side_by_side_pairs(name):
    assert name in LOADERS
    images, labels, info = load_dataset(name, "test")
    spec = TRANSLATION_SETS[name]
    c, s, n = spec.channels, spec.size, 10_000 if spec.source is None else len(labels)
    assert info == DataInfo(c, s, 2 * s, spec.num_classes)
    assert images.shape == (n, c, s, 2 * s) and images.dtype == np.uint8 and not images.flags.writeable
    assert labels.shape == (n,) and labels.dtype == np.int64 and n > 0


@pytest.mark.parametrize("name", ["digits-outline", "digits-colour"])
def test_paired_test_rows_are_a_and_b_of_the_same_mnist_digit(name, digits):
    x, y = digits
    spec = TRANSLATION_SETS[name]
    a, b = split_pair(load_translation(name, "test")[0][:200])
    assert np.array_equal(a, spec.a(x, y)) and np.array_equal(b, spec.b(x, y))
    gt_a, gt_b, gt_labels = translation_ground_truth(name)
    assert np.array_equal(gt_a[:200], a) and np.array_equal(gt_b[:200], b) and np.array_equal(gt_labels[:200], y)


def test_unpaired_test_split_is_shuffled_and_the_ground_truth_restores_the_pairs(digits):
    x, y = digits
    pairs, labels = load_translation("digits-thickness", "test")
    a, b = split_pair(pairs)
    gt_a, gt_b, gt_labels = translation_ground_truth("digits-thickness")
    assert np.array_equal(gt_a, a) and np.array_equal(gt_labels, labels)
    assert np.array_equal(gt_a[:200, 0], thin_digits(x)) and np.array_equal(gt_b[:200, 0], thick_digits(x))
    aligned = np.all(b == gt_b, axis=(1, 2, 3)).mean()
    assert aligned < 0.01  # the loader's B column is not the A column's counterpart
    assert sorted(map(bytes, b.reshape(len(b), -1))) == sorted(map(bytes, gt_b.reshape(len(gt_b), -1)))


def test_unpaired_train_domains_come_from_disjoint_digits():
    x, _ = load_mnist("train")
    pairs, _ = load_translation("digits-thickness", "train")
    a, b = split_pair(pairs)
    index_of_thin = {bytes(v): i for i, v in enumerate(thin_digits(x).reshape(len(x), -1))}
    index_of_thick = {bytes(v): i for i, v in enumerate(thick_digits(x).reshape(len(x), -1))}
    src_a = {index_of_thin[bytes(v)] for v in a.reshape(len(a), -1)}
    src_b = {index_of_thick[bytes(v)] for v in b.reshape(len(b), -1)}
    assert len(a) == len(x) // 2 and not src_a & src_b
    with pytest.raises(DataError, match="unpaired"):
        translation_ground_truth("digits-thickness", "train")


def test_thick_thin_and_outline_transforms(digits):
    x, _ = digits
    thick, thin, outline = thick_digits(x), thin_digits(x), outline_digits(x)
    assert (thick >= x).all() and (thin <= x).all()  # dilation adds ink, erosion removes it
    assert (thick >= 128).sum() > 1.3 * (x >= 128).sum() and (thin >= 128).sum() < 0.8 * (x >= 128).sum()
    assert set(np.unique(outline)) <= {0, 255}
    assert ((outline == 255) <= (thick >= 128)).all()  # the contour lies on the thick digit
    assert 0 < (outline == 255).sum() < (thick >= 128).sum()  # and is hollow


def test_colour_digits_paint_class_colour_with_stripes_on_dark_paper():
    x = np.zeros((2, 28, 28), np.uint8)
    x[:, 10:14, 10:14] = 255
    out = colour_digits(x, np.array([0, 5]))
    assert out.shape == (2, 3, 28, 28)
    assert (out[:, :, 0, 0] == np.array(BACKGROUND_RGB)).all()
    for k, label in enumerate((0, 5)):
        i, j = 12, 12
        stripe = 0.7 + 0.3 * np.cos(2 * np.pi * (i + j) / 6)
        assert np.allclose(out[k, :, i, j], np.round(class_colours()[label] * stripe * 255), atol=1)
    assert not np.array_equal(out[0, :, 12, 12], out[1, :, 12, 12])


def test_building_twice_gives_identical_arrays():
    first = load_translation("digits-thickness", "test")[0].copy()
    _build.cache_clear()
    assert np.array_equal(first, load_translation("digits-thickness", "test")[0])


def test_split_and_join_are_inverse_for_arrays_and_tensors():
    x = np.arange(2 * 3 * 4 * 6, dtype=np.uint8).reshape(2, 3, 4, 6)
    a, b = split_pair(x)
    assert a.shape == b.shape == (2, 3, 4, 3) and np.array_equal(join_pair(a, b), x)
    t = torch.from_numpy(x)
    ta, tb = split_pair(t)
    assert torch.equal(join_pair(ta, tb), t)
    with pytest.raises(DataError, match="even width"):
        split_pair(np.zeros((1, 1, 4, 5)))
    with pytest.raises(DataError, match="same shape"):
        join_pair(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 4, 5)))


def test_unknown_set_and_split_are_clear_errors():
    with pytest.raises(DataError, match="known: digits-outline"):
        load_translation("digits-nope", "test")
    with pytest.raises(DataError, match="split must be"):
        load_translation("digits-outline", "valid")
