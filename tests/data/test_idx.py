"""Tests for genlab.data.idx: byte layout, round trips, and corrupt files."""

from __future__ import annotations

import gzip
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from genlab.data.idx import idx_bytes, read_idx, read_idx_bytes, write_idx
from genlab.errors import DataError

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def assert_same_array(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()  # bitwise: NaN and -0.0 included


@given(
    hnp.arrays(
        dtype=st.sampled_from(DTYPES),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
    )
)
def test_bytes_round_trip_any_dtype_and_shape(array: np.ndarray) -> None:
    back = read_idx_bytes(idx_bytes(array))
    assert_same_array(back, array)
    assert back.flags.writeable


@settings(max_examples=25, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from(DTYPES),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4),
    ),
    st.sampled_from(["a.idx", "a.idx.gz"]),
)
def test_file_round_trip_raw_and_gz(array: np.ndarray, name: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        write_idx(path, array)
        assert path.read_bytes().startswith(b"\x1f\x8b") == name.endswith(".gz")
        assert_same_array(read_idx(path), array)


def test_header_and_payload_follow_the_idx_spec() -> None:
    # 0, 0, dtype 0x0B (int16), ndim 2, dims 2 and 3 as big-endian int32, then big-endian data.
    array = np.arange(6, dtype=np.int16).reshape(2, 3) - 2
    header = bytes([0, 0, 0x0B, 2]) + struct.pack(">ii", 2, 3)
    expected = header + struct.pack(">6h", *array.ravel())
    assert idx_bytes(array) == expected


def test_big_endian_input_writes_the_same_bytes() -> None:
    array = np.linspace(-1, 1, 12).reshape(3, 4)
    assert idx_bytes(array.astype(">f8")) == idx_bytes(array)


def test_gzip_is_detected_by_magic_not_name(tmp_path: Path) -> None:
    array = np.arange(10, dtype=np.int32)
    write_idx(tmp_path / "compressed.idx", array, compress=True)
    write_idx(tmp_path / "plain.gz", array, compress=False)
    assert_same_array(read_idx(tmp_path / "compressed.idx"), array)
    assert_same_array(read_idx(tmp_path / "plain.gz"), array)


def test_write_leaves_no_temp_files(tmp_path: Path) -> None:
    write_idx(tmp_path / "x.gz", np.zeros((2, 2), np.uint8))
    assert [p.name for p in tmp_path.iterdir()] == ["x.gz"]


GOOD = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "truncated"),
        (GOOD[:3], "truncated"),
        (b"\x01" + GOOD[1:], "wrong magic"),
        (GOOD[:2] + b"\x07" + GOOD[3:], "unknown dtype"),
        (GOOD[:9], "truncated"),
        (GOOD[:-1], "size mismatch"),
        (GOOD + b"\x00", "size mismatch"),
        (gzip.compress(GOOD)[:-6], "gzip"),
    ],
    ids=["empty", "short-header", "magic", "dtype", "short-dims", "short-data", "extra", "bad-gz"],
)
def test_corrupt_files_raise_data_error_naming_the_file(tmp_path: Path, data: bytes, problem: str) -> None:
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(data)
    with pytest.raises(DataError, match=problem) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_missing_file_raises_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_idx(tmp_path / "nope.gz")


@pytest.mark.parametrize("dtype", [np.bool_, np.uint16, np.int64, np.complex64])
def test_unsupported_dtype_raises_data_error(tmp_path: Path, dtype: type) -> None:
    with pytest.raises(DataError, match="cannot write dtype"):
        write_idx(tmp_path / "x.idx", np.zeros(3, dtype=dtype))
    assert not (tmp_path / "x.idx").exists()
