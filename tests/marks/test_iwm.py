"""The optional invisible-watermark (dwtDctSvd) adapter; the round trip runs only where the package is installed."""

import importlib.util
from math import comb

import numpy as np
import pytest

from genlab.errors import ConfigError, DataError
from genlab.marks import iwm


def chance_tail(k: int) -> float:
    """P(at least k of 32 fair coin flips match)."""
    return sum(comb(32, j) for j in range(k, 33)) / 2**32


@pytest.mark.parametrize("fpr", [0.05, 0.01, 1e-4])
def test_matching_bits_threshold_is_the_binomial_tail(fpr):
    k = iwm.matching_bits_threshold(fpr)
    assert chance_tail(k) <= fpr < chance_tail(k - 1)


def test_missing_package_is_one_clear_error(monkeypatch):
    iwm._method_class.cache_clear()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    try:
        with pytest.raises(ConfigError, match="pip install invisible-watermark"):
            iwm.iwm_embed(np.zeros((256, 256, 3), np.uint8), 1)
    finally:
        monkeypatch.undo()
        iwm._method_class.cache_clear()


def test_small_or_grey_images_are_refused():
    with pytest.raises(DataError, match="256x256"):
        iwm.iwm_decode(np.zeros((128, 128, 3), np.uint8))
    with pytest.raises(DataError, match="RGB"):
        iwm.iwm_decode(np.zeros((256, 256), np.uint8))


def test_round_trip_with_the_package(shapes_images):
    pytest.importorskip("cv2")
    pytest.importorskip("pywt")
    if importlib.util.find_spec("imwatermark") is None:
        pytest.skip("invisible-watermark is not installed (optional extra)")
    from PIL import Image

    image = np.asarray(Image.fromarray(shapes_images[0]).resize((256, 256), Image.Resampling.BICUBIC))
    marked = iwm.iwm_embed(image, 0xC0FFEE01)
    bits = iwm.iwm_decode(marked)
    assert sum(int(b) << i for i, b in enumerate(bits)) == 0xC0FFEE01
