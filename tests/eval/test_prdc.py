import contextlib
import io

import numpy as np
import pytest

from genlab.errors import DataError
from genlab.eval import metrics
from genlab.eval.metrics import precision_recall_density_coverage

KEYS = ("precision", "recall", "density", "coverage")


def reference_prdc(real, fake, k):
    prdc = pytest.importorskip("prdc")
    with contextlib.redirect_stdout(io.StringIO()):  # compute_prdc prints the set sizes
        return {key: float(v) for key, v in prdc.compute_prdc(real, fake, k).items()}


@pytest.mark.parametrize(
    ("n_real", "n_fake", "d", "k", "shift"),
    [(50, 60, 3, 5, 0.0), (200, 150, 16, 3, 0.5), (300, 300, 64, 5, 0.2), (40, 25, 2, 1, 1.0)],
)
def test_matches_prdc_package(n_real, n_fake, d, k, shift):
    rng = np.random.default_rng(n_real + d)
    real, fake = rng.normal(size=(n_real, d)), rng.normal(size=(n_fake, d)) * 1.2 + shift
    ours = precision_recall_density_coverage(real, fake, nearest_k=k)
    expected = reference_prdc(real, fake, k)
    for key in KEYS:
        assert isinstance(ours[key], float)
        assert ours[key] == pytest.approx(expected[key], abs=1e-6), key


def test_matches_prdc_package_with_ties_and_duplicates():
    grid = np.array([[i, j] for i in range(6) for j in range(6)], dtype=np.float64)  # equal distances everywhere
    fake = np.concatenate([grid[::3] * 2 + [0.0, 1.0], grid[:4]])  # half outside the grid, four on real points
    ours = precision_recall_density_coverage(grid, fake, nearest_k=3)
    expected = reference_prdc(grid, fake, 3)
    assert ours == pytest.approx(expected, abs=1e-12)


def test_hand_made_example():
    real = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])  # k=1 radii: 1, 1, 1, 1, 7
    fake = np.array([[0.5], [10.1]])  # k=1 radii: 9.6, 9.6
    result = precision_recall_density_coverage(real, fake, nearest_k=1)
    assert result == {
        "precision": 1.0,  # both fakes lie in some real ball
        "recall": 1.0,  # every real point lies within 9.6 of a fake
        "density": 1.5,  # 0.5 is in the balls of 0 and 1, 10.1 in the ball of 10: (2 + 1) / 2
        "coverage": 0.6,  # the balls of 0, 1 and 10 hold a fake; those of 2 and 3 do not
    }


def test_blocked_computation_equals_one_block(monkeypatch):
    rng = np.random.default_rng(7)
    real, fake = rng.normal(size=(83, 5)), rng.normal(size=(71, 5)) + 0.3
    whole = precision_recall_density_coverage(real, fake, nearest_k=4)
    monkeypatch.setattr(metrics, "_PRDC_BLOCK_VALUES", 250)  # blocks of 3 rows, a shorter last one
    assert precision_recall_density_coverage(real, fake, nearest_k=4) == whole


def test_identical_sets_have_full_precision_recall_coverage():
    x = np.random.default_rng(3).normal(size=(100, 4))
    result = precision_recall_density_coverage(x, x.copy(), nearest_k=5)
    assert result["precision"] == result["recall"] == result["coverage"] == 1.0


@pytest.mark.parametrize(
    ("real", "fake", "k", "message"),
    [
        (np.zeros(10), np.zeros((10, 2)), 5, "2-D"),
        (np.ones((10, 3)), np.ones((10, 2)), 5, "different feature dimensions"),
        (np.ones((10, 2)), np.full((10, 2), np.nan), 5, "NaN"),
        (np.ones((5, 2)), np.ones((10, 2)), 5, "at least 6"),
        (np.ones((10, 2)), np.ones((10, 2)), 0, "nearest_k"),
    ],
)
def test_bad_input_raises_data_error(real, fake, k, message):
    with pytest.raises(DataError, match=message):
        precision_recall_density_coverage(real, fake, nearest_k=k)
