"""Pure measurements the comparison adds to the evaluation suite: latent structure, blur, spread.

FID, KID, precision, recall and coverage come from :mod:`genlab.eval`; these functions
only cover what the suite does not measure. All are functions of arrays, no I/O.
"""

from __future__ import annotations

import math

import numpy as np


def mean_consecutive_step(features: np.ndarray) -> float:
    """Interpolation smoothness: mean distance between the features of consecutive frames.

    A path whose images change evenly takes small, equal steps; a path that jumps between
    modes takes a few large ones. Shapes: (P, S, D) paths of S frames -> scalar (mean over
    the P * (S - 1) steps).
    """
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 3 or f.shape[1] < 2:
        raise ValueError(f"need (paths, frames >= 2, dims) features, got shape {f.shape}")
    steps = np.linalg.norm(np.diff(f, axis=1), axis=2)  # (P, S, D) -> (P, S-1)
    return float(steps.mean())


def path_length_ratio(features: np.ndarray) -> float:
    """Length of the feature-space path over the distance between its ends, averaged over paths.

    1 for a path that moves in a straight line at any speed; larger when it wanders.
    Shapes: (P, S, D) -> scalar.
    """
    f = np.asarray(features, dtype=np.float64)
    length = np.linalg.norm(np.diff(f, axis=1), axis=2).sum(1)  # (P,)
    ends = np.linalg.norm(f[:, -1] - f[:, 0], axis=1)  # (P,)
    return float(np.mean(length / np.maximum(ends, 1e-12)))


def linear_probe_accuracy(latents: np.ndarray, labels: np.ndarray, *, seed: int = 0, test_share: float = 0.3) -> float:
    """Held-out accuracy of a logistic-regression probe that reads the class from the latent.

    The latents are standardised on the training part; the split is stratified when every
    class has at least two members. Shapes: latents (N, ...) flattened to (N, D), labels (N,).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(latents, dtype=np.float64).reshape(len(latents), -1)
    y = np.asarray(labels)
    if len(np.unique(y)) < 2:
        raise ValueError("a probe needs at least two classes among the labels")
    counts = np.bincount(np.unique(y, return_inverse=True)[1])
    stratify = y if counts.min() >= 2 else None
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_share, random_state=seed, stratify=stratify
    )
    if len(np.unique(y_train)) < 2:
        return float(np.mean(y_test == y_train[0]))
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    probe.fit(x_train, y_train)
    return float(probe.score(x_test, y_test))


def majority_rate(labels: np.ndarray) -> float:
    """Share of the most common label: the accuracy a probe gets without reading the latent."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    return float(counts.max() / counts.sum())


def laplacian_variance(images: np.ndarray) -> float:
    """Sharpness: variance of the 4-neighbour Laplacian of the grey levels in [0, 1], averaged over images.

    0 for a flat image; blur lowers it (Pech-Pacheco et al. 2000). Shapes: uint8 (N, C, H, W) -> scalar.
    """
    x = np.asarray(images, dtype=np.float64) / 255.0
    grey = x.mean(axis=1)  # (N, C, H, W) -> (N, H, W)
    lap = grey[:, 1:-1, :-2] + grey[:, 1:-1, 2:] + grey[:, :-2, 1:-1] + grey[:, 2:, 1:-1] - 4 * grey[:, 1:-1, 1:-1]
    return float(lap.reshape(len(lap), -1).var(axis=1).mean())


def spread(values: list[float]) -> dict[str, float | int | None]:
    """Mean, sample standard deviation and relative spread (std / mean) of a metric over seeds.

    With one value the spread is None: it is not measured, not zero.
    """
    v = [float(x) for x in values if x is not None and math.isfinite(float(x))]
    if not v:
        return {"n": 0, "mean": None, "std": None, "cv": None}
    mean = float(np.mean(v))
    if len(v) < 2:
        return {"n": 1, "mean": mean, "std": None, "cv": None}
    std = float(np.std(v, ddof=1))
    return {"n": len(v), "mean": mean, "std": std, "cv": std / abs(mean) if mean else None}
