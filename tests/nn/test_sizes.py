"""The shared size schedule: halvings, base sides and pyramid widths against hand-worked values."""

import pytest

from genlab.nn.sizes import base_side, halvings, pyramid_widths


@pytest.mark.parametrize(
    ("size", "levels", "base"),
    [(28, 2, 7), (32, 3, 4), (64, 4, 4), (128, 5, 4), (8, 1, 4), (14, 1, 7), (48, 3, 6), (7, 0, 7), (27, 0, 27)],
)
def test_halving_stops_at_a_base_side_of_four_to_seven(size, levels, base):
    assert halvings(size) == levels and base_side(size) == (base, levels)
    assert base << levels == size and (levels == 0 or 4 <= base <= 7)


def test_a_rectangle_halves_while_both_sides_can():
    assert halvings(28, 64) == 2 and halvings(64, 28) == 2 and halvings(32, 30) == 1


def test_pyramid_widths_double_up_to_the_cap():
    assert pyramid_widths(64, 2) == [64, 128, 256]
    assert pyramid_widths(2, 5) == [2, 4, 8, 16, 16, 16]
    assert pyramid_widths(3, 3, cap=2) == [3, 6, 6, 6]
