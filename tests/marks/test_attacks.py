"""The benchmark's image edits keep shape and dtype, are seeded, and crop can be undone."""

import numpy as np
import pytest

from genlab.marks.attacks import crop, crop_alignments, standard_attacks, undo_crop


@pytest.mark.parametrize("name", list(standard_attacks()))
def test_every_attack_keeps_shape_and_dtype(name, mnist_images, shapes_images):
    for image in (mnist_images[0], shapes_images[0]):
        out = standard_attacks(seed=3)[name](image)
        assert out.shape == image.shape and out.dtype == np.uint8
        if name != "none":
            assert not np.array_equal(out, image)


def test_noise_is_seeded(shapes_images):
    a = standard_attacks(seed=3)["noise 0.05"](shapes_images[0])
    b = standard_attacks(seed=3)["noise 0.05"](shapes_images[0])
    np.testing.assert_array_equal(a, b)


def test_undoing_a_crop_restores_the_geometry(shapes_images):
    image = shapes_images[3].astype(float)
    cut = crop(shapes_images[3], 0.1)  # 64 px: 3 px per side cut, then resized back
    assert (3, 3) in crop_alignments(64, 64)
    restored = undo_crop(cut, 3, 3)
    inner = (slice(3, 61), slice(3, 61))
    assert np.abs(restored[inner] - image[inner]).mean() < np.abs(cut.astype(float)[inner] - image[inner]).mean() / 2
