"""Mode-coverage definitions on point sets whose answers are known."""

import math

import numpy as np
import pytest
import torch

from genlab.data.toy import grid25, grid25_centres, ring8, ring8_centres
from genlab.eval.modes import mode_coverage, reverse_kl_to_uniform


def test_real_data_covers_every_mode_with_high_quality():
    g = torch.Generator().manual_seed(0)
    ring = mode_coverage(ring8(2500, g).numpy(), ring8_centres().numpy(), 0.02)
    grid = mode_coverage(grid25(2500, g).numpy(), grid25_centres().numpy(), 0.05)
    assert ring["modes"] == ring["modes_20"] == 8 and grid["modes"] == grid["modes_20"] == 25
    # within 3 sigma in 2-D: 1 - exp(-9/2) = 98.9 % of a Gaussian's mass
    assert ring["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.006)
    assert grid["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.006)
    assert ring["reverse_kl"] < 0.01 and grid["reverse_kl"] < 0.02


def test_a_collapsed_generator_covers_one_mode():
    centres = ring8_centres().numpy()
    one_mode = np.repeat(centres[:1], 2500, axis=0)
    result = mode_coverage(one_mode, centres, 0.02)
    assert result["modes"] == 1 and result["high_quality"] == 1.0
    assert result["reverse_kl"] == pytest.approx(math.log(8))
    assert result["histogram"] == [2500] + [0] * 7


def test_points_between_modes_are_not_high_quality_and_small_counts_are_not_pacgan_modes():
    centres = np.array([[0.0, 0.0], [1.0, 0.0]])
    pts = np.array([[0.5, 0.0]] * 90 + [[0.0, 0.0]] * 10)
    result = mode_coverage(pts, centres, 0.05)
    assert result["high_quality"] == pytest.approx(0.1)
    assert result["modes"] == 1 and result["modes_20"] == 0


def test_reverse_kl_by_hand():
    assert reverse_kl_to_uniform(np.array([1, 1, 2])) == pytest.approx(0.25 * math.log(0.75) * 2 + 0.5 * math.log(1.5))
    assert reverse_kl_to_uniform(np.zeros(3)) == math.inf
