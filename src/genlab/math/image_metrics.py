"""Full-reference image quality: mean absolute error, PSNR and SSIM, per image.

Pure functions of two float tensors of the same shape (N, C, H, W) on the same scale;
``data_range`` is that scale's width (1 for [0, 1], 2 for [-1, 1], 255 for pixel values).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SSIM_K1, SSIM_K2 = 0.01, 0.03  # Wang et al. 2004, section III-C
SSIM_WINDOW, SSIM_SIGMA = 11, 1.5  # their circular-symmetric Gaussian weighting window


def _check(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"need two (N, C, H, W) tensors of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")


def mean_absolute_error(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """L1 distance per image, averaged over pixels and channels. Shapes: (N, C, H, W) twice -> (N,)."""
    _check(x, y)
    return (x - y).abs().flatten(1).mean(1)


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image: 10 log10(R^2 / MSE); +inf where x == y.

    Shapes: (N, C, H, W) twice -> (N,) float64.
    """
    _check(x, y)
    mse = (x.double() - y.double()).square().flatten(1).mean(1)
    return 10.0 * torch.log10(data_range**2 / mse)


def gaussian_1d(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """Normalised 1-D Gaussian weights, float64 (size,), summing to 1."""
    t = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(t**2) / (2 * sigma**2))
    return g / g.sum()


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """Normalised 2-D Gaussian weights, float64 (size, size), summing to 1: the outer product of two 1-D ones."""
    g = gaussian_1d(size, sigma)
    return torch.outer(g, g)


def ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Local SSIM (Wang et al. 2004, eq. 13) over every fully inside window position.

    SSIM = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),
    C1 = (K1 R)^2, C2 = (K2 R)^2; the moments are Gaussian-weighted (11 x 11, sigma 1.5) per channel,
    computed in float64 with the window's two separable 1-D passes.
    Shapes: (N, C, H, W) twice -> float64 (N, C, H - 10, W - 10).
    """
    _check(x, y)
    g = gaussian_1d()
    k = g.numel()
    if x.shape[-1] < k or x.shape[-2] < k:
        raise ValueError(f"images of {x.shape[-2]}x{x.shape[-1]} are smaller than the {k}x{k} SSIM window")
    c = x.shape[1]
    rows, cols = g.view(1, 1, k, 1).expand(c, 1, k, 1), g.view(1, 1, 1, k).expand(c, 1, 1, k)

    def local_mean(v: torch.Tensor) -> torch.Tensor:
        # (N, C, H, W) -> (N, C, H-k+1, W) -> (N, C, H-k+1, W-k+1), one depthwise filter per channel
        return F.conv2d(F.conv2d(v, rows, groups=c), cols, groups=c)

    x, y = x.double(), y.double()
    mu_x, mu_y = local_mean(x), local_mean(y)
    var_x = local_mean(x * x) - mu_x**2
    var_y = local_mean(y * y) - mu_y**2
    cov = local_mean(x * y) - mu_x * mu_y
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM per image (the map of :func:`ssim_map` averaged over positions and channels).

    Shapes: (N, C, H, W) twice -> float64 (N,); 1 for identical images.
    """
    return ssim_map(x, y, data_range).flatten(1).mean(1)
