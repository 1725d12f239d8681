"""Optional: the ``invisible-watermark`` package's dwtDctSvd method (Stable Diffusion's default).

An extra, not a dependency (``pip install -e ".[iwm]"``, pinned in pyproject.toml). Only its
dwtDctSvd module is loaded, straight from its file: the package's ``__init__`` also
imports torch and a GAN model (rivaGan) that this method does not use. It carries 32
bits, has no key and no presence statistic: detection is "at least k of the 32 decoded
bits match the expected payload", with k from the binomial tail under chance.

Imports here stay light (numpy only), so the benchmark can run this module in a
separate environment that has the package but not genlab's own dependencies.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path

import numpy as np

from genlab.errors import ConfigError, DataError

MIN_PIXELS = 256 * 256  # the package refuses smaller images
BITS = 32


@functools.cache
def _method_class() -> type:
    spec = importlib.util.find_spec("imwatermark")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the dwtDctSvd method needs the optional package invisible-watermark (pip install "
            "invisible-watermark==0.2.0)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "dwtDctSvd.py"
    module_spec = importlib.util.spec_from_file_location("_imwatermark_dwtDctSvd", path)
    if module_spec is None or module_spec.loader is None or not path.is_file():
        raise ConfigError(
            f"invisible-watermark is installed but {path} is missing; reinstall invisible-watermark==0.2.0"
        )
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.EmbedDwtDctSvd


def iwm_embed(image: np.ndarray, payload: int) -> np.ndarray:
    """Embed 32-bit ``payload`` with dwtDctSvd at the package's defaults. Shapes: uint8 (H, W, 3) RGB."""
    bgr = _check(image)[:, :, ::-1]  # the package works on OpenCV's BGR order
    bits = [(int(payload) >> i) & 1 for i in range(BITS)]
    encoded = _method_class()(watermarks=bits, wmLen=BITS).encode(np.ascontiguousarray(bgr))
    return np.ascontiguousarray(encoded[:, :, ::-1]).astype(np.uint8)


def iwm_decode(image: np.ndarray) -> np.ndarray:
    """The 32 bits dwtDctSvd reads from ``image``, least significant first. Shapes: (H, W, 3) -> (32,)."""
    bgr = np.ascontiguousarray(_check(image)[:, :, ::-1])
    return np.asarray(_method_class()(watermarks=[], wmLen=BITS).decode(bgr), np.uint8)


def matching_bits_threshold(fpr: float) -> int:
    """Fewest matching bits (of 32) that chance reaches with probability at most ``fpr``."""
    tail = 0.0
    for k in range(BITS, -1, -1):
        tail += math.comb(BITS, k) / 2**BITS
        if tail > fpr:
            return k + 1
    return 0


def _check(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise DataError(f"dwtDctSvd needs a uint8 (H, W, 3) RGB image, got {image.dtype} {image.shape}")
    if image.shape[0] * image.shape[1] < MIN_PIXELS:
        raise DataError(f"dwtDctSvd needs at least 256x256 pixels, got {image.shape[1]}x{image.shape[0]}")
    return image
