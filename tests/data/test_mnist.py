"""Tests for genlab.data.mnist: the embedded copy, MD5 checks and folder selection."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from genlab.data.idx import idx_bytes, write_idx
from genlab.data.mnist import CANONICAL_MD5, EMBEDDED_DIR, load_mnist
from genlab.errors import DataError

# Published class counts (LeCun et al.) and the well-known first labels of each split.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def train() -> tuple[np.ndarray, np.ndarray]:
    return load_mnist("train")


@pytest.fixture(scope="module")
def test_split() -> tuple[np.ndarray, np.ndarray]:
    return load_mnist("test")


@pytest.fixture(scope="module")
def raw_copy(tmp_path_factory: pytest.TempPathFactory, test_split) -> Path:
    """A folder holding the test split under the uncompressed file names."""
    folder = tmp_path_factory.mktemp("mnist_raw")
    write_idx(folder / "t10k-images-idx3-ubyte", test_split[0])
    write_idx(folder / "t10k-labels-idx1-ubyte", test_split[1])
    return folder


def test_embedded_train_split(train) -> None:
    images, labels = train
    assert images.shape == (60_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (60_000,) and labels.dtype == np.uint8
    assert np.bincount(labels, minlength=10).tolist() == TRAIN_COUNTS
    assert labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


def test_embedded_test_split(test_split) -> None:
    images, labels = test_split
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10_000,) and labels.dtype == np.uint8
    assert labels.min() == 0 and labels.max() == 9
    assert np.bincount(labels, minlength=10).tolist() == TEST_COUNTS
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_arrays_reproduce_the_canonical_file_md5(test_split) -> None:
    images, labels = test_split
    assert hashlib.md5(idx_bytes(images)).hexdigest() == CANONICAL_MD5["t10k-images-idx3-ubyte"]
    assert hashlib.md5(idx_bytes(labels)).hexdigest() == CANONICAL_MD5["t10k-labels-idx1-ubyte"]


def test_second_call_is_cached_and_read_only(test_split) -> None:
    again = load_mnist("test")
    assert again[0] is test_split[0] and again[1] is test_split[1]
    assert not again[0].flags.writeable and not again[1].flags.writeable


def test_uncompressed_names_are_accepted(raw_copy: Path, test_split) -> None:
    images, labels = load_mnist("test", data_dir=raw_copy)
    np.testing.assert_array_equal(images, test_split[0])
    np.testing.assert_array_equal(labels, test_split[1])


def test_corrupted_copy_fails_the_md5_check(tmp_path: Path, test_split) -> None:
    images = test_split[0].copy()
    images[0, 14, 14] ^= 1
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    shutil.copy(EMBEDDED_DIR / "t10k-labels-idx1-ubyte.gz", tmp_path)
    with pytest.raises(DataError, match="MD5") as info:
        load_mnist("test", data_dir=tmp_path)
    message = str(info.value)
    assert "t10k-images-idx3-ubyte.gz" in message
    assert CANONICAL_MD5["t10k-images-idx3-ubyte"] in message
    assert hashlib.md5(idx_bytes(images)).hexdigest() in message
    assert "GENLAB_DATA" in message


def test_missing_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_mnist("train", data_dir=tmp_path / "nowhere")


def test_missing_file_raises(tmp_path: Path) -> None:
    shutil.copy(EMBEDDED_DIR / "t10k-labels-idx1-ubyte.gz", tmp_path)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        load_mnist("test", data_dir=tmp_path)


def test_unknown_split_raises() -> None:
    with pytest.raises(DataError, match="train, test"):
        load_mnist("validation")  # type: ignore[arg-type]


def test_genlab_data_env_var_is_honoured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, raw_copy: Path, test_split
) -> None:
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="nowhere"):
        load_mnist("test")
    monkeypatch.setenv("GENLAB_DATA", str(raw_copy))
    images, _ = load_mnist("test")
    np.testing.assert_array_equal(images, test_split[0])
    assert images is not test_split[0]  # came from the raw copy, not the embedded cache


def test_data_dir_argument_beats_env_var(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path / "nowhere"))
    images, _ = load_mnist("test", data_dir=EMBEDDED_DIR)
    assert images.shape == (10_000, 28, 28)
