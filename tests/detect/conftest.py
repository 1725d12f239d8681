"""Procedural real/generated sets: real MNIST against MNIST made to look generated.

"checkerboard": each 2 x 2 block averaged and repeated (nearest-neighbour up-sampling,
the trace of a 2x up-sampling layer); "blurred": a Gaussian blur of 1 px (the missing
high frequencies of a VAE's mean image). Neither needs a trained model or runs/.
"""

import numpy as np
import pytest

from genlab.data import load_dataset
from genlab.marks.attacks import blur


def checkerboard(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 1, 28, 28) -> 2 x 2 block means repeated: (N, 1, 14, 14) -> (N, 1, 28, 28)."""
    n, c, h, w = images.shape
    means = images.reshape(n, c, h // 2, 2, w // 2, 2).astype(np.float64).mean(axis=(3, 5))
    return np.round(means).astype(np.uint8).repeat(2, axis=2).repeat(2, axis=3)


def blurred(images: np.ndarray) -> np.ndarray:
    return np.stack([blur(x[0], 1.0) for x in images])[:, None]


@pytest.fixture(scope="session")
def mnist():
    """Disjoint real sets: 'fit' and 'fake_src' from MNIST train, 'test' and 'test_fake_src' from MNIST test."""
    train, _, _ = load_dataset("mnist", "train")
    test, _, _ = load_dataset("mnist", "test")
    return {"fit": train[:600], "fake_src": train[600:1200], "test": test[:300], "test_fake_src": test[300:600]}
