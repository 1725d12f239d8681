"""shapes-edges256: the 256 x 256 edges -> filled shapes pairs of the real-time filter."""

import numpy as np
from scipy import ndimage

from genlab.data import DataInfo, load_dataset
from genlab.data.edges256 import FILL_RGB, INK_RGB, PAPER_RGB, render_pair, render_split, shape_mask
from genlab.data.translation import split_pair, translation_ground_truth


def test_masks_have_the_areas_of_their_closed_forms():
    circle, square = shape_mask(0, 128, 128, 50), shape_mask(1, 128, 128, 50)
    triangle = shape_mask(2, 128, 128, 50)
    assert abs(circle.sum() / (np.pi * 50**2) - 1) < 0.01
    assert abs(square.sum() / (80 * 80) - 1) < 0.03  # half-side 0.8 r: (2 * 40)^2, edges inclusive
    side = 50 * np.sqrt(3)  # an equilateral triangle inscribed in the circle
    assert abs(triangle.sum() / (np.sqrt(3) / 4 * side**2) - 1) < 0.03


def test_a_is_the_outline_of_b_and_b_fills_it_by_kind():
    shapes = [(0, 70.0, 70.0, 40.0), (1, 180.0, 180.0, 40.0), (2, 70.0, 190.0, 40.0)]
    a, b = render_pair(shapes)
    assert a.shape == b.shape == (3, 256, 256) and np.array_equal(a[0], a[1]) and np.array_equal(a[0], a[2])
    ink = a[0] == 0
    assert np.array_equal(np.all(b == INK_RGB[:, None, None], axis=0), ink)  # outlines drawn in ink on both sides
    for kind, cx, cy, r in shapes:
        inside = ndimage.binary_erosion(shape_mask(kind, cx, cy, r), iterations=3)
        assert np.all(b[:, inside] == FILL_RGB[kind][:, None]) and not ink[inside].any()
    paper = ~np.any([shape_mask(*s) for s in shapes], axis=0)
    assert np.all(b[:, paper] == PAPER_RGB[:, None]) and np.all(a[:, paper] == 255)


def test_splits_are_deterministic_registered_and_aligned():
    a, b, labels = render_split("test")
    again = render_split("test")
    assert np.array_equal(a, again[0]) and np.array_equal(b, again[1]) and np.array_equal(labels, again[2])
    images, loaded_labels, info = load_dataset("shapes-edges256", "test")
    assert info == DataInfo(3, 256, 512, 4) and images.shape == (64, 3, 256, 512)
    left, right = split_pair(images)
    assert np.array_equal(left, a) and np.array_equal(right, b) and np.array_equal(loaded_labels, labels)
    gt_a, gt_b, _ = translation_ground_truth("shapes-edges256")
    assert np.array_equal(gt_a, a) and np.array_equal(gt_b, b)
    assert set(labels.tolist()) <= {0, 1, 2, 3} and len(set(labels.tolist())) > 1
    assert not np.array_equal(render_split("train")[0][:64], a)  # the train split has its own seed
