"""Disentanglement metrics as pure functions of (codes, factors): MIG, DCI and the FactorVAE score.

``codes`` is a representation, float (N, D) (e.g. a VAE's posterior means); ``factors`` the
ground-truth factors of the same N images, integer (N, F) (e.g. ``shapes64_factors``). Each
score follows the paper that defines it and the reference implementation of Locatello et
al. 2019 (google-research/disentanglement_lib), noted where a choice is made. Estimators
come from scikit-learn; randomness only from an explicit ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import entropy
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import mutual_info_score

from genlab.errors import ConfigError, DataError

Estimator = Literal["random-forest", "gradient-boosting"]


def _check(
    codes: np.ndarray, factors: np.ndarray, min_dims: int = 1, min_factors: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    codes, factors = np.asarray(codes), np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or codes.shape[0] != factors.shape[0]:
        raise DataError(
            f"need codes (N, D) and factors (N, F) with the same N, got shapes {codes.shape} and {factors.shape}"
        )
    if not np.issubdtype(factors.dtype, np.integer):
        raise DataError(f"factors must be integer codes of the ground-truth values, got {factors.dtype}")
    if not np.isfinite(codes).all():
        raise DataError("codes contain NaN or infinite values; check the encoder outputs")
    if codes.shape[1] < min_dims or factors.shape[1] < min_factors:
        raise DataError(
            f"this score needs at least {min_dims} code dimensions and {min_factors} factors, got {codes.shape[1]} "
            f"and {factors.shape[1]}"
        )
    return codes.astype(np.float64), factors.astype(np.int64)


# ---------------------------------------------------------------- MIG


def histogram_discretise(codes: np.ndarray, bins: int = 20) -> np.ndarray:
    """Each code dimension binned into ``bins`` equal-width bins over its own range.

    disentanglement_lib's ``_histogram_discretize``. Shapes: (N, D) -> int64 (N, D), values 1..bins.
    """
    if not isinstance(bins, int) or bins < 2:
        raise ConfigError(f"bins must be an int >= 2, got {bins!r}")
    codes = np.asarray(codes, dtype=np.float64)
    edges = [np.histogram(codes[:, d], bins)[1][:-1] for d in range(codes.shape[1])]
    return np.stack([np.digitize(codes[:, d], edges[d]) for d in range(codes.shape[1])], axis=1).astype(np.int64)


def mutual_information_matrix(discrete_codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Empirical mutual information I(code_d; factor_f) in nats. Shapes: (N, D), (N, F) -> (D, F)."""
    return np.array(
        [
            [mutual_info_score(factors[:, f], discrete_codes[:, d]) for f in range(factors.shape[1])]
            for d in range(discrete_codes.shape[1])
        ]
    )


def factor_entropies(factors: np.ndarray) -> np.ndarray:
    """Empirical entropy H(factor_f) in nats, as I(f; f). Shapes: (N, F) -> (F,)."""
    return np.array([mutual_info_score(factors[:, f], factors[:, f]) for f in range(factors.shape[1])])


def mig_per_factor(codes: np.ndarray, factors: np.ndarray, bins: int = 20) -> np.ndarray:
    """Per factor, the gap between the two code dimensions most informative about it, over H(factor).

    Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs", eq. 5, with the
    histogram estimator of disentanglement_lib. Shapes: (N, D), (N, F) -> (F,), each in [0, 1].
    """
    codes, factors = _check(codes, factors, min_dims=2)
    h = factor_entropies(factors)
    if (h <= 0).any():
        raise DataError(
            f"factor(s) {np.flatnonzero(h <= 0).tolist()} take a single value here; MIG normalises by the factor "
            "entropy, so drop them"
        )
    mi = mutual_information_matrix(histogram_discretise(codes, bins), factors)  # (D, F)
    top2 = -np.sort(-mi, axis=0)[:2]  # (2, F): largest and second largest over the codes
    return (top2[0] - top2[1]) / h


def mig(codes: np.ndarray, factors: np.ndarray, bins: int = 20) -> float:
    """Mutual information gap: :func:`mig_per_factor` averaged over the factors. In [0, 1], 1 = each factor in one
    code."""
    return float(mig_per_factor(codes, factors, bins).mean())


# ---------------------------------------------------------------- DCI


@dataclass(frozen=True)
class DCIScores:
    """Eastwood & Williams 2018 scores; ``importance`` is R (D, F), each column summing to 1."""

    disentanglement: float
    completeness: float
    informativeness: float  # mean held-out accuracy over the factors
    informativeness_per_factor: np.ndarray  # (F,)
    importance: np.ndarray  # (D, F)


def disentanglement_score(importance: np.ndarray) -> float:
    """D = sum_d rho_d (1 - H_F(P_d.)), P_df = R_df / sum_f R_df, rho_d = sum_f R_df / sum R.

    Eastwood & Williams 2018, "A Framework for the Quantitative Evaluation of Disentangled
    Representations", sec. 2; +1e-11 as in disentanglement_lib. Shapes: R (D, F), F >= 2.
    """
    r = _check_importance(importance)
    per_code = 1.0 - entropy(r.T + 1e-11, base=r.shape[1])  # (D,); entropy normalises each column
    weights = r.sum(1) / r.sum() if r.sum() > 0 else np.full(r.shape[0], 1 / r.shape[0])
    return float((per_code * weights).sum())


def completeness_score(importance: np.ndarray) -> float:
    """C = sum_f rho_f (1 - H_D(P_.f)), P_df = R_df / sum_d R_df, rho_f = sum_d R_df / sum R (ibid.)."""
    r = _check_importance(importance)
    per_factor = 1.0 - entropy(r + 1e-11, base=r.shape[0])  # (F,)
    weights = r.sum(0) / r.sum() if r.sum() > 0 else np.full(r.shape[1], 1 / r.shape[1])
    return float((per_factor * weights).sum())


def _check_importance(importance: np.ndarray) -> np.ndarray:
    r = np.asarray(importance, dtype=np.float64)
    if r.ndim != 2 or min(r.shape) < 2 or (r < 0).any() or not np.isfinite(r).all():
        raise DataError(f"importance must be a finite non-negative (D, F) matrix with D, F >= 2, got shape {r.shape}")
    return r


def dci(
    codes: np.ndarray,
    factors: np.ndarray,
    *,
    estimator: Estimator = "random-forest",
    test_fraction: float = 0.25,
    seed: int = 0,
) -> DCIScores:
    """Disentanglement, completeness and informativeness from one classifier per factor.

    1. Split the N rows at random (``seed``) into train and test (``test_fraction``).
    2. Per factor, fit a classifier from the codes to the factor value on train; its
       impurity-based feature importances (summing to 1) are that factor's column of R.
       ``random-forest`` (the default): 50 trees, depth <= 8, every feature at every split,
       as in Eastwood & Williams' random-forest variant; ``gradient-boosting``: 50 stages
       of depth 3, as in disentanglement_lib (slower: one tree per class and stage).
    3. Informativeness is the classifier's accuracy on test (disentanglement_lib's
       ``informativeness_test``; E&W report a prediction error instead).

    Shapes: codes (N, D), factors (N, F), with D, F >= 2.
    """
    codes, factors = _check(codes, factors, min_dims=2, min_factors=2)
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(codes.shape[0])
    n_test = int(round(test_fraction * codes.shape[0]))
    test, train = order[:n_test], order[n_test:]
    if n_test == 0 or train.size == 0:
        raise DataError(f"{codes.shape[0]} rows are too few to split into train and test; pass more")
    importance = np.zeros((codes.shape[1], factors.shape[1]))
    accuracy = np.zeros(factors.shape[1])
    for f in range(factors.shape[1]):
        model = _classifier(estimator, seed)
        model.fit(codes[train], factors[train, f])
        importance[:, f] = np.abs(model.feature_importances_)
        accuracy[f] = model.score(codes[test], factors[test, f])
    return DCIScores(
        disentanglement_score(importance), completeness_score(importance), float(accuracy.mean()), accuracy, importance
    )


def _classifier(estimator: Estimator, seed: int):
    if estimator == "random-forest":
        return RandomForestClassifier(n_estimators=50, max_depth=8, max_features=None, random_state=seed, n_jobs=1)
    if estimator == "gradient-boosting":
        return GradientBoostingClassifier(n_estimators=50, max_depth=3, random_state=seed)
    raise ConfigError(f"unknown DCI estimator {estimator!r}; use random-forest or gradient-boosting")


# ---------------------------------------------------------------- FactorVAE score


def factorvae_score(
    codes: np.ndarray,
    factors: np.ndarray,
    *,
    batch_size: int = 64,
    train_votes: int = 10_000,
    eval_votes: int = 5_000,
    prune_variance: float = 0.05,
    seed: int = 0,
) -> float:
    """Accuracy of the majority-vote classifier from "least-varying code dimension" to the fixed factor.

    Kim & Mnih 2018, "Disentangling by Factorising", sec. 4, with disentanglement_lib's
    defaults. Each vote: pick a factor f and a value v (that of a random row), draw
    ``batch_size`` rows with factor f = v (with replacement: on a data set with independent
    factors this is the paper's "fix one factor, sample the rest"), divide the codes by their
    global std and vote (argmin_d of the batch variance over active dims, f). Dimensions
    with global variance below ``prune_variance`` are inactive (collapsed). Every dimension
    votes for its most frequent factor; the score is that classifier's accuracy on fresh votes.

    Shapes: codes (N, D), factors (N, F). In [0, 1]; 0 when no dimension is active.
    """
    codes, factors = _check(codes, factors)
    if batch_size < 2 or train_votes < 1 or eval_votes < 1:
        raise ConfigError(f"need batch_size >= 2 and at least one vote, got {batch_size}, {train_votes}, {eval_votes}")
    global_var = codes.var(axis=0, ddof=1)
    active = global_var > prune_variance
    if not active.any():
        return 0.0
    scaled = codes[:, active] / np.sqrt(global_var[active])  # (N, A)
    rng = np.random.default_rng(seed)
    train = _votes(scaled, factors, batch_size, train_votes, rng)  # (A, F)
    evaluation = _votes(scaled, factors, batch_size, eval_votes, rng)
    classifier = train.argmax(axis=1)  # (A,): the factor each dimension votes for
    return float(evaluation[np.arange(len(classifier)), classifier].sum() / evaluation.sum())


def _votes(scaled: np.ndarray, factors: np.ndarray, batch_size: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Vote counts (A, F): how often dimension a varied least when factor f was fixed."""
    which = rng.integers(0, factors.shape[1], n)  # (n,) the fixed factor of each vote
    value = factors[rng.integers(0, factors.shape[0], n), which]  # (n,) its value
    counts = np.zeros((scaled.shape[1], factors.shape[1]), dtype=np.int64)
    for f in range(factors.shape[1]):
        for v in np.unique(value[which == f]):
            pool = np.flatnonzero(factors[:, f] == v)
            k = int(((which == f) & (value == v)).sum())
            batch = scaled[pool[rng.integers(0, pool.size, (k, batch_size))]]  # (k, B, A)
            least = batch.var(axis=1, ddof=1).argmin(axis=1)  # (k,)
            np.add.at(counts, (least, f), 1)
    return counts
