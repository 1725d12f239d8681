"""``conv-vae``: a convolutional VAE whose depth follows the image size.

Encoder: stride-2 4x4 convolutions halve the image while both sides are even and larger
than 7 (28 -> 14 -> 7 for MNIST; 32 -> 16 -> 8 -> 4; 64 -> 32 -> 16 -> 8 -> 4 for 64x64 RGB; 128 -> ... -> 4), channels
width, 2 width, 4 width, ... (at most 8 width), then a fully connected layer of ``hidden``
units -> mu, log sigma^2. The decoder mirrors it with transposed convolutions, the last
one a sub-pixel convolution (see :class:`ConvDecoder`). The
objective, KL options and likelihoods are the shared ones of ``genlab.models.vae``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.models.registry import register
from genlab.models.shapes import SIZES_128, ShapeSupport
from genlab.models.vae import VAEFamily, VAEOptions
from genlab.nn.sizes import halvings


@dataclass(frozen=True)
class ConvVAEConfig(VAEOptions):
    width: int = 32  # channels after the first convolution; doubled at each level, capped at 8x
    hidden: int = 256  # fully connected units between the feature map and the latent

    def check(self) -> None:
        super().check()
        if self.width < 1 or self.hidden < 1:
            raise ConfigError(f"width and hidden must be >= 1, got {self.width} and {self.hidden}")


def conv_levels(height: int, width: int) -> int:
    """Number of stride-2 levels: halve while both sides are even and the smaller exceeds 7
    (the schedule every family shares, :func:`genlab.nn.sizes.halvings`; 128 -> 5 levels)."""
    return halvings(height, width)


def level_channels(width: int, levels: int) -> list[int]:
    """Channels after each level: width * 2^i, capped at 8 * width."""
    return [width * min(2**i, 8) for i in range(levels)]


class ConvEncoder(nn.Module):
    """q(z | x[, c]). Shapes: (B, C, H, W) [+ (B, K)] -> mu, logvar (B, Z)."""

    def __init__(self, info: DataInfo, width: int, hidden: int, latent_dim: int, cond_dim: int = 0) -> None:
        super().__init__()
        levels = conv_levels(info.height, info.width)
        chans = level_channels(width, levels)
        layers: list[nn.Module] = []
        c_in = info.channels
        for c_out in chans:
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.ReLU()]  # (B, c, h, w) -> (B, c', h/2, w/2)
            c_in = c_out
        self.features = nn.Sequential(*layers)
        feat = c_in * (info.height >> levels) * (info.width >> levels)
        self.fc = nn.Sequential(nn.Linear(feat + cond_dim, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, latent_dim)
        self.logvar = nn.Linear(hidden, latent_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x.contiguous(memory_format=torch.channels_last)).flatten(
            1
        )  # (B, C, H, W) -> (B, c_L * h_L * w_L)
        if cond is not None:
            h = torch.cat([h, cond], 1)
        h = self.fc(h)
        return self.mu(h), self.logvar(h)


class ConvDecoder(nn.Module):
    """p(x | z[, c]): logits or means. Shapes: (B, Z) [+ (B, K)] -> (B, C, H, W).

    Every level but the last is a 4x4 stride-2 transposed convolution; the last is a
    sub-pixel convolution (3x3 conv to 4C channels, then pixel shuffle; Shi et al. 2016,
    the same family of maps as a transposed convolution). On a CPU it is several times
    faster than a transposed convolution with C = 1 output channel, and the decoder runs
    thousands of times per image in the importance-sampled likelihood.
    """

    def __init__(self, info: DataInfo, width: int, hidden: int, latent_dim: int, cond_dim: int = 0) -> None:
        super().__init__()
        levels = conv_levels(info.height, info.width)
        chans = level_channels(width, levels)
        self.top = (chans[-1] if chans else hidden, info.height >> levels, info.width >> levels)
        c, h, w = self.top
        self.fc = nn.Sequential(
            nn.Linear(latent_dim + cond_dim, hidden), nn.ReLU(), nn.Linear(hidden, c * h * w), nn.ReLU()
        )
        layers: list[nn.Module] = []
        for c_out in reversed(chans[:-1]):
            layers += [
                nn.ConvTranspose2d(c, c_out, 4, stride=2, padding=1),
                nn.ReLU(),
            ]  # (B, c, h, w) -> (B, c', 2h, 2w)
            c = c_out
        if chans:
            # (B, c, h, w) -> (B, 4C, h, w) -> (B, C, 2h, 2w)
            layers += [nn.Conv2d(c, 4 * info.channels, 3, padding=1), nn.PixelShuffle(2)]
        else:  # an odd-sized image has no level: a 1x1 convolution reads out the pixels
            layers.append(nn.Conv2d(c, info.channels, 1))
        self.deconvs = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = z if cond is None else torch.cat([z, cond], 1)
        h = self.fc(h).view(z.shape[0], *self.top)  # (B, Z) -> (B, c_L, h_L, w_L)
        # channels-last makes the CPU convolutions about twice as fast (oneDNN)
        return self.deconvs(h.contiguous(memory_format=torch.channels_last)).contiguous()


@register(
    "conv-vae",
    config=ConvVAEConfig,
    description="Convolutional VAE (strided convs / transposed convs, depth from the image size); --set width=, "
    "latent_dim=, likelihood=; presets small (28-64), small-128",
    presets={
        "small": {"width": 16, "hidden": 128},
        # Dynamically binarised MNIST, z = 50 as the MLP preset (docs/results/vae.md).
        "binarized": {"width": 16, "hidden": 256, "latent_dim": 50, "binarize": "dynamic"},
        # Ten latents for the beta sweep on shapes64 (disentanglement, docs/results/vae.md). Without
        # the KL warm-up the posterior collapses within 100 steps on these colour images.
        "disentangle": {"width": 16, "hidden": 128, "latent_dim": 10, "kl_anneal": "linear", "kl_warmup_steps": 500},
        # small also serves 64x64 (shapes64); at 128 one image would cost about 4x more than there.
        "small-128": {"width": 8, "hidden": 128},
    },
    tiny={"width": 4, "hidden": 8, "latent_dim": 2},
    shapes=ShapeSupport(SIZES_128),
)
class ConvVAE(VAEFamily):
    def __init__(self, cfg: ConvVAEConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)

    def make_networks(self, cfg: ConvVAEConfig, info: DataInfo, cond_dim: int) -> tuple[nn.Module, nn.Module]:
        encoder = ConvEncoder(info, cfg.width, cfg.hidden, cfg.latent_dim, cond_dim)
        decoder = ConvDecoder(info, cfg.width, cfg.hidden, cfg.latent_dim, cond_dim)
        return encoder, decoder
