"""Spectral features of images: the azimuthally averaged power spectrum and DCT band statistics.

Up-sampling layers leave periodic traces in a generated image's spectrum and decoders
that average (a VAE's mean image) remove high frequencies (Durall, Keuper & Keuper 2020,
"Watch your up-convolution", CVPR; Frank et al. 2020, "Leveraging frequency analysis
for deep fake image recognition", ICML). These functions turn uint8 images into the
fixed-length vectors the logistic-regression detector reads.

All functions are pure NumPy/SciPy on float64; images are grey (N, H, W) in [0, 1]
(:func:`to_grey` makes them from uint8 (N, C, H, W)).
"""

from __future__ import annotations

import numpy as np
from scipy.fft import dctn

EPS = 1e-8  # floor inside every log, so empty bins and exact zeros stay finite


def to_grey(images: np.ndarray) -> np.ndarray:
    """uint8 (N, C, H, W) -> float64 (N, H, W) in [0, 1], the mean over channels."""
    if images.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) images, got shape {images.shape}")
    return images.astype(np.float64).mean(axis=1) / 255.0


def power_spectrum(images: np.ndarray) -> np.ndarray:
    """|FFT|^2 of each image, zero frequency at the centre (``fftshift``).

    Shapes: (N, H, W) -> (N, H, W). Unnormalised DFT: a constant image c has
    power (c H W)^2 at the centre and 0 elsewhere.
    """
    spectrum = np.fft.fftshift(np.fft.fft2(images, axes=(-2, -1)), axes=(-2, -1))
    return spectrum.real**2 + spectrum.imag**2


def radius_map(h: int, w: int) -> np.ndarray:
    """Integer distance (rounded) of each centred frequency from zero frequency. Shapes: -> int (H, W)."""
    fy = np.arange(h) - h // 2  # the centre of an fftshift-ed axis is at index n // 2
    fx = np.arange(w) - w // 2
    return np.rint(np.hypot(fy[:, None], fx[None, :])).astype(np.int64)


def azimuthal_average(power: np.ndarray) -> np.ndarray:
    """Mean of a centred spectrum over each ring of integer radius r = 0 .. max.

    Shapes: (N, H, W) -> (N, R) with R = max radius + 1 (21 for 28 x 28).
    """
    radius = radius_map(*power.shape[-2:]).ravel()
    counts = np.bincount(radius)  # every radius 0..max occurs on a full grid
    sums = np.stack([np.bincount(radius, weights=p.ravel(), minlength=counts.size) for p in power])
    return sums / counts


def log_radial_spectrum(images: np.ndarray) -> np.ndarray:
    """log of the azimuthally averaged power spectrum. Shapes: (N, H, W) -> (N, R)."""
    return np.log(azimuthal_average(power_spectrum(images)) + EPS)


def dct_band_statistics(images: np.ndarray) -> np.ndarray:
    """Mean log |DCT-II coefficient| over each anti-diagonal band u + v = d, d = 0 .. H + W - 2.

    Orthonormal 2-D DCT-II (scipy ``norm="ortho"``): a constant image c has the single
    coefficient c sqrt(H W) at (0, 0). Bands are JPEG's zig-zag diagonals, ordered from
    low to high frequency. Shapes: (N, H, W) -> (N, H + W - 1).
    """
    h, w = images.shape[-2:]
    log_magnitude = np.log(np.abs(dctn(images, type=2, norm="ortho", axes=(-2, -1))) + EPS)
    band = (np.arange(h)[:, None] + np.arange(w)[None, :]).ravel()
    counts = np.bincount(band)
    sums = np.stack([np.bincount(band, weights=m.ravel(), minlength=counts.size) for m in log_magnitude])
    return sums / counts


def spectral_features(images: np.ndarray, batch_size: int = 2000) -> np.ndarray:
    """The detector's feature vector: log radial spectrum then DCT band statistics.

    Shapes: uint8 (N, C, H, W) -> float64 (N, R + H + W - 1) (21 + 55 = 76 for 28 x 28).
    """
    parts = []
    for start in range(0, images.shape[0], batch_size):
        grey = to_grey(images[start : start + batch_size])
        parts.append(np.concatenate([log_radial_spectrum(grey), dct_band_statistics(grey)], axis=1))
    return np.concatenate(parts)


def feature_size(h: int, w: int) -> int:
    """Length of :func:`spectral_features` for H x W images."""
    return int(radius_map(h, w).max()) + 1 + h + w - 1
