"""Spectral features against closed forms: a constant image, a pure cosine, a DCT basis image."""

import numpy as np
import pytest

from genlab.detect.features import (
    EPS,
    azimuthal_average,
    dct_band_statistics,
    feature_size,
    log_radial_spectrum,
    power_spectrum,
    radius_map,
    spectral_features,
    to_grey,
)

H = W = 28


def test_constant_image_has_all_power_at_zero_frequency():
    c = 0.3
    power = power_spectrum(np.full((1, H, W), c))
    assert power[0, H // 2, W // 2] == pytest.approx((c * H * W) ** 2)
    power[0, H // 2, W // 2] = 0.0
    assert np.abs(power).max() < 1e-18
    radial = log_radial_spectrum(np.full((1, H, W), c))[0]
    assert radial[0] == pytest.approx(np.log((c * H * W) ** 2 + EPS))
    np.testing.assert_allclose(radial[1:], np.log(EPS), atol=1e-6)


@pytest.mark.parametrize("k", [1, 5, 14])
def test_cosine_puts_its_power_on_the_ring_of_its_frequency(k):
    x = np.arange(W)
    image = np.cos(2 * np.pi * k * x / W)[None, :].repeat(H, 0)[None]  # (1, H, W), varies along width only
    radial = azimuthal_average(power_spectrum(image))[0]
    rings = np.bincount(radius_map(H, W).ravel())
    # Each of the peaks at (0, +-k) holds (H W / 2)^2; at the Nyquist frequency k = W/2 the two coincide: (H W)^2.
    total = (H * W) ** 2 if 2 * k == W else 2 * (H * W / 2) ** 2
    expected = np.zeros_like(radial)
    expected[k] = total / rings[k]
    np.testing.assert_allclose(radial, expected, atol=1e-6 * total)


def test_radius_map_and_feature_size():
    r = radius_map(H, W)
    assert r[H // 2, W // 2] == 0 and r[H // 2, W // 2 + 3] == 3 and r.max() == round(np.hypot(14, 14))
    assert feature_size(H, W) == 21 + 55
    assert spectral_features(np.zeros((3, 1, H, W), np.uint8)).shape == (3, feature_size(H, W))


def test_dct_of_a_constant_image_is_one_coefficient():
    c = 0.6
    bands = dct_band_statistics(np.full((1, H, W), c))[0]
    assert bands.shape == (H + W - 1,)
    assert bands[0] == pytest.approx(np.log(c * np.sqrt(H * W) + EPS))  # orthonormal DC = c sqrt(HW)
    np.testing.assert_allclose(bands[1:], np.log(EPS), atol=1e-6)


def test_dct_basis_image_lands_in_its_band():
    k = 7  # cos(pi k (2x + 1) / 2W) along the width, constant along the height: the (0, k) DCT-II basis image
    x = np.arange(W)
    image = np.cos(np.pi * k * (2 * x + 1) / (2 * W))[None, :].repeat(H, 0)[None]
    bands = dct_band_statistics(image)[0]
    coefficient = np.sqrt(H) * np.sqrt(W / 2)  # orthonormal scale of a non-DC 1-D basis vector times a DC one
    band_size = min(k, H - 1) + 1  # positions (u, v) with u + v = k inside the 28 x 28 grid
    expected = (np.log(coefficient + EPS) + (band_size - 1) * np.log(EPS)) / band_size
    assert bands[k] == pytest.approx(expected, abs=1e-3)
    assert np.delete(bands, k).max() < np.log(1e-6)


def test_to_grey_scales_and_averages_channels():
    images = np.zeros((2, 3, 4, 4), np.uint8)
    images[:, 0] = 255
    np.testing.assert_allclose(to_grey(images), 1 / 3)
    with pytest.raises(ValueError):
        to_grey(np.zeros((4, 4), np.uint8))
