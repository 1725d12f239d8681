"""Shared fixtures: small fixed sets of real images at the sizes genlab makes."""

import numpy as np
import pytest

from genlab.data import load_dataset


@pytest.fixture(scope="session")
def mnist_images() -> np.ndarray:
    """The first 24 MNIST test digits, uint8 (24, 28, 28)."""
    return np.ascontiguousarray(load_dataset("mnist", "test")[0][:24, 0])


@pytest.fixture(scope="session")
def mnist_negatives() -> np.ndarray:
    """24 other MNIST test digits, never marked."""
    return np.ascontiguousarray(load_dataset("mnist", "test")[0][100:124, 0])


@pytest.fixture(scope="session")
def shapes_images() -> np.ndarray:
    """The first 16 shapes64 test images as RGB, uint8 (16, 64, 64, 3)."""
    return np.ascontiguousarray(load_dataset("shapes64", "test")[0][:16].transpose(0, 2, 3, 1))
