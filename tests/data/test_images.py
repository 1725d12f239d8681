"""Tests for genlab.data.images: uint8 conversion, grids, and PNG files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from genlab.data import load_samples, save_samples
from genlab.data.images import load_image, make_grid, save_grid, save_png, to_uint8
from genlab.errors import DataError
from genlab.marks.provenance import fields_of, read_text_chunks
from genlab.marks.visible import VisibleWatermark, apply_visible, band_height


def test_to_uint8_endpoints_clamping_and_rounding() -> None:
    x = np.array([-5.0, -1.0, 0.0, 1.0, 5.0, -1 + 1 / 127.5])
    assert to_uint8(x).tolist() == [0, 0, 128, 255, 255, 1]  # 127.5 rounds half to even
    assert to_uint8(torch.tensor([[-1.0, 1.0]])).dtype == np.uint8


def test_to_uint8_rejects_nan() -> None:
    with pytest.raises(DataError, match="NaN"):
        to_uint8(np.array([0.0, np.nan]))


@pytest.mark.parametrize(
    ("n", "nrow", "padding", "expected"),
    [
        (10, None, 2, (3 * 6 + 2, 4 * 7 + 2)),  # default nrow = ceil(sqrt(10)) = 4 -> 3 rows
        (10, 3, 2, (4 * 6 + 2, 3 * 7 + 2)),
        (1, None, 0, (4, 5)),
        (6, 6, 1, (1 * 5 + 1, 6 * 6 + 1)),
    ],
)
def test_grid_shape_arithmetic(n: int, nrow: int | None, padding: int, expected) -> None:
    images = np.zeros((n, 4, 5), np.uint8)
    assert make_grid(images, nrow=nrow, padding=padding).shape == expected
    rgb = np.zeros((n, 3, 4, 5), np.uint8)
    assert make_grid(rgb, nrow=nrow, padding=padding).shape == (*expected, 3)


def test_grid_pixel_placement_and_padding() -> None:
    n, h, w, p, nrow = 5, 3, 4, 2, 2
    rng = np.random.default_rng(0)
    images = rng.integers(1, 200, size=(n, h, w), dtype=np.uint8)
    grid = make_grid(images, nrow=nrow, padding=p, pad_value=255)
    for k in range(n):
        top, left = p + (k // nrow) * (h + p), p + (k % nrow) * (w + p)
        np.testing.assert_array_equal(grid[top : top + h, left : left + w], images[k])
    np.testing.assert_array_equal(grid[:p], 255)  # top border
    np.testing.assert_array_equal(grid[:, :p], 255)  # left border
    empty_top, empty_left = p + 2 * (h + p), p + (w + p)  # cell of missing image 5
    np.testing.assert_array_equal(grid[empty_top : empty_top + h, empty_left : empty_left + w], 255)


def test_grid_rgb_channels_last() -> None:
    images = np.zeros((1, 3, 2, 2), np.uint8)
    images[0, 0], images[0, 2] = 10, 30  # R and B planes
    grid = make_grid(images, padding=0)
    assert grid.shape == (2, 2, 3) and grid[0, 0].tolist() == [10, 0, 30]


@pytest.mark.parametrize(
    "images",
    [
        np.zeros((2, 2, 4, 4), np.uint8),  # two channels
        np.zeros((2, 4, 4), np.float32),  # not uint8
        np.zeros((0, 4, 4), np.uint8),  # empty
    ],
)
def test_grid_rejects_bad_input(images: np.ndarray) -> None:
    with pytest.raises(DataError):
        make_grid(images)


@pytest.mark.parametrize("shape", [(7, 9), (7, 9, 3)])
def test_png_round_trip_is_exact(tmp_path: Path, shape: tuple[int, ...]) -> None:
    array = np.random.default_rng(1).integers(0, 256, size=shape, dtype=np.uint8)
    path = save_png(tmp_path / "img.png", array, watermark=None)
    assert [p.name for p in tmp_path.iterdir()] == ["img.png"]  # no temp file left
    np.testing.assert_array_equal(load_image(path, grayscale=len(shape) == 2), array)


def test_load_image_resizes_to_height_width(tmp_path: Path) -> None:
    save_png(tmp_path / "img.png", np.full((8, 12, 3), 77, np.uint8), watermark=None)
    assert load_image(tmp_path / "img.png", size=(4, 6)).shape == (4, 6, 3)
    square = load_image(tmp_path / "img.png", size=5, grayscale=True)
    assert square.shape == (5, 5) and (square == 77).all()


def test_save_grid_accepts_floats_in_minus_one_one(tmp_path: Path) -> None:
    images = torch.linspace(-1, 1, 4 * 3 * 3).reshape(4, 1, 3, 3)
    save_grid(tmp_path / "grid.png", images, nrow=2, watermark=None)
    expected = make_grid(to_uint8(images), nrow=2)
    np.testing.assert_array_equal(load_image(tmp_path / "grid.png", grayscale=True), expected)
    assert expected.shape == (2 * 5 + 2, 2 * 5 + 2) and math.isclose(expected.max(), 255)


def test_save_png_rejects_non_uint8(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="uint8"):
        save_png(tmp_path / "x.png", np.zeros((2, 2), np.float32))


def test_missing_or_unreadable_file_raises(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_image(tmp_path / "missing.png")
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="could not be read"):
        load_image(tmp_path / "junk.png")


def test_pngs_carry_the_visible_mark_by_default(tmp_path: Path) -> None:
    images = np.random.default_rng(3).integers(0, 256, size=(9, 28, 28), dtype=np.uint8)
    path = save_grid(tmp_path / "grid.png", images)
    grid = make_grid(images)
    np.testing.assert_array_equal(load_image(path, grayscale=True), apply_visible(grid, VisibleWatermark()))
    assert load_image(path, grayscale=True).shape == (
        grid.shape[0] + band_height(grid.shape[1], VisibleWatermark()),
        grid.shape[1],
    )
    assert fields_of(read_text_chunks(path.read_bytes()))["visible_watermark"] == "AI GENERATED"


def test_mark_is_off_only_when_asked_and_the_metadata_says_so(tmp_path: Path) -> None:
    images = np.random.default_rng(4).integers(0, 256, size=(4, 3, 8, 8), dtype=np.uint8)
    path = save_grid(tmp_path / "plain.png", images, watermark=None)
    np.testing.assert_array_equal(load_image(path), make_grid(images))
    assert fields_of(read_text_chunks(path.read_bytes()))["visible_watermark"] == "off"
    custom = save_grid(tmp_path / "custom.png", images, watermark=VisibleWatermark(text="SYNTHETIC"))
    assert fields_of(read_text_chunks(custom.read_bytes()))["visible_watermark"] == "SYNTHETIC"


def test_sample_arrays_for_metrics_stay_unmarked(tmp_path: Path) -> None:
    images = np.random.default_rng(5).integers(0, 256, size=(5, 1, 28, 28), dtype=np.uint8)
    save_samples(tmp_path / "s.npz", images)
    np.testing.assert_array_equal(load_samples(tmp_path / "s.npz")[0], images)
