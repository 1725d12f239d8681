"""Where the invisible watermark lives: the key's choice of DCT coefficients for one image size.

The *robust band* holds the coefficients with max(u/H, v/W) < 1/2: the frequencies that
survive halving the image, and the ones JPEG quantises least. Half of it (keyed shuffle)
carries the presence pilot, the other half the payload, each coded bit spread over at
least :data:`COEFFICIENTS_PER_BIT` coefficients. Small images (28x28) have too few robust
coefficients for that: there the pilot takes the whole robust band and the payload rides on
the high frequencies, where it survives lossless copies but not blur or resizing.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np

from genlab.errors import ConfigError

DOMAIN = b"genlab-dct-ss/1"
SOFT_SCALE = 4.0  # the detector's soft sign psi(c) = clip(c / SOFT_SCALE, -1, 1), luma 0..255 units
MIN_SIDE = 16
ROBUST_BAND = 0.5  # max(u/H, v/W) below this is in the robust band
CODED_BITS = 63  # BCH(63, 36) codeword length (genlab.marks.invisible.CODE)
COEFFICIENTS_PER_BIT = 6  # fewest robust coefficients per coded bit for a robust payload
BLUR_SIGMA = 1.0  # margins grow as 1 / (response of this Gaussian blur) ...
MIN_RESPONSE = 0.3  # ... floored here, so high frequencies cost at most 1/0.3 times more
MIN_KEY_BYTES = 16


@dataclass(frozen=True, eq=False)
class Layout:
    """Marked coefficients of one key and size. Shapes: M marked, P pilot; arrays (M,) unless noted."""

    indices: np.ndarray  # flat index u * W + v into the (H, W) DCT
    chips: np.ndarray  # the key's +1/-1 sign for each coefficient
    pilot: np.ndarray  # bool: True for the P pilot coefficients
    payload_bit: np.ndarray  # (M - P,) coded bit 0..62 carried by each payload coefficient
    margins: np.ndarray  # |coefficient| an embedded sign is pushed to, at the default strength
    payload_robust: bool


@functools.lru_cache(maxsize=64)
def layout(key: bytes, h: int, w: int) -> Layout:
    """The layout for ``key`` and an H x W image (deterministic; cached)."""
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"a watermark key must be at least {MIN_KEY_BYTES} bytes (genlab keys new makes one)")
    if min(h, w) < MIN_SIDE:
        raise ConfigError(f"the watermark needs images of at least {MIN_SIDE}x{MIN_SIDE} pixels, got {w}x{h}")
    digest = hashlib.sha256(DOMAIN + len(key).to_bytes(4, "big") + key + f"/{h}x{w}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest, "big"))
    fu = np.repeat(np.arange(h) / h, w)  # (H*W,) normalised vertical frequency of each flat index
    fv = np.tile(np.arange(w) / w, h)
    robust = np.flatnonzero(np.maximum(fu, fv) < ROBUST_BAND)[1:]  # [1:] drops the DC term
    robust = robust[rng.permutation(robust.size)]
    half = robust.size // 2
    if robust.size - half >= COEFFICIENTS_PER_BIT * CODED_BITS:
        pilot, payload, payload_robust = robust[:half], robust[half:], True
    else:
        fragile = np.flatnonzero(np.maximum(fu, fv) >= ROBUST_BAND)
        pilot, payload, payload_robust = robust, fragile[rng.permutation(fragile.size)], False
    indices = np.concatenate([pilot, payload])
    chips = rng.choice(np.array([-1.0, 1.0]), size=indices.size)
    # Gaussian blur response at DCT frequency (u, v): exp(-2 pi^2 sigma^2 (nu_u^2 + nu_v^2)),
    # nu = u / (2H) cycles per pixel.
    response = np.exp(-(np.pi**2) * BLUR_SIGMA**2 * (fu[indices] ** 2 + fv[indices] ** 2) / 2)
    margins = SOFT_SCALE / np.maximum(response, MIN_RESPONSE)
    if not payload_robust:
        margins[pilot.size :] = SOFT_SCALE  # the fragile payload is not meant to survive blur
    is_pilot = np.zeros(indices.size, bool)
    is_pilot[: pilot.size] = True
    for array in (indices, chips, is_pilot, margins):
        array.setflags(write=False)
    bits = np.arange(payload.size) % CODED_BITS
    bits.setflags(write=False)
    return Layout(indices, chips, is_pilot, bits, margins, payload_robust)
