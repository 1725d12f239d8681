"""Sample-quality metrics as pure functions of arrays: FID, KID, IS, PRDC, class coverage.

Every function takes numpy arrays (features from any extractor, or class probabilities),
computes in float64 and returns Python floats or numpy arrays. None needs a network, a
trainer or global randomness; the two that subsample take an explicit ``seed``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import torch
from scipy import linalg
from scipy.special import xlogy

from genlab.errors import DataError

# Largest distance block PRDC holds at once: 8M float64 values = 64 MB.
_PRDC_BLOCK_VALUES = 8_000_000


def _as_features(x: np.ndarray, name: str, min_samples: int, why: str) -> np.ndarray:
    """``x`` as a finite float64 (N, D) array with at least ``min_samples`` rows."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise DataError(
            f"{name} must be a 2-D (N, D) array of feature vectors, got shape {x.shape}; reshape it to (N, -1)"
        )
    if x.shape[0] < min_samples:
        raise DataError(f"{name} holds {x.shape[0]} samples but {why} needs at least {min_samples}; pass more samples")
    if not np.isfinite(x).all():
        raise DataError(
            f"{name} contains NaN or infinite values; check the generator outputs and the feature extractor"
        )
    return x


def _same_dim(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise DataError(
            f"{names} have different feature dimensions ({a.shape[1]} vs {b.shape[1]}); use the same extractor for "
            "both"
        )


# ---------------------------------------------------------------- Fréchet distance (FID)


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a feature set, the Gaussian fit that FID compares.

    The covariance is unbiased (ddof=1), as in pytorch-fid.

    Shapes: features (N, D), N >= 2 -> mu (D,), sigma (D, D), both float64.
    """
    features = _as_features(features, "features", 2, "a covariance estimate")
    mu = features.mean(axis=0)
    sigma = np.atleast_2d(np.cov(features, rowvar=False, ddof=1))  # atleast_2d: D = 1 gives a scalar
    return mu, sigma


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2): FID on feature statistics.

    d² = ||mu1 - mu2||² + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))
    (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local
    Nash Equilibrium"), computed as pytorch-fid's ``calculate_frechet_distance``: if the
    matrix square root is not finite, or has a large imaginary part, ``eps`` is added to
    both diagonals and it is retried (pytorch-fid raises on the latter). Round-off can make
    the result a hair below 0 for (near-)identical singular covariances; it is clamped to 0.
    For singular products (fewer samples than dimensions) sqrtm is accurate only to about
    1e-8 to 1e-5 of the covariance scale.

    Shapes: mu1, mu2 (D,); sigma1, sigma2 (D, D).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu1.ndim != 1 or mu2.shape != (d,):
        raise DataError(
            f"means must be 1-D and of equal length, got shapes {mu1.shape} and {mu2.shape}; use features from the "
            "same extractor"
        )
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise DataError(f"covariances must be ({d}, {d}) to match the means, got {sigma1.shape} and {sigma2.shape}")
    if not all(np.isfinite(a).all() for a in (mu1, mu2, sigma1, sigma2)):
        raise DataError("feature statistics contain NaN or infinite values; recompute them from finite features")

    def sqrt_product(offset: float) -> np.ndarray:
        eye = np.eye(d) * offset
        with warnings.catch_warnings():  # singular products are expected and handled below
            warnings.simplefilter("ignore", linalg.LinAlgWarning)
            return linalg.sqrtm((sigma1 + eye) @ (sigma2 + eye))

    # 1. The square root of the product; it may be complex or non-finite when the product is singular.
    covmean = sqrt_product(0.0)
    if not np.isfinite(covmean).all() or _large_imaginary(covmean):
        covmean = sqrt_product(eps)
    if not np.isfinite(covmean).all():
        raise DataError(
            f"the matrix square root in the Fréchet distance is not finite even with eps={eps}; use more samples or a "
            "larger eps"
        )
    # 2. Round-off leaves a small imaginary part; a large one means the statistics are unusable.
    if _large_imaginary(covmean):
        m = float(np.max(np.abs(covmean.imag)))
        raise DataError(
            f"the matrix square root in the Fréchet distance has a large imaginary part ({m:.3g}); use more samples "
            "than feature dimensions or a larger eps"
        )
    covmean = covmean.real
    # 3. Heusel et al. 2017.
    diff = mu1 - mu2
    fd = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    return max(float(fd), 0.0)


def _large_imaginary(m: np.ndarray) -> bool:
    # pytorch-fid's criterion: the diagonal's imaginary parts within 1e-3 of 0 count as round-off.
    return bool(np.iscomplexobj(m) and not np.allclose(np.diagonal(m).imag, 0.0, atol=1e-3))


# ---------------------------------------------------------------- Kernel distance (KID)


def kernel_inception_distance(
    feats_a: np.ndarray, feats_b: np.ndarray, *, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Kernel distance between two feature sets: mean and std of unbiased MMD² over random subsets.

    Kernel k(x, y) = (x·y / D + 1)^3 and the unbiased MMD² estimator of Bińkowski et al. 2018,
    "Demystifying MMD GANs". Subsets are drawn as in torch-fidelity: without replacement, by
    ``np.random.RandomState(seed)``, whose stream numpy keeps fixed across versions.
    ``subset_size`` is clipped to the smaller set. The std is over subsets (ddof=0).

    Shapes: feats_a (N, D), feats_b (M, D), N, M >= 2.
    """
    a = _as_features(feats_a, "feats_a", 2, "the unbiased kernel distance")
    b = _as_features(feats_b, "feats_b", 2, "the unbiased kernel distance")
    _same_dim(a, b, "feats_a and feats_b")
    if num_subsets < 1 or subset_size < 2:
        raise DataError(
            f"kernel distance needs num_subsets >= 1 and subset_size >= 2, got {num_subsets} and {subset_size}"
        )
    m = min(subset_size, a.shape[0], b.shape[0])
    d = a.shape[1]
    rng = np.random.RandomState(seed)
    mmd2 = np.empty(num_subsets)
    for i in range(num_subsets):
        x = a[rng.choice(a.shape[0], m, replace=False)]  # (m, D)
        y = b[rng.choice(b.shape[0], m, replace=False)]  # (m, D)
        k_xx, k_yy, k_xy = ((u @ v.T / d + 1.0) ** 3 for u, v in ((x, x), (y, y), (x, y)))  # (m, m) each
        # Unbiased estimator: the within-set sums leave out the diagonal k(x_i, x_i).
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        mmd2[i] = within - 2.0 * k_xy.sum() / (m * m)
    return float(mmd2.mean()), float(mmd2.std())


# ---------------------------------------------------------------- Classifier-based scores


def _as_probs(probs: np.ndarray, min_samples: int = 1, why: str = "this metric") -> np.ndarray:
    p = _as_features(probs, "probs", min_samples, why)
    if p.min() < 0.0 or p.max() > 1.0 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise DataError(
            "probs must be class probabilities in [0, 1] whose rows sum to 1; apply softmax to logits first"
        )
    return p


def inception_score(probs: np.ndarray, splits: int = 10, *, seed: int | None = 0) -> tuple[float, float]:
    """Inception Score: confident and varied predictions score high; mean and std over splits.

    IS = exp(E_x KL(p(y|x) || p(y))) with p(y) the mean prediction of the split
    (Salimans et al. 2016, Sec. 4). The rows are shuffled with ``RandomState(seed)`` before
    splitting, as torch-fidelity does, so that samples ordered by class do not give each
    split a single class; ``seed=None`` keeps the given order (contiguous splits). The
    score lies in [1, K]; the std is over splits (ddof=0).

    Shapes: probs (N, K), N >= splits.
    """
    if splits < 1:
        raise DataError(f"splits must be >= 1, got {splits}")
    p = _as_probs(probs, splits, f"the inception score with splits={splits}")
    n = p.shape[0]
    if seed is not None:
        p = p[np.random.RandomState(seed).permutation(n)]
    scores = []
    for i in range(splits):
        part = p[i * n // splits : (i + 1) * n // splits]  # (~N/splits, K)
        p_y = part.mean(axis=0, keepdims=True)  # (1, K)
        kl = (xlogy(part, part) - xlogy(part, p_y)).sum(axis=1)  # (~N/splits,); xlogy: 0 log 0 = 0
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def class_histogram(probs: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """How many samples the classifier assigns to each class (argmax), for mode coverage.

    ``probs`` may also be a 1-D array of integer class predictions, which are counted as they are.

    Shapes: probs (N, K) or (N,) -> counts (K,) int64, K = num_classes or probs.shape[1].
    """
    probs = np.asarray(probs)
    if probs.ndim == 2:
        if num_classes is not None and num_classes != probs.shape[1]:
            raise DataError(
                f"probs has {probs.shape[1]} classes but num_classes={num_classes}; pass the classifier's number of "
                "classes"
            )
        predicted = _as_probs(probs, 1, "a class histogram").argmax(axis=1)
        k = probs.shape[1]
    elif probs.ndim == 1 and np.issubdtype(probs.dtype, np.integer):
        predicted, k = probs, int(num_classes if num_classes is not None else probs.max(initial=-1) + 1)
        if predicted.size and (predicted.min() < 0 or predicted.max() >= k):
            raise DataError(
                f"class predictions must lie in [0, {k}), got values in [{predicted.min()}, {predicted.max()}]"
            )
    else:
        raise DataError(
            f"probs must be (N, K) class probabilities or (N,) integer classes, got shape {probs.shape} and dtype "
            f"{probs.dtype}"
        )
    return np.bincount(predicted, minlength=k).astype(np.int64)


def modes_covered(counts: np.ndarray, min_fraction: float = 0.02) -> int:
    """Number of classes (modes) that receive at least ``min_fraction`` of the samples.

    Shapes: counts (K,), non-negative, as from :func:`class_histogram`.
    """
    counts = np.asarray(counts)
    if counts.ndim != 1 or (counts < 0).any() or counts.sum() <= 0:
        raise DataError(
            "counts must be a 1-D array of non-negative per-class counts with a positive total, got shape "
            f"{counts.shape} and total {counts.sum()}"
        )
    if not 0.0 < min_fraction <= 1.0:
        raise DataError(f"min_fraction must lie in (0, 1], got {min_fraction}")
    return int((counts / counts.sum() >= min_fraction).sum())


def conditional_accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Share of samples that the classifier assigns to the class they were generated for.

    Shapes: probs (N, K), labels (N,) integers in [0, K).
    """
    p = _as_probs(probs, 1, "conditional accuracy")
    labels = np.asarray(labels)
    if labels.shape != (p.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"labels must be {p.shape[0]} integers, one per sample, got shape {labels.shape} and dtype {labels.dtype}"
        )
    if labels.min() < 0 or labels.max() >= p.shape[1]:
        raise DataError(f"labels must lie in [0, {p.shape[1]}), got values in [{labels.min()}, {labels.max()}]")
    return float((p.argmax(axis=1) == labels).mean())


# ---------------------------------------------------------------- Precision, recall, density, coverage


def _squared_distances(x: np.ndarray, y: np.ndarray, x_sq: np.ndarray, y_sq: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances. Shapes: x (n, D), y (m, D), x_sq (n,), y_sq (m,) -> (n, m)."""
    d2 = -2.0 * (x @ y.T)
    d2 += x_sq[:, None]
    d2 += y_sq[None, :]
    return np.maximum(d2, 0.0, out=d2)  # round-off can dip below 0 for near-duplicates


def _row_blocks(n_rows: int, n_cols: int) -> Iterator[slice]:
    step = max(1, _PRDC_BLOCK_VALUES // max(n_cols, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def kth_neighbour_sq_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each point to its k-th nearest other point. Shapes: x (N, D) -> (N,)."""
    x = np.asarray(x, dtype=np.float64)
    x_sq = (x * x).sum(axis=1)
    radii = np.empty(x.shape[0])
    for rows in _row_blocks(x.shape[0], x.shape[0]):
        d2 = _squared_distances(x[rows], x, x_sq[rows], x_sq)  # (b, N)
        d2[np.arange(d2.shape[0]), np.arange(rows.start, rows.stop)] = 0.0  # self-distance exactly 0
        # k + 1 smallest, the point itself first; torch.topk is ~10x faster here than np.partition.
        radii[rows] = torch.topk(torch.from_numpy(d2), k + 1, dim=1, largest=False).values[:, k].numpy()
    return radii


def precision_recall_density_coverage(
    real_features: np.ndarray,
    fake_features: np.ndarray,
    nearest_k: int = 5,
    *,
    real_sq_radii: np.ndarray | None = None,
) -> dict[str, float]:
    """Fidelity (precision, density) and diversity (recall, coverage) from k-NN balls in feature space.

    Precision and recall with k-NN radii: Kynkäänniemi et al. 2019, "Improved Precision and
    Recall Metric for Assessing Generative Models"; density and coverage: Naeem et al. 2020,
    "Reliable Fidelity and Diversity Metrics for Generative Models". Equal to the ``prdc``
    package's ``compute_prdc``, but distances are computed in float64 blocks of at most
    64 MB, never as full (N, M) matrices.

    Shapes: real_features (N, D), fake_features (M, D), N, M > nearest_k. ``real_sq_radii``
    (N,) may carry :func:`kth_neighbour_sq_radii` of the real set, computed once for many calls.
    """
    if nearest_k < 1:
        raise DataError(f"nearest_k must be >= 1, got {nearest_k}")
    why = f"k-NN balls with nearest_k={nearest_k}"
    real = _as_features(real_features, "real_features", nearest_k + 1, why)
    fake = _as_features(fake_features, "fake_features", nearest_k + 1, why)
    _same_dim(real, fake, "real_features and fake_features")
    real_sq, fake_sq = (real * real).sum(axis=1), (fake * fake).sum(axis=1)

    # 1. Each point's ball: radius = distance to its k-th nearest neighbour in its own set.
    #    Squared distances and radii throughout: the comparisons are the same as on distances.
    real_r2 = kth_neighbour_sq_radii(real, nearest_k) if real_sq_radii is None else real_sq_radii  # (N,)
    fake_r2 = kth_neighbour_sq_radii(fake, nearest_k)  # (M,)

    # 2. One pass over real-fake distances, a block of real rows at a time.
    fake_in_real_balls = np.zeros(fake.shape[0], dtype=np.int64)  # per fake: real balls containing it
    real_in_fake_manifold = np.zeros(real.shape[0], dtype=bool)
    real_ball_has_fake = np.zeros(real.shape[0], dtype=bool)
    for rows in _row_blocks(real.shape[0], fake.shape[0]):
        d2 = _squared_distances(real[rows], fake, real_sq[rows], fake_sq)  # (b, M)
        inside_real = d2 < real_r2[rows, None]  # (b, M): fake j inside real ball i
        fake_in_real_balls += inside_real.sum(axis=0)
        real_ball_has_fake[rows] = inside_real.any(axis=1)  # nearest fake closer than the radius
        real_in_fake_manifold[rows] = (d2 < fake_r2[None, :]).any(axis=1)

    return {
        "precision": float((fake_in_real_balls > 0).mean()),
        "recall": float(real_in_fake_manifold.mean()),
        "density": float(fake_in_real_balls.mean() / nearest_k),
        "coverage": float(real_ball_has_fake.mean()),
    }
