"""How images reach an extractor's input size: one stated rule per extractor.

Two sets are only comparable when both went through the same rule, and FID moves by whole points
between rules (Parmar et al. 2022, "On Aliased Resizing and Surprising Subtleties in GAN
Evaluation", the clean-fid paper). genlab's rules:

- The default extractors (digits 1x28x28, shapes 3x64x64) and random-projection (the
  reference's shape) get :func:`conform`: channels first (grey -> RGB by repetition,
  RGB -> grey by PIL's ITU-R 601-2 luma), then PIL's anti-aliased BICUBIC resize on uint8.
- The Inception extractor reproduces the reference tool named by ``--resize``
  (:func:`inception_input`), each down to the float operations:

  ``pytorch-fid``     x / 255 in float32, ``F.interpolate(bilinear, align_corners=False)``
                      to 299x299 (no anti-aliasing), then 2x - 1 (pytorch-fid 0.3.0's
                      ``ToTensor`` + ``InceptionV3(resize_input, normalize_input)``);
  ``torch-fidelity``  uint8 as float32, TensorFlow 1.x's bilinear resize to 299x299
                      (corner-aligned grid ``src = dst * in / out``, no half-pixel offset),
                      then (x - 128) / 128 (torch-fidelity 0.4.0's
                      ``FeatureExtractorInceptionV3``, the original TF FID graph's input);
  ``clean``           PIL BICUBIC (anti-aliased) on each channel as float32 ('F' mode) to
                      299x299, clipped to [0, 255], then (x - 128) / 128 (clean-fid's
                      "clean" mode resizer; its network is the same TF graph).

Grey images are repeated to three channels first, as ``PIL.Image.convert('RGB')`` does in
both reference tools.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from genlab.errors import ConfigError, DataError

ResizeRule = Literal["pytorch-fid", "torch-fidelity", "clean"]
RESIZE_RULES: tuple[str, ...] = get_args(ResizeRule)
INCEPTION_SIZE = 299


def check_rule(rule: str) -> ResizeRule:
    if rule not in RESIZE_RULES:
        raise ConfigError(f"unknown resize rule {rule!r}; use one of {', '.join(RESIZE_RULES)}")
    return rule  # type: ignore[return-value]


def _as_nchw_uint8(images: np.ndarray, where: str) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise DataError(f"{where}: needs uint8 (N, H, W) or (N, C, H, W) images, got {images.dtype} {images.shape}")
    return images[:, None] if images.ndim == 3 else images


def to_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """Shapes: uint8 (N, C, H, W), C in {1, 3} -> (N, channels, H, W): grey repeated, RGB to PIL's luma."""
    images = _as_nchw_uint8(images, "to_channels")
    c = images.shape[1]
    if c == channels:
        return images
    if c == 1 and channels == 3:
        return np.repeat(images, 3, axis=1)
    if c == 3 and channels == 1:
        # PIL's convert('L'): L = R * 299/1000 + G * 587/1000 + B * 114/1000, rounded (ITU-R 601-2).
        return np.stack([np.asarray(Image.fromarray(im.transpose(1, 2, 0)).convert("L")) for im in images])[:, None]
    raise DataError(f"images have {c} channels; genlab reads 1 (grey) or 3 (RGB)")


def pil_resize(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """Anti-aliased PIL BICUBIC resize of uint8 images. Shapes: (N, C, H, W) -> (N, C, height, width)."""
    images = _as_nchw_uint8(images, "pil_resize")
    if images.shape[2:] == (height, width):
        return images
    out = np.empty((images.shape[0], images.shape[1], height, width), dtype=np.uint8)
    for i, im in enumerate(images):
        for c, channel in enumerate(im):  # one 'L' image per channel: the same filter for grey and RGB
            resized = Image.fromarray(channel).resize((width, height), Image.Resampling.BICUBIC)  # PIL: (W, H)
            out[i, c] = np.asarray(resized)
    return out


def conform(images: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """The default extractors' rule: channels, then anti-aliased resize.

    Shapes: uint8 (N, C', H', W') -> (N, *shape).
    """
    channels, height, width = shape
    return pil_resize(to_channels(images, channels), height, width)


def tf1_bilinear(x: Tensor, height: int, width: int) -> Tensor:
    """TensorFlow 1.x ``resize_bilinear`` with align_corners=False: output pixel i samples the input at
    i * in / out (no half-pixel centres), clamped at the far edge; lerp order as in TF's kernel.

    Shapes: float (B, C, H, W) -> (B, C, height, width).
    """

    def grid(n_in: int, n_out: int) -> tuple[Tensor, Tensor, Tensor]:
        pos = torch.arange(n_out, dtype=x.dtype) * torch.tensor(n_in / n_out, dtype=torch.float32)  # (n_out,)
        lo = pos.long()
        hi = (lo + 1).clamp_max(n_in - 1)
        return lo, hi, pos - lo.to(x.dtype)

    y_lo, y_hi, dy = grid(x.shape[2], height)
    x_lo, x_hi, dx = grid(x.shape[3], width)
    top, bottom = x[:, :, y_lo, :], x[:, :, y_hi, :]  # (B, C, height, W)
    dx = dx.view(1, 1, 1, width)
    top = top[..., x_lo] + (top[..., x_hi] - top[..., x_lo]) * dx  # (B, C, height, width)
    bottom = bottom[..., x_lo] + (bottom[..., x_hi] - bottom[..., x_lo]) * dx
    return top + (bottom - top) * dy.view(1, 1, height, 1)


def _pil_float_bicubic(x: Tensor, size: int) -> Tensor:
    """clean-fid's resizer: each channel as a float32 PIL image, BICUBIC, clipped.

    Shapes: (B, C, H, W) -> (B, C, size, size).
    """
    out = np.empty((x.shape[0], x.shape[1], size, size), dtype=np.float32)
    for i, im in enumerate(x.numpy()):
        for c, channel in enumerate(im):
            resized = Image.fromarray(channel.astype(np.float32), mode="F").resize((size, size), Image.BICUBIC)
            out[i, c] = np.asarray(resized).clip(0, 255)
    return torch.from_numpy(out)


def inception_input(batch: Tensor, rule: ResizeRule) -> Tensor:
    """uint8 images to the Inception network's input, as the reference tool ``rule`` makes it.

    Shapes: uint8 (B, C, H, W), C in {1, 3} -> float32 (B, 3, 299, 299), about [-1, 1].
    """
    if batch.dtype != torch.uint8 or batch.ndim != 4 or batch.shape[1] not in (1, 3):
        raise DataError(
            f"inception_input needs uint8 (B, 1 or 3, H, W) images, got {batch.dtype} {tuple(batch.shape)}"
        )
    x = batch.expand(-1, 3, -1, -1).float()  # grey -> RGB, as PIL convert('RGB'); (B, 3, H, W) in 0..255
    s = INCEPTION_SIZE
    if rule == "pytorch-fid":
        x = F.interpolate(x / 255.0, size=(s, s), mode="bilinear", align_corners=False)
        return 2 * x - 1
    if rule == "torch-fidelity":
        return (tf1_bilinear(x, s, s) - 128) / 128
    if rule == "clean":
        return (_pil_float_bicubic(x, s) - 128) / 128
    raise ConfigError(f"unknown resize rule {rule!r}; use one of {', '.join(RESIZE_RULES)}")
