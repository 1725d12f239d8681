"""genlab.report.measures against closed-form values."""

import math

import numpy as np
import pytest

from genlab.report.measures import (
    laplacian_variance,
    linear_probe_accuracy,
    majority_rate,
    mean_consecutive_step,
    path_length_ratio,
    spread,
)


def test_straight_even_path_steps_by_its_velocity_and_has_ratio_one():
    v = np.array([3.0, 4.0])  # |v| = 5
    path = np.arange(6)[:, None] * v  # (S=6, D=2), equal steps along one line
    features = np.stack([path, path + 1.0])  # (P=2, S, D)
    assert mean_consecutive_step(features) == pytest.approx(5.0)
    assert path_length_ratio(features) == pytest.approx(1.0)


def test_path_that_goes_out_and_back_half_way_is_three_times_longer_than_its_span():
    # 0 -> 2 -> 1 along a line: length 3, ends 1 apart.
    features = np.array([[[0.0], [2.0], [1.0]]])
    assert mean_consecutive_step(features) == pytest.approx(1.5)
    assert path_length_ratio(features) == pytest.approx(3.0)


def test_interpolation_needs_two_frames():
    with pytest.raises(ValueError):
        mean_consecutive_step(np.zeros((2, 1, 3)))


def test_probe_reads_a_linearly_coded_class_and_not_noise():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 50)
    coded = rng.normal(size=(200, 8)) * 0.1
    coded[np.arange(200), y] += 3.0  # class k lives on axis k
    assert linear_probe_accuracy(coded, y) == 1.0
    noise = rng.normal(size=(200, 8))
    assert linear_probe_accuracy(noise, y) < 0.5  # chance is 0.25


def test_probe_refuses_a_single_class():
    with pytest.raises(ValueError):
        linear_probe_accuracy(np.zeros((10, 2)), np.zeros(10, dtype=int))


def test_majority_rate():
    assert majority_rate(np.array([1, 1, 1, 2])) == 0.75


def test_laplacian_variance_flat_is_zero_and_checkerboard_is_sixteen():
    flat = np.full((2, 1, 8, 8), 77, dtype=np.uint8)
    assert laplacian_variance(flat) == 0.0
    i, j = np.indices((28, 28))
    board = ((i + j) % 2 * 255).astype(np.uint8)[None, None]  # 4-neighbour Laplacian is +-4 everywhere inside
    assert laplacian_variance(board) == pytest.approx(16.0)
    rgb = np.repeat(board, 3, axis=1)  # grey = mean over channels: same value
    assert laplacian_variance(rgb) == pytest.approx(16.0)


def test_spread_over_seeds():
    assert spread([1.0, 3.0]) == pytest.approx({"n": 2, "mean": 2.0, "std": math.sqrt(2), "cv": math.sqrt(2) / 2})
    one = spread([4.0, None, float("nan")])
    assert one == {"n": 1, "mean": 4.0, "std": None, "cv": None}  # one seed: spread not measured, not zero
    assert spread([])["mean"] is None
