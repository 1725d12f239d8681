"""Tests for genlab.data.datasets: the named data set registry."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from genlab.data import DataInfo, load_dataset, load_mnist
from genlab.errors import DataError


def test_mnist_is_returned_as_nchw_with_int64_labels() -> None:
    images, labels, info = load_dataset("mnist", "test")
    assert images.shape == (10_000, 1, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10_000,) and labels.dtype == np.int64
    assert info == DataInfo(channels=1, height=28, width=28, num_classes=10)
    raw_images, raw_labels = load_mnist("test")
    np.testing.assert_array_equal(images[:, 0], raw_images)
    np.testing.assert_array_equal(labels, raw_labels)


def test_data_info_is_frozen() -> None:
    info = DataInfo(1, 28, 28, 10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.channels = 3  # type: ignore[misc]


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(DataError, match="known: .*mnist"):
        load_dataset("cifar-11", "train")


def test_unknown_split_is_an_error() -> None:
    with pytest.raises(DataError, match="split"):
        load_dataset("mnist", "val")
