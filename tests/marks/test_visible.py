"""The visible mark: the band's text, the tiles over every cell, wrapping and character support."""

import numpy as np
import pytest

from genlab.data import make_grid
from genlab.errors import ConfigError
from genlab.marks.visible import (
    BAND_PADDING,
    LINE_HEIGHT,
    VisibleWatermark,
    _text_mask,
    apply_visible,
    band_height,
    drawable,
    wrap,
)

MARK = VisibleWatermark()


def test_band_is_added_below_and_carries_the_text(mnist_images):
    grid = make_grid(mnist_images[:16])  # 4x4 grid of 28x28: 122 x 122
    marked = apply_visible(grid, MARK)
    assert marked.shape == (grid.shape[0] + band_height(grid.shape[1], MARK), grid.shape[1])
    band = marked[grid.shape[0] :]
    expected = _text_mask(wrap(MARK.text, grid.shape[1] - 2 * BAND_PADDING), grid.shape[1], align="center")
    np.testing.assert_array_equal(
        band[BAND_PADDING : BAND_PADDING + LINE_HEIGHT] == 0, expected
    )  # black ink exactly where the font draws
    assert (band[band != 0] == 255).all()


def test_tiles_touch_every_cell_of_a_grid_and_stay_faint(mnist_images):
    grid = make_grid(mnist_images[:16], padding=2)
    tiled = apply_visible(grid, MARK)[: grid.shape[0]]
    change = np.abs(tiled.astype(int) - grid.astype(int))
    assert change.max() <= round(MARK.tile_opacity * 255) + 1  # faint: at most opacity x 255 levels
    for row in range(4):
        for col in range(4):
            top, left = 2 + row * 30, 2 + col * 30
            assert change[top : top + 28, left : left + 28].any(), (row, col)  # cropping one image keeps a mark


def test_rgb_pictures_keep_three_channels(shapes_images):
    marked = apply_visible(shapes_images[0], MARK)
    assert marked.shape == (64 + band_height(64, MARK), 64, 3) and marked.dtype == np.uint8


@pytest.mark.parametrize(
    ("text", "width", "lines"),
    [
        ("AI GENERATED", 242, ["AI GENERATED"]),
        ("AI GENERATED", 60, ["AI", "GENERATED"]),
        ("AI GENERATED", 24, ["AI", "GENE", "RATE", "D"]),  # words longer than the width break
        ("AI GENERATED — NOT LEGAL TENDER", 118, ["AI GENERATED - NOT", "LEGAL TENDER"]),  # 19 characters a line
    ],
)
def test_wrap(text, width, lines):
    assert wrap(text, width) == lines
    assert all(len(line) * 6 <= width for line in lines)


def test_non_latin_text_is_drawn_with_lookalikes():
    assert drawable("AI — “made”…") == 'AI - "made"...'
    assert drawable("Ŝ中") == "S?"


@pytest.mark.parametrize(
    "mark",
    [
        VisibleWatermark(text=" "),
        VisibleWatermark(text="x" * 201),
        VisibleWatermark(tile_opacity=0.0),
        VisibleWatermark(text="a\nb"),
    ],
)
def test_bad_settings(mark):
    with pytest.raises(ConfigError):
        mark.check()
