"""Tests for genlab.data.shapes64: the procedural ornament data set with known factors."""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest
from scipy.stats import chi2_contingency, chisquare

from genlab.data import DataInfo, load_dataset, load_shapes64, render_shapes64, shapes64_factors
from genlab.data.shapes64 import (
    BACKGROUNDS,
    FACTOR_NAMES,
    FACTOR_SIZES,
    NUM_CLASSES,
    POSITION_STEP,
    sample_shapes64_factors,
)
from genlab.errors import DataError

MOTIF, HUE, BACKGROUND, POS_X, POS_Y, SIZE, COUNT = range(7)
# Golden values, recorded from the generator when the data set was released.
GOLDEN_FIRST_FACTORS = [3, 1, 3, 7, 5, 5, 1]  # test image 0: a rose-paper lattice
GOLDEN_PIXELS = [[206, 244, 182, 241, 244, 244], [174, 212, 149, 209, 212, 212], [135, 222, 79, 216, 222, 222]]


@pytest.fixture(scope="module")
def test_split() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    images, labels = load_shapes64("test")
    return images, labels, shapes64_factors("test")[0]


def test_splits_have_the_documented_shapes_and_dtypes(test_split) -> None:
    images, labels, factors = test_split
    assert images.shape == (5_000, 3, 64, 64) and images.dtype == np.uint8
    assert labels.shape == (5_000,) and labels.dtype == np.int64
    assert factors.shape == (5_000, 7) and factors.dtype == np.int64
    np.testing.assert_array_equal(labels, factors[:, MOTIF])
    assert not images.flags.writeable and not labels.flags.writeable and not factors.flags.writeable
    train, train_labels, info = load_dataset("shapes64", "train", data_dir="/nonexistent/ignored")
    assert train.shape == (30_000, 3, 64, 64) and train_labels.shape == (30_000,)
    assert info == DataInfo(channels=3, height=64, width=64, num_classes=NUM_CLASSES)
    assert set(np.unique(train_labels)) == set(range(NUM_CLASSES))


def test_factor_metadata(test_split) -> None:
    _, names, sizes = shapes64_factors("test")
    assert names == FACTOR_NAMES and sizes == FACTOR_SIZES and len(names) == len(sizes) == 7
    assert sizes[MOTIF] == NUM_CLASSES
    factors = test_split[2]
    assert (factors.min(0) == 0).all() and (factors.max(0) == np.array(sizes) - 1).all()


def test_loading_is_cached_and_deterministic(test_split) -> None:
    images, _, factors = test_split
    assert load_shapes64("test")[0] is images  # second load: the cached, read-only array
    # Rendering again from the factors, and drawing the factors again, give the same bytes.
    np.testing.assert_array_equal(render_shapes64(factors[:300]), images[:300])
    np.testing.assert_array_equal(sample_shapes64_factors(5_000, 64_002), factors)
    assert not np.array_equal(sample_shapes64_factors(100, 1), sample_shapes64_factors(100, 2))
    assert not np.array_equal(shapes64_factors("train")[0][:5_000], factors)  # the splits differ


def test_golden_factors_and_pixels(test_split) -> None:
    # Pinned so that any change to the data set is seen: the factor draw is PCG64 integers
    # (platform-independent), pixels are compared with a tolerance of 1 grey level.
    images, _, factors = test_split
    assert hashlib.md5(factors.tobytes()).hexdigest() == "56bc644e3c893d32997de5fa04f7b82d"
    assert factors[0].tolist() == GOLDEN_FIRST_FACTORS
    np.testing.assert_allclose(images[0, :, 32, 20:44:4].astype(int), GOLDEN_PIXELS, atol=1)


def test_factors_are_uniform_and_pairwise_independent() -> None:
    factors = shapes64_factors("train")[0]
    for j, size in enumerate(FACTOR_SIZES):
        assert chisquare(np.bincount(factors[:, j], minlength=size)).pvalue > 1e-3, FACTOR_NAMES[j]
    for a, b in itertools.combinations(range(len(FACTOR_SIZES)), 2):
        table = np.zeros((FACTOR_SIZES[a], FACTOR_SIZES[b]), dtype=np.int64)
        np.add.at(table, (factors[:, a], factors[:, b]), 1)
        assert chi2_contingency(table).pvalue > 1e-3, (FACTOR_NAMES[a], FACTOR_NAMES[b])
    # The same check does see a dependence: position y forced to follow the motif half the time.
    dependent = np.where(np.arange(len(factors)) % 2 == 0, factors[:, MOTIF], factors[:, POS_Y])
    table = np.zeros((FACTOR_SIZES[MOTIF], FACTOR_SIZES[POS_Y]), dtype=np.int64)
    np.add.at(table, (factors[:, MOTIF], dependent), 1)
    assert chi2_contingency(table).pvalue < 1e-10


@pytest.mark.parametrize("factor", range(7), ids=FACTOR_NAMES)
def test_every_value_of_every_factor_renders_differently(factor: int) -> None:
    bases = sample_shapes64_factors(4, seed=factor)
    for base in bases:
        variants = np.repeat(base[None], FACTOR_SIZES[factor], axis=0)
        variants[:, factor] = np.arange(FACTOR_SIZES[factor])
        images = render_shapes64(variants).reshape(FACTOR_SIZES[factor], -1)
        assert len(np.unique(images, axis=0)) == FACTOR_SIZES[factor], base


def test_position_is_a_pure_translation() -> None:
    base = sample_shapes64_factors(20, seed=3)
    base[:, POS_X] = np.minimum(base[:, POS_X], FACTOR_SIZES[POS_X] - 2)
    base[:, POS_Y] = np.minimum(base[:, POS_Y], FACTOR_SIZES[POS_Y] - 2)
    right, down = base.copy(), base.copy()
    right[:, POS_X] += 1
    down[:, POS_Y] += 1
    images = render_shapes64(base)
    np.testing.assert_array_equal(render_shapes64(right), np.roll(images, POSITION_STEP, axis=3))
    np.testing.assert_array_equal(render_shapes64(down), np.roll(images, POSITION_STEP, axis=2))


def test_the_largest_motif_stays_inside_the_image_at_every_position() -> None:
    corners = [0, FACTOR_SIZES[POS_X] - 1]
    factors = np.array(
        [
            [m, 0, 0, x, y, FACTOR_SIZES[SIZE] - 1, k]
            for m in range(NUM_CLASSES)
            for x in corners
            for y in corners
            for k in (0, FACTOR_SIZES[COUNT] - 1)
        ]
    )
    images = render_shapes64(factors)
    paper = np.array(BACKGROUNDS["cream"], dtype=np.uint8)
    border = np.concatenate(
        [images[:, :, 0], images[:, :, -1], images[:, :, :, 0], images[:, :, :, -1]], axis=2
    )  # (N, 3, 256)
    assert (border == paper[None, :, None]).all()


def test_motif_area_grows_with_size() -> None:
    base = np.repeat(sample_shapes64_factors(12, seed=5)[:, None], FACTOR_SIZES[SIZE], axis=1)  # (12, 6, 7)
    base[:, :, SIZE] = np.arange(FACTOR_SIZES[SIZE])
    base[:, :, BACKGROUND] = 0
    images = render_shapes64(base.reshape(-1, 7)).astype(int)
    paper = np.array(BACKGROUNDS["cream"])[None, :, None, None]
    ink = np.abs(images - paper).sum((1, 2, 3)).reshape(12, FACTOR_SIZES[SIZE])
    assert (np.diff(ink, axis=1) > 0).all()


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="split"):
        load_shapes64("val")
    with pytest.raises(DataError, match="split"):
        load_dataset("shapes64", "validation")
    with pytest.raises(DataError, match=r"shape \(N, 7\)"):
        render_shapes64(np.zeros((3, 6), dtype=np.int64))
    with pytest.raises(DataError, match="integers"):
        render_shapes64(np.zeros((3, 7)))
    too_big = np.zeros((2, 7), dtype=np.int64)
    too_big[1, HUE] = FACTOR_SIZES[HUE]
    with pytest.raises(DataError, match="'hue'"):
        render_shapes64(too_big)
    assert render_shapes64(np.zeros((0, 7), dtype=np.int64)).shape == (0, 3, 64, 64)
