"""SimCLR's augmentations and loss as small pure functions (Chen et al. 2020, "A Simple Framework for
Contrastive Learning of Visual Representations").

Every augmentation takes a float batch in [-1, 1], shape (B, C, H, W), and an explicit
``torch.Generator``, and returns a batch of the same shape in [-1, 1]; each image draws its own
parameters. ``two_views`` applies the whole chain twice, independently: the positive pair of
NT-Xent. Flips are used only for colour images (``flip=True``): a mirrored digit or letter is
another symbol, a mirrored photo or shape is the same one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


def _uniform(b: int, low: float, high: float, generator: torch.Generator) -> Tensor:
    return low + (high - low) * torch.rand(b, generator=generator)


def random_resized_crop(
    x: Tensor,
    generator: torch.Generator,
    *,
    scale: tuple[float, float] = (0.5, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    flip: bool = False,
) -> Tensor:
    """A crop of area ``scale`` (fraction of the image) and aspect ``ratio``, resized back to (H, W) bilinearly;
    with ``flip``, mirrored left-right with probability 1/2. Shapes: (B, C, H, W) -> (B, C, H, W)."""
    b = x.shape[0]
    area = _uniform(b, *scale, generator)
    log_ratio = _uniform(b, math.log(ratio[0]), math.log(ratio[1]), generator)
    aspect = torch.exp(log_ratio)
    width = torch.sqrt(area * aspect).clamp(max=1.0)  # fractions of the image side
    height = torch.sqrt(area / aspect).clamp(max=1.0)
    # Centre in normalised coordinates [-1, 1], chosen so the crop stays inside the image.
    cx = (1 - width) * (2 * torch.rand(b, generator=generator) - 1)
    cy = (1 - height) * (2 * torch.rand(b, generator=generator) - 1)
    sign = torch.ones(b)
    if flip:
        sign = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3)  # output grid -> input coordinates
    theta[:, 0, 0], theta[:, 0, 2] = width * sign, cx
    theta[:, 1, 1], theta[:, 1, 2] = height, cy
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def colour_jitter(x: Tensor, generator: torch.Generator, strength: float = 0.4) -> Tensor:
    """Brightness, contrast and saturation each scaled by a factor in [1 - s, 1 + s] per image (RGB only;
    saturation blends with the luma). Shapes: (B, 3, H, W) -> (B, 3, H, W)."""
    b = x.shape[0]
    y = (x + 1) / 2  # [0, 1]
    y = y * _uniform(b, 1 - strength, 1 + strength, generator).view(b, 1, 1, 1)
    mean = y.mean(dim=(1, 2, 3), keepdim=True)
    y = mean + (y - mean) * _uniform(b, 1 - strength, 1 + strength, generator).view(b, 1, 1, 1)
    luma = (0.299 * y[:, 0:1] + 0.587 * y[:, 1:2] + 0.114 * y[:, 2:3]).expand_as(y)
    y = luma + (y - luma) * _uniform(b, 1 - strength, 1 + strength, generator).view(b, 1, 1, 1)
    return (2 * y - 1).clamp(-1, 1)


def gaussian_kernels(sigmas: Tensor, size: int) -> Tensor:
    """Normalised 1-D Gaussian kernels, one per sigma. Shapes: (B,) -> (B, size); size odd."""
    offsets = torch.arange(size, dtype=torch.float32) - size // 2  # (size,)
    weights = torch.exp(-(offsets[None] ** 2) / (2 * sigmas[:, None] ** 2))  # (B, size)
    return weights / weights.sum(1, keepdim=True)


def gaussian_blur(x: Tensor, sigmas: Tensor, size: int = 5) -> Tensor:
    """Separable Gaussian blur with one sigma per image (reflect padding). Shapes: (B, C, H, W), (B,) -> same."""
    b, c, h, w = x.shape
    kernel = gaussian_kernels(sigmas, size).repeat_interleave(c, 0)  # (B*C, size)
    flat = x.reshape(1, b * c, h, w)  # one group per (image, channel)
    pad = size // 2
    flat = F.conv2d(F.pad(flat, (pad, pad, 0, 0), mode="reflect"), kernel.view(b * c, 1, 1, size), groups=b * c)
    flat = F.conv2d(F.pad(flat, (0, 0, pad, pad), mode="reflect"), kernel.view(b * c, 1, size, 1), groups=b * c)
    return flat.view(b, c, h, w)


def random_blur(x: Tensor, generator: torch.Generator, p: float = 0.5, sigma: tuple[float, float] = (0.1, 1.0)):
    """Blur each image with probability ``p`` by a sigma drawn from ``sigma`` (pixels)."""
    b = x.shape[0]
    sigmas = _uniform(b, *sigma, generator)
    apply = (torch.rand(b, generator=generator) < p).view(b, 1, 1, 1)
    return torch.where(apply, gaussian_blur(x, sigmas), x)


def random_noise(x: Tensor, generator: torch.Generator, p: float = 0.5, max_sigma: float = 0.1) -> Tensor:
    """Add N(0, s^2) noise, s ~ U(0, max_sigma) in units of the [-1, 1] range, with probability ``p``."""
    b = x.shape[0]
    s = _uniform(b, 0.0, max_sigma, generator) * (torch.rand(b, generator=generator) < p)
    return (x + s.view(b, 1, 1, 1) * torch.randn(x.shape, generator=generator)).clamp(-1, 1)


@dataclass(frozen=True)
class Augmentation:
    """The SimCLR chain: crop (and flip), colour jitter (RGB), blur, noise."""

    crop_scale: tuple[float, float] = (0.5, 1.0)
    flip: bool = False
    jitter: float = 0.4  # 0 = off; used only on 3-channel images
    blur_p: float = 0.5
    noise_p: float = 0.5
    noise_sigma: float = 0.1

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        x = random_resized_crop(x, generator, scale=self.crop_scale, flip=self.flip)
        if x.shape[1] == 3 and self.jitter > 0:
            x = colour_jitter(x, generator, self.jitter)
        x = random_blur(x, generator, self.blur_p)
        return random_noise(x, generator, self.noise_p, self.noise_sigma)


def for_images(channels: int) -> Augmentation:
    """Flips and colour jitter for colour images; neither for grey ones (a mirrored symbol is another symbol)."""
    return Augmentation(flip=channels == 3, jitter=0.4 if channels == 3 else 0.0)


def two_views(x: Tensor, augment: Augmentation, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Two independent augmentations of the same batch: SimCLR's positive pairs."""
    return augment(x, generator), augment(x, generator)


def nt_xent(z1: Tensor, z2: Tensor, temperature: float = 0.5) -> Tensor:
    """NT-Xent (normalised temperature-scaled cross entropy), SimCLR's loss. Shapes: (B, D), (B, D) -> ().

    With u_i the L2-normalised rows of [z1; z2] (2B of them) and s_ij = u_i . u_j / t, the loss of
    anchor i whose positive is j(i) (its other view) is -log(exp s_ij / sum_{k != i} exp s_ik),
    averaged over all 2B anchors.
    """
    b = z1.shape[0]
    u = F.normalize(torch.cat([z1, z2]), dim=1)  # (2B, D)
    sim = u @ u.T / temperature  # (2B, 2B)
    sim = sim.masked_fill(torch.eye(2 * b, dtype=torch.bool), float("-inf"))
    positives = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)])  # (2B,)
    return F.cross_entropy(sim, positives)
