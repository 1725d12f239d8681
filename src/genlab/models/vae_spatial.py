"""``spatial-vae``: a fully convolutional VAE whose latent is a small feature map, the first stage of ``text-ldm``.

Stable Diffusion's autoencoder (Rombach et al. 2022, sec. 3) keeps the latent spatial: a
32x32 RGB image becomes a (C_z, 8, 8) map (downsampling factor f = 4), so the denoiser can
be a U-Net whose convolutions and cross-attention see *where* things are. ``conv-vae``
flattens through a fully connected layer, which makes a vector without positions. Here
both ways are convolutional only:

    encoder: 3x3 conv -> [ResBlock -> 4x4 stride-2 conv] x levels -> ResBlock -> 1x1 conv -> mu, log sigma^2
    decoder: 1x1 conv -> ResBlock -> [nearest 2x upsample -> 3x3 conv -> ResBlock] x levels -> 3x3 conv

The objective, KL options and likelihoods are :class:`genlab.models.vae.VAEFamily`'s, on the
flattened map: ``latent_dim`` counts every latent number, C_z x (H / f) x (W / f), and must be a
multiple of the map's positions; the latent's channels follow from it (256 at 32x32, f = 4:
4 channels, as in SD's kl-f4/f8 models). ``latent_shape`` gives the map (C_z, H/f, W/f).
A Gaussian likelihood with sigma 0.1 keeps the KL weight small next to the reconstruction
term, which is what a first stage wants (SD's KL weight is 1e-6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.models.registry import register
from genlab.models.shapes import ShapeSupport
from genlab.models.vae import VAEFamily, VAEOptions
from genlab.nn.unet import _groups


@dataclass(frozen=True)
class SpatialVAEConfig(VAEOptions):
    latent_dim: int = 256  # every latent number: channels x (H / 2^levels) x (W / 2^levels)
    likelihood: Literal["bernoulli", "gaussian"] = "gaussian"
    width: int = 32  # channels at full resolution; doubled at each level
    levels: int = 2  # stride-2 halvings: f = 2^levels (32x32 -> 8x8 at 2)

    def check(self) -> None:
        super().check()
        if self.width < 1 or self.levels < 0:
            raise ConfigError(f"width must be >= 1 and levels >= 0, got {self.width} and {self.levels}")


def latent_map(cfg: SpatialVAEConfig, info: DataInfo) -> tuple[int, int, int]:
    """(C_z, H / f, W / f) of the latent; a ConfigError when the sizes or ``latent_dim`` do not divide."""
    f = 2**cfg.levels
    if info.height % f or info.width % f:
        raise ConfigError(
            f"spatial-vae with levels={cfg.levels} halves the image {cfg.levels} times: {info.height}x{info.width} "
            f"is not divisible by {f}; use fewer levels"
        )
    h, w = info.height // f, info.width // f
    if cfg.latent_dim % (h * w):
        raise ConfigError(
            f"latent_dim={cfg.latent_dim} must be a multiple of the latent map's {h}x{w} = {h * w} positions "
            f"(e.g. latent_dim={4 * h * w} for 4 channels)"
        )
    return cfg.latent_dim // (h * w), h, w


class ConvResBlock(nn.Module):
    """x + conv(silu(GN(conv(silu(GN(x)))))). Shapes: (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.GroupNorm(_groups(channels), channels), nn.GroupNorm(_groups(channels), channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.norm2(self.conv1(F.silu(self.norm1(x))))))


def level_widths(width: int, levels: int) -> list[int]:
    """Channels at each resolution, full resolution first: width, 2 width, ... (capped at 4 width)."""
    return [width * min(2**i, 4) for i in range(levels + 1)]


class SpatialEncoder(nn.Module):
    """q(z | x) as a map, flattened. Shapes: (B, C, H, W) -> mu, logvar (B, C_z * h * w)."""

    def __init__(self, info: DataInfo, width: int, levels: int, latent_channels: int) -> None:
        super().__init__()
        widths = level_widths(width, levels)
        layers: list[nn.Module] = [nn.Conv2d(info.channels, widths[0], 3, padding=1)]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [ConvResBlock(c_in), nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)]  # -> (B, c', h/2, w/2)
        layers += [ConvResBlock(widths[-1]), nn.GroupNorm(_groups(widths[-1]), widths[-1]), nn.SiLU()]
        self.features = nn.Sequential(*layers)
        self.moments = nn.Conv2d(widths[-1], 2 * latent_channels, 1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if cond is not None:
            raise ValueError("spatial-vae is unconditional")
        mu, logvar = self.moments(self.features(x)).chunk(2, dim=1)  # (B, C_z, h, w) each
        return mu.flatten(1), logvar.flatten(1)  # (B, C_z, h, w) -> (B, C_z * h * w)


class SpatialDecoder(nn.Module):
    """p(x | z): flattened map -> means (Gaussian) or logits (Bernoulli). Shapes: (B, C_z * h * w) -> (B, C, H, W)."""

    def __init__(self, info: DataInfo, width: int, levels: int, latent: tuple[int, int, int]) -> None:
        super().__init__()
        self.latent = latent
        widths = level_widths(width, levels)[::-1]  # lowest resolution first
        layers: list[nn.Module] = [nn.Conv2d(latent[0], widths[0], 1), ConvResBlock(widths[0])]
        for c_in, c_out in zip(widths, widths[1:]):
            # (B, c, h, w) -> (B, c', 2h, 2w)
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1)]
            layers.append(ConvResBlock(c_out))
        layers += [nn.GroupNorm(_groups(widths[-1]), widths[-1]), nn.SiLU()]
        layers.append(nn.Conv2d(widths[-1], info.channels, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if cond is not None:
            raise ValueError("spatial-vae is unconditional")
        return self.net(z.view(z.shape[0], *self.latent))  # (B, C_z * h * w) -> (B, C_z, h, w) -> (B, C, H, W)


@register(
    "spatial-vae",
    config=SpatialVAEConfig,
    description="Fully convolutional VAE with a (C_z, H/f, W/f) latent map, Gaussian likelihood: the first stage of "
    "text-ldm; --set latent_dim=, levels=, width=",
    presets={"small": {"width": 16}},
    tiny={"width": 4},
    dataset="captions32",  # its job: text-ldm's first stage
    example_shape=(3, 32, 32),
    shapes=ShapeSupport(
        (32, 64),
        why_not_common="256 latent numbers are 4 x 8 x 8 at 32 and 1 x 16 x 16 at 64; at 28 the 7 x 7 map does not "
        "divide them: for 28x28 data pass --image-size 32, or --set latent_dim=196 (4 x 7 x 7)",
    ),
)
class SpatialVAE(VAEFamily):
    def __init__(self, cfg: SpatialVAEConfig, info: DataInfo) -> None:
        cfg.check()
        self.latent_shape = latent_map(cfg, info)  # (C_z, h, w)
        super().__init__(cfg, info)

    def make_networks(self, cfg: SpatialVAEConfig, info: DataInfo, cond_dim: int) -> tuple[nn.Module, nn.Module]:
        encoder = SpatialEncoder(info, cfg.width, cfg.levels, self.latent_shape[0])
        decoder = SpatialDecoder(info, cfg.width, cfg.levels, self.latent_shape)
        return encoder, decoder
