"""Invisible watermark: a keyed spread-spectrum mark in the signs of full-frame DCT coefficients.

Scheme ``genlab-dct-ss/1``. The key picks, for each image size, which luma DCT
coefficients carry the mark and a random sign ("chip") for each (:mod:`genlab.marks.layout`).

- **Presence** is a correlation z-score over the pilot coefficients,
  ``z = sum_i chip_i psi(c_i) / sqrt(sum_i psi(c_i)^2)`` with ``psi(c) = clip(c / 4, -1, 1)``
  (a soft sign, the locally optimum statistic for heavy-tailed hosts). Without the mark,
  or with another key, the chips are independent fair signs, so ``z`` is about N(0, 1)
  whatever the image: the threshold for a false-positive rate ``fpr`` is the normal
  quantile, and ``benchmarks/watermark.py`` checks it on real images.
- **Payload**: 32 bits + CRC-4, BCH(63, 36) encoded (corrects 5 bit errors); coded bit k
  is the sign of the chip-weighted sum of its coefficients.
- **Embedding is informed** (Cox et al., *Digital Watermarking*, ch. 5): coefficients
  whose sign already agrees cost nothing; the embedder pushes the cheapest ones to a
  margin (larger at high frequencies, which blur and JPEG attenuate) until the pilot
  reaches ``target_z`` and each coded bit its margin, then projects back onto valid
  uint8 pixels (alternating projections, since clipping at 0 and 255 undoes some of it).

Shapes: images are uint8 (H, W) grey or (H, W, 3) RGB, H and W >= 16. RGB marks go in the
luma: the same change is added to R, G and B.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy.stats import norm

from genlab.errors import ConfigError, DataError
from genlab.marks.attacks import crop_alignments, undo_crop
from genlab.marks.ecc import BCH, crc
from genlab.marks.layout import MIN_SIDE, SOFT_SCALE, Layout, layout

SCHEME = "genlab-dct-ss/1"
PAYLOAD_BITS = 32
CODE = BCH(6, 5)  # (63, 36, t=5): 32 payload bits + 4 CRC bits
_LUMA = np.array([0.299, 0.587, 0.114])
_ITERATIONS = 8


@dataclass(frozen=True)
class MarkStrength:
    """How hard the embedder pushes; stronger survives more and costs more PSNR."""

    margin: float = SOFT_SCALE  # |DCT coefficient| (luma 0..255 units) an embedded sign is pushed to
    target_z: float = 4.0  # least pilot z-score the embedder aims for
    bit_margin: float = 2.0  # least net agreeing coefficients (in psi units) per coded payload bit
    # ... or this share of the coefficients net agreeing, if more: large images get more robust, not just cheaper
    rate: float = 0.2

    def check(self) -> None:
        if self.margin < SOFT_SCALE:
            raise ConfigError(f"margin must be >= {SOFT_SCALE} (the detector's soft-sign scale), got {self.margin}")
        if self.target_z <= 0 or self.bit_margin <= 0 or not 0 <= self.rate < 1:
            raise ConfigError(
                f"need target_z > 0, bit_margin > 0 and rate in [0, 1), got {self.target_z}, {self.bit_margin}, "
                f"{self.rate}"
            )


@dataclass(frozen=True)
class InvisibleMark:
    """What a writer embeds: the secret key and the 32-bit payload (None: presence only)."""

    key: bytes
    payload: int | None = None
    strength: MarkStrength = MarkStrength()


@dataclass(frozen=True)
class Detection:
    """What :func:`detect` found. ``payload`` is None unless BCH decoding and the CRC agree."""

    z: float
    p_value: float
    threshold: float
    detected: bool
    payload: int | None
    corrected_bits: int | None  # bit errors BCH corrected; None when decoding failed
    message_bits: np.ndarray  # (32,) best guess at the payload bits, decoded or raw
    payload_robust: bool  # False at sizes where the payload rides on fragile high frequencies
    crop_cut: float  # per-side cut whose undoing gave the best z (0 unless search_crop)


def embed(
    image: np.ndarray,
    key: bytes,
    payload: int | None = None,
    strength: MarkStrength = MarkStrength(),
    editable: np.ndarray | None = None,
) -> np.ndarray:
    """Return ``image`` with the mark for ``key`` and the 32-bit ``payload`` (None: presence only).

    ``editable`` (bool (H, W)) limits the changes to those pixels, e.g. to keep a visible
    mark's text band clean; the mark is still read from the whole frame.
    """
    strength.check()
    pixels = _check_image(image)
    h, w = pixels.shape[:2]
    if editable is not None and np.shape(editable) != (h, w):
        raise DataError(f"editable must have the image's shape {(h, w)}, got {np.shape(editable)}")
    lay = layout(key, h, w)
    signs = _desired_signs(lay, payload)
    margins = lay.margins * (strength.margin / SOFT_SCALE)
    y = pixels.astype(np.float64)
    chosen = np.zeros(lay.indices.size, bool)
    for _ in range(_ITERATIONS):
        c = _luma_dct(y)[lay.indices]
        chosen |= _plan(c, signs, lay, margins, strength)
        push = np.where(chosen, np.maximum(0.0, margins - signs * c), 0.0) * signs
        if not push.any():
            break
        spectrum = np.zeros(h * w)
        spectrum[lay.indices] = push
        delta = scipy.fft.idctn(spectrum.reshape(h, w), norm="ortho")  # (H, W) luma change
        if editable is not None:
            delta = np.where(editable, delta, 0.0)
        y = np.clip(np.round(y + (delta if y.ndim == 2 else delta[:, :, None])), 0, 255)
    return y.astype(np.uint8)


def detect(image: np.ndarray, key: bytes, *, fpr: float = 0.01, search_crop: bool = False) -> Detection:
    """Test ``image`` for the mark of ``key`` at false-positive rate ``fpr`` and decode its payload.

    ``search_crop`` also tries undoing a centred crop that was resized back (see
    :data:`genlab.marks.attacks.CROP_SEARCH`); the threshold is Bonferroni-corrected for the extra tries.
    """
    if not 0 < fpr < 1:
        raise ConfigError(f"fpr must lie in (0, 1), got {fpr}")
    pixels = _check_image(image)
    h, w = pixels.shape[:2]
    lay = layout(key, h, w)
    cuts = crop_alignments(h, w) if search_crop else {(0, 0): 0.0}
    best = None
    for (dh, dw), cut in cuts.items():
        c = _luma_dct(undo_crop(pixels, dh, dw))[lay.indices]
        psi = np.clip(c / SOFT_SCALE, -1.0, 1.0) * lay.chips
        pilot = psi[lay.pilot]
        z = float(pilot.sum() / np.sqrt((pilot**2).sum())) if pilot.any() else 0.0
        if best is None or z > best[0]:
            best = (z, psi, cut)
    z, psi, cut = best
    tries = len(cuts)
    threshold = float(norm.isf(fpr / tries))
    soft = np.bincount(lay.payload_bit, weights=psi[~lay.pilot], minlength=CODE.n)
    payload, corrected, message = _decode(soft)
    return Detection(
        z,
        min(1.0, tries * float(norm.sf(z))),
        threshold,
        z >= threshold,
        payload,
        corrected,
        message,
        lay.payload_robust,
        cut,
    )


def payload_bits(payload: int) -> np.ndarray:
    """The 32 bits of ``payload``, least significant first."""
    if not isinstance(payload, (int, np.integer)) or not 0 <= payload < 2**PAYLOAD_BITS:
        raise ConfigError(f"payload must be an integer in 0 .. 2^{PAYLOAD_BITS} - 1, got {payload!r}")
    return np.array([(int(payload) >> i) & 1 for i in range(PAYLOAD_BITS)], np.uint8)


def pack_payload(model_id: int, run_id: int) -> int:
    """32-bit payload from a 16-bit model id (high half) and a 16-bit run id (low half)."""
    for name, value in (("model id", model_id), ("run id", run_id)):
        if not 0 <= value < 2**16:
            raise ConfigError(f"{name} must be in 0 .. 65535, got {value}")
    return (model_id << 16) | run_id


def unpack_payload(payload: int) -> tuple[int, int]:
    """Inverse of :func:`pack_payload`: (model id, run id)."""
    return payload >> 16, payload & 0xFFFF


def psnr(original: np.ndarray, marked: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB between two uint8 images (inf when identical)."""
    mse = float(np.mean((original.astype(np.float64) - marked.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _desired_signs(lay: Layout, payload: int | None) -> np.ndarray:
    """+1/-1 target sign for every marked coefficient; 0 where nothing is embedded."""
    signs = lay.chips.copy()
    if payload is None:
        signs[~lay.pilot] = 0.0
        return signs
    bits = payload_bits(payload)
    coded = CODE.encode(np.concatenate([bits, crc(bits)]))  # (63,)
    signs[~lay.pilot] *= np.where(coded[lay.payload_bit] == 1, 1.0, -1.0)
    return signs


def _plan(c: np.ndarray, signs: np.ndarray, lay: Layout, margins: np.ndarray, strength: MarkStrength) -> np.ndarray:
    """Greedy choice of coefficients to push: cheapest gain first, until each target is met.

    Shapes: c, signs, margins (M,) over the layout's coefficients; returns bool (M,).
    """
    psi = np.clip(c / SOFT_SCALE, -1.0, 1.0)
    agree = signs * psi  # in [-1, 1]; 1 = already carries its sign at full weight
    gain = 1.0 - agree
    ratio = np.maximum(0.0, margins - signs * c) ** 2 / np.maximum(gain, 1e-9)
    chosen = np.zeros(c.size, bool)
    # 1. Pilot: the shortest cheapest-first prefix whose z-score reaches the target.
    pilot = np.flatnonzero(lay.pilot)
    order = pilot[np.argsort(ratio[pilot], kind="stable")]
    numerator = agree[pilot].sum() + np.cumsum(gain[order])
    denominator = np.sqrt((psi[pilot] ** 2).sum() + np.cumsum(1.0 - psi[order] ** 2))
    target = max(strength.target_z, strength.rate * np.sqrt(pilot.size))  # z = rate * sqrt(P) when every psi is +-1
    reached = np.flatnonzero(numerator / denominator >= target)
    if agree[pilot].sum() < target * np.sqrt((psi[pilot] ** 2).sum()):
        chosen[order[: reached[0] + 1 if reached.size else order.size]] = True
    # 2. Payload: per coded bit, the cheapest coefficients until its margin is met.
    if signs[~lay.pilot].any():
        members = np.flatnonzero(~lay.pilot)
        bit = lay.payload_bit
        order = np.lexsort((ratio[members], bit))  # grouped by bit, cheapest first
        gains = gain[members][order]
        cumulative = np.cumsum(gains)
        starts = np.searchsorted(bit[order], np.arange(CODE.n))
        before = cumulative - gains - np.concatenate([[0.0], cumulative])[starts][bit[order]]
        target = np.maximum(strength.bit_margin, strength.rate * np.bincount(bit, minlength=CODE.n))
        missing = target - np.bincount(bit, weights=agree[members], minlength=CODE.n)
        chosen[members[order[before < missing[bit[order]]]]] = True
    return chosen


def _decode(soft: np.ndarray) -> tuple[int | None, int | None, np.ndarray]:
    hard = (soft > 0).astype(np.uint8)
    decoded = CODE.decode(hard)
    if decoded is None:
        return None, None, hard[CODE.n - CODE.k :][:PAYLOAD_BITS].copy()
    message, corrected = decoded
    bits = message[:PAYLOAD_BITS]
    if not np.array_equal(crc(bits), message[PAYLOAD_BITS:]):
        return None, None, bits.copy()
    return int(sum(int(b) << i for i, b in enumerate(bits))), corrected, bits.copy()


def _luma_dct(y: np.ndarray) -> np.ndarray:
    """Flattened orthonormal 2-D DCT-II of the luma. Shapes: (H, W) or (H, W, 3) -> (H*W,)."""
    luma = y if y.ndim == 2 else y @ _LUMA
    return scipy.fft.dctn(luma, norm="ortho").ravel()


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise DataError(f"the watermark works on uint8 images, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]  # (H, W, 1) -> (H, W)
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise DataError(f"the watermark needs a (H, W) or (H, W, 3) image, got shape {image.shape}")
    if min(image.shape[:2]) < MIN_SIDE:
        raise DataError(
            f"the watermark needs images of at least {MIN_SIDE}x{MIN_SIDE} pixels, got "
            f"{image.shape[1]}x{image.shape[0]}"
        )
    return image
