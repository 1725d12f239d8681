"""The size schedule every convolutional family shares: how often an image halves.

A stride-2 pyramid halves an image while both sides are even and the smaller one exceeds
7, so it ends at a base side of 4 to 7: 28 -> 14 -> 7 (base 7, two halvings), 32 -> 16 ->
8 -> 4 (base 4, three), 64 -> ... -> 4 (four), 128 -> ... -> 4 (five). A generator runs the
same schedule upwards from the base side (DCGAN 7 -> 14 -> 28 or 4 -> 8 -> ... -> 128),
so one rule gives every family its depth at every size.
"""

from __future__ import annotations


def halvings(height: int, width: int | None = None) -> int:
    """Stride-2 levels: halve while both sides are even and the smaller one exceeds 7.

    28 -> 2, 32 -> 3, 64 -> 4, 128 -> 5; an odd side (or one of at most 7) gives 0.
    """
    width = height if width is None else width
    levels = 0
    while height % 2 == 0 and width % 2 == 0 and min(height, width) > 7:
        height, width, levels = height // 2, width // 2, levels + 1
    return levels


def base_side(size: int) -> tuple[int, int]:
    """(base side, halvings) of a square side: 28 -> (7, 2), 32 -> (4, 3), 128 -> (4, 5)."""
    levels = halvings(size)
    return size >> levels, levels


def pyramid_widths(base: int, levels: int, cap: int = 8) -> list[int]:
    """Channels of a pyramid of ``levels`` stride-2 steps, fine to coarse: base * min(2^i, cap) for i = 0..levels.

    The DCGAN discriminator reads them left to right (b, 2b, 4b, 8b, 8b, ...) and the
    generator right to left (..., 8b, 4b, 2b, b).
    """
    return [base * min(2**i, cap) for i in range(levels + 1)]
