"""Tests for genlab.eval.disentangle: MIG, DCI and the FactorVAE score against closed forms."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from genlab.errors import ConfigError, DataError
from genlab.eval.disentangle import (
    completeness_score,
    dci,
    disentanglement_score,
    factor_entropies,
    factorvae_score,
    histogram_discretise,
    mig,
    mig_per_factor,
)


def grid(*sizes: int, repeat: int = 1) -> np.ndarray:
    """Every combination of the factor values, ``repeat`` times: empirically independent factors."""
    rows = np.array(list(itertools.product(*(range(s) for s in sizes))), dtype=np.int64)
    return np.tile(rows, (repeat, 1))


def relabel(factors: np.ndarray) -> np.ndarray:
    """The factors as codes, up to a permutation of dimensions and a per-dimension affine map."""
    scale = np.array([2.5, -0.3, 7.0, 1.1])[: factors.shape[1]]
    return (factors * scale + np.arange(factors.shape[1]))[:, ::-1].astype(np.float64)


@pytest.fixture(scope="module")
def random_factors() -> np.ndarray:
    return np.random.default_rng(0).integers(0, [6, 8, 4, 5], size=(4000, 4))


def test_histogram_discretise_gives_each_of_few_values_its_own_bin() -> None:
    x = np.array([[0.0, 5.0], [1.0, 5.0], [2.0, 5.0], [7.0, 5.0]])
    binned = histogram_discretise(x, bins=7)
    assert binned[:, 0].tolist() == [1, 2, 3, 7] and len(set(binned[:, 1])) == 1
    assert histogram_discretise(np.random.default_rng(1).normal(size=(500, 3))).max() == 20


def test_factor_entropy_of_a_uniform_factor_is_log_k() -> None:
    assert np.allclose(factor_entropies(grid(4, 6)), [math.log(4), math.log(6)])


def test_codes_equal_to_the_factors_give_mig_one() -> None:
    factors = grid(4, 5, 3, repeat=3)
    assert mig(relabel(factors), factors) == pytest.approx(1.0, abs=1e-12)


def test_mig_of_a_code_that_merges_values_pairwise() -> None:
    # code 0 = f0 // 2 keeps 1 bit of f0's 2: I = log 2 = H(f0) / 2, so f0's gap is 1/2; f1's is 1.
    factors = grid(4, 4, repeat=2)
    codes = np.stack([factors[:, 0] // 2, factors[:, 1]], axis=1).astype(float)
    assert mig_per_factor(codes, factors) == pytest.approx([0.5, 1.0], abs=1e-12)
    assert mig(codes, factors) == pytest.approx(0.75, abs=1e-12)


def test_a_factor_copied_into_two_dimensions_has_no_gap(random_factors) -> None:
    codes = relabel(random_factors)
    assert mig(np.concatenate([codes, codes], axis=1), random_factors) == pytest.approx(0.0, abs=1e-12)
    # One duplicated factor out of four: the others keep their gaps near 1.
    one_copied = np.concatenate([codes, codes[:, :1]], axis=1)
    per_factor = mig_per_factor(one_copied, random_factors)
    assert per_factor.min() == pytest.approx(0.0, abs=1e-12) and np.sort(per_factor)[1:].min() > 0.95


def test_codes_independent_of_the_factors_give_mig_near_zero(random_factors) -> None:
    noise = np.random.default_rng(2).normal(size=(random_factors.shape[0], 6))
    assert 0 <= mig(noise, random_factors) < 0.02
    assert mig(relabel(random_factors), random_factors) > 0.97  # same factors, informative codes


def test_disentanglement_and_completeness_closed_forms() -> None:
    assert disentanglement_score(np.eye(3)) == pytest.approx(1.0) and completeness_score(np.eye(3)) == pytest.approx(
        1.0
    )
    assert disentanglement_score(np.ones((4, 3))) == pytest.approx(0.0, abs=1e-9)
    assert completeness_score(np.ones((4, 3))) == pytest.approx(0.0, abs=1e-9)
    # One code explains both factors: not disentangled, but each factor lives in one code.
    both = np.array([[1.0, 1.0], [0.0, 0.0]])
    assert disentanglement_score(both) == pytest.approx(0.0, abs=1e-9) and completeness_score(both) == pytest.approx(
        1.0
    )
    # Factor 0 split evenly over two codes: those codes are still pure (D = 1), but factor 0's
    # completeness is 1 - H_3(1/2, 1/2, 0) = 1 - log 2 / log 3, weighted 1/2 against factor 1's 1.
    split = np.array([[0.5, 0.0], [0.5, 0.0], [0.0, 1.0]])
    assert disentanglement_score(split) == pytest.approx(1.0)
    assert completeness_score(split) == pytest.approx(1 - math.log(2) / math.log(3) / 2)


def test_dci_of_codes_equal_to_the_factors() -> None:
    factors = grid(4, 5, 3, repeat=10)
    scores = dci(relabel(factors), factors, seed=0)
    assert scores.disentanglement > 0.999 and scores.completeness > 0.999
    assert scores.informativeness == 1.0 and scores.importance.shape == (3, 3)
    assert np.allclose(scores.importance.sum(0), 1.0)
    # The importance matrix is the (reversed) identity: relabel reverses the dimension order.
    assert (scores.importance.argmax(0) == [2, 1, 0]).all()


def test_dci_of_codes_independent_of_the_factors(random_factors) -> None:
    factors = random_factors[:800]  # random forests are the slow part: keep N small
    noise = np.random.default_rng(3).normal(size=(factors.shape[0], 5))
    scores = dci(noise, factors, seed=0)
    assert scores.disentanglement < 0.1 and scores.completeness < 0.1
    chance = (1 / np.array([6, 8, 4, 5])).mean()
    assert scores.informativeness < chance + 0.05


def test_dci_with_gradient_boosting() -> None:
    factors = grid(3, 4, repeat=20)
    scores = dci(relabel(factors), factors, estimator="gradient-boosting", seed=0)
    assert scores.disentanglement > 0.99 and scores.completeness > 0.99 and scores.informativeness == 1.0


def test_dci_is_deterministic_under_a_seed(random_factors) -> None:
    factors = random_factors[:500]
    codes = relabel(factors) + np.random.default_rng(4).normal(scale=2.0, size=(factors.shape[0], 4))
    a, b, c = (dci(codes, factors, seed=s) for s in (0, 0, 1))
    assert np.array_equal(a.importance, b.importance) and a.informativeness == b.informativeness
    assert not np.array_equal(a.importance, c.importance)


def test_factorvae_score(random_factors) -> None:
    codes = relabel(random_factors)
    assert factorvae_score(codes, random_factors, train_votes=800, eval_votes=400) == 1.0
    noise = np.random.default_rng(5).normal(size=(random_factors.shape[0], 4))
    assert factorvae_score(noise, random_factors, train_votes=800, eval_votes=400) < 0.5
    # Deterministic under a seed; collapsed (near-constant) dimensions are pruned.
    kw = dict(train_votes=300, eval_votes=300)
    noisy = codes + np.random.default_rng(6).normal(scale=3.0, size=codes.shape)
    assert factorvae_score(noisy, random_factors, seed=3, **kw) == factorvae_score(noisy, random_factors, seed=3, **kw)
    assert factorvae_score(np.zeros_like(codes), random_factors, **kw) == 0.0


def test_bad_input_is_a_clear_error(random_factors) -> None:
    codes = relabel(random_factors)
    with pytest.raises(DataError, match="same N"):
        mig(codes[:10], random_factors)
    with pytest.raises(DataError, match="integer"):
        mig(codes, random_factors.astype(float))
    with pytest.raises(DataError, match="single value"):
        mig(codes, np.zeros_like(random_factors))
    with pytest.raises(DataError, match="at least 2 code dimensions"):
        mig(codes[:, :1], random_factors)
    with pytest.raises(DataError, match="NaN"):
        mig(np.full_like(codes, np.nan), random_factors)
    with pytest.raises(ConfigError, match="bins"):
        mig(codes, random_factors, bins=1)
    with pytest.raises(ConfigError, match="estimator"):
        dci(codes, random_factors, estimator="lasso")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="importance"):
        disentanglement_score(np.ones(3))
