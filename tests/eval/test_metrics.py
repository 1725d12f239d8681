import numpy as np
import pytest

from genlab.errors import DataError
from genlab.eval.metrics import (
    class_histogram,
    conditional_accuracy,
    inception_score,
    kernel_inception_distance,
    modes_covered,
)

# ---------------------------------------------------------------- KID


def brute_force_mmd2(x, y):
    """Unbiased MMD² with k(a, b) = (a·b / d + 1)^3, written as the double sums of Bińkowski et al. 2018."""
    m, d = len(x), x.shape[1]

    def k(a, b):
        return (a @ b / d + 1.0) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2.0 * xy


def test_kid_matches_brute_force_double_sums():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 3)) + 0.5
    # One subset the size of both sets: a permutation of them, which MMD² does not see.
    mean, std = kernel_inception_distance(x, y, num_subsets=1, subset_size=1000)
    assert mean == pytest.approx(brute_force_mmd2(x, y), rel=1e-12)
    assert std == 0.0


def test_kid_is_unbiased_for_one_distribution_and_positive_for_shifted():
    def kid_draws(shift):
        values = []
        for seed in range(50):
            rng = np.random.default_rng(seed)
            a, b = rng.normal(size=(100, 4)), rng.normal(size=(100, 4)) + shift
            values.append(kernel_inception_distance(a, b, num_subsets=1, subset_size=100)[0])
        values = np.array(values)
        return values.mean(), values.std(ddof=1) / np.sqrt(len(values))

    mean, standard_error = kid_draws(0.0)
    assert abs(mean) < 3 * standard_error
    mean, standard_error = kid_draws(0.5)
    assert mean > 10 * standard_error


def test_kid_subsets_are_seeded_and_clipped():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(60, 5)), rng.normal(size=(40, 5))
    first = kernel_inception_distance(a, b, num_subsets=20, subset_size=30, seed=3)
    assert kernel_inception_distance(a, b, num_subsets=20, subset_size=30, seed=3) == first
    assert kernel_inception_distance(a, b, num_subsets=20, subset_size=30, seed=4) != first
    assert first[1] > 0.0  # subsets differ
    # subset_size beyond the smaller set is clipped to it (40), not an error
    assert np.isfinite(kernel_inception_distance(a, b, num_subsets=3, subset_size=1000)).all()


# ---------------------------------------------------------------- Inception score


def one_hot(classes, k=10):
    return np.eye(k)[classes]


def test_is_of_confident_even_predictions_is_the_number_of_classes():
    tiled = one_hot(np.tile(np.arange(10), 100))  # every split holds each class 10 times
    assert inception_score(tiled, splits=10, seed=None) == pytest.approx((10.0, 0.0), abs=1e-6)
    assert inception_score(tiled, splits=1)[0] == pytest.approx(10.0, abs=1e-6)


def test_is_of_one_class_or_of_uniform_predictions_is_one():
    assert inception_score(one_hot(np.full(200, 3)))[0] == pytest.approx(1.0, abs=1e-12)
    assert inception_score(np.full((200, 10), 0.1))[0] == pytest.approx(1.0, abs=1e-12)


def test_is_shuffles_so_class_sorted_samples_are_not_penalised():
    sorted_by_class = one_hot(np.repeat(np.arange(10), 100))
    assert inception_score(sorted_by_class, splits=10, seed=None)[0] == pytest.approx(1.0)  # one class per split
    assert inception_score(sorted_by_class, splits=10)[0] > 9.0


def test_is_matches_salimans_reference_loop():
    from scipy.stats import entropy

    probs = np.random.default_rng(0).dirichlet(np.full(10, 0.3), size=500)
    scores = []
    for part in np.split(probs, 5):  # Salimans et al. 2016, improved-gan inception_score.py
        py = part.mean(axis=0)
        scores.append(np.exp(np.mean([entropy(row, py) for row in part])))
    assert inception_score(probs, splits=5, seed=None) == pytest.approx((np.mean(scores), np.std(scores)), rel=1e-10)


# ---------------------------------------------------------------- Classes and modes


def test_class_histogram_counts_argmax_classes():
    probs = np.array(
        [
            [0.9, 0.1, 0, 0],
            [0.6, 0.4, 0, 0],
            [0.2, 0.5, 0.3, 0],
            [0, 0, 1, 0],
            [0.1, 0.1, 0.7, 0.1],
            [0.3, 0, 0.4, 0.3],
        ]
    )
    counts = class_histogram(probs)
    assert counts.dtype == np.int64
    assert counts.tolist() == [2, 1, 3, 0]
    assert class_histogram(probs, num_classes=4).tolist() == [2, 1, 3, 0]
    assert class_histogram(np.array([3, 3, 1]), num_classes=5).tolist() == [0, 1, 0, 2, 0]


def test_modes_covered_counts_classes_above_the_fraction():
    assert modes_covered(np.array([50, 30, 19, 1])) == 3  # 1 % is below the 2 % default
    assert modes_covered(np.array([98, 2])) == 2  # exactly 2 % counts
    assert modes_covered(np.array([50, 30, 19, 1]), min_fraction=0.5) == 1
    assert modes_covered(np.array([100, 0, 0, 0, 0, 0, 0, 0, 0, 0])) == 1  # mode collapse


def test_conditional_accuracy_is_share_of_matching_argmax():
    probs = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]])
    assert conditional_accuracy(probs, np.array([0, 1, 1, 1])) == 0.75


# ---------------------------------------------------------------- Bad input

rng = np.random.default_rng(0)
good = rng.normal(size=(20, 3))
probs = np.full((20, 4), 0.25)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: kernel_inception_distance(good[0], good), "2-D"),
        (lambda: kernel_inception_distance(good, good[:, :2]), "different feature dimensions"),
        (lambda: kernel_inception_distance(good, np.where(good > 1, np.nan, good)), "NaN"),
        (lambda: kernel_inception_distance(good[:1], good), "at least 2"),
        (lambda: kernel_inception_distance(good, good, subset_size=1), "subset_size"),
        (lambda: inception_score(good), "softmax"),  # logits, not probabilities
        (lambda: inception_score(probs * 0.9), "sum to 1"),
        (lambda: inception_score(probs[:5], splits=10), "at least 10"),
        (lambda: inception_score(probs[0]), "2-D"),
        (lambda: class_histogram(probs, num_classes=10), "num_classes"),
        (lambda: class_histogram(np.array([0.5, 0.5])), "integer classes"),
        (lambda: class_histogram(np.array([0, 7]), num_classes=5), r"\[0, 5\)"),
        (lambda: modes_covered(np.zeros(4)), "positive total"),
        (lambda: modes_covered(np.ones(4), min_fraction=0.0), "min_fraction"),
        (lambda: conditional_accuracy(probs, np.zeros(19, dtype=int)), "20 integers"),
        (lambda: conditional_accuracy(probs, np.zeros(20)), "integers"),
        (lambda: conditional_accuracy(probs, np.full(20, 4)), r"\[0, 4\)"),
    ],
)
def test_bad_input_raises_data_error(call, message):
    with pytest.raises(DataError, match=message):
        call()
