"""``attr-gan``: an attribute-conditioned GAN with a projection discriminator, for comparison.

No text encoder: a caption is parsed into the attributes it names (motif, colour,
background, size; :func:`genlab.data.captions.parse_prompt`), an unnamed attribute taking
its own "unspecified" value. G gets z and one learned embedding per attribute; D scores
phi(x) with a linear head plus one projection term per attribute,
D(x, y) = w . phi(x) + sum_a <E_a(y_a), phi(x)> (Miyato & Koyama 2018, eq. 3), spectrally
normalised (Miyato et al. 2018), hinge loss (Lim & Ye 2017). Each attribute of a training
batch is replaced by "unspecified" with p = ``attribute_dropout``, as templates leave
attributes out of captions. Samples come from an EMA of G.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from genlab.data import DataInfo
from genlab.data.captions import ATTRIBUTE_SIZES, NUM_CODES, code_to_attributes, parse_prompt
from genlab.errors import ConfigError
from genlab.models.base import Family
from genlab.models.gan_parts import apply_spectral_norm, ema_update_
from genlab.models.registry import register
from genlab.models.shapes import CAPTION_SHAPES
from genlab.nn.noise import rand, randn


@dataclass(frozen=True)
class AttrGANConfig:
    z_dim: int = 64
    base_channels: int = 32
    attribute_dim: int = 16  # per-attribute embedding width of G
    attribute_dropout: float = 0.1
    lr: float = 2e-4
    d_lr: float = 2e-4
    g_ema: float = 0.999

    def check(self) -> None:
        if min(self.z_dim, self.base_channels, self.attribute_dim) < 1:
            raise ConfigError("z_dim, base_channels and attribute_dim must be >= 1")
        if not 0.0 <= self.attribute_dropout < 1.0 or not 0.0 <= self.g_ema < 1.0:
            raise ConfigError("attribute_dropout and g_ema must be in [0, 1)")
        if self.lr <= 0 or self.d_lr <= 0:
            raise ConfigError("lr and d_lr must be > 0")


def _levels(size: int) -> int:
    """Doublings from 4x4 to ``size`` x ``size``."""
    levels = round(math.log2(size / 4))
    if size < 8 or 4 * 2**levels != size:
        raise ConfigError(f"attr-gan needs square images of a power-of-two side >= 8, got {size}")
    return levels


class AttributeGenerator(nn.Module):
    """(z, attributes) -> image. Shapes: z (B, z_dim), attributes int64 (B, 4) (value or "unspecified") -> (B, C, S,
    S)."""

    def __init__(self, z_dim: int, b: int, channels: int, size: int, attribute_dim: int) -> None:
        super().__init__()
        self.embeds = nn.ModuleList(
            nn.Embedding(k + 1, attribute_dim) for k in ATTRIBUTE_SIZES
        )  # index k: unspecified
        levels = _levels(size)
        self.top = 2**levels * b  # widths halve from 4x4 up
        self.fc = nn.Linear(z_dim + len(ATTRIBUTE_SIZES) * attribute_dim, self.top * 16)
        layers: list[nn.Module] = [nn.BatchNorm2d(self.top), nn.ReLU()]
        c = self.top
        for _ in range(levels):  # (B, c, s, s) -> (B, c/2, 2s, 2s)
            layers += [
                nn.Upsample(scale_factor=2),
                nn.Conv2d(c, c // 2, 3, padding=1, bias=False),
                nn.BatchNorm2d(c // 2),
                nn.ReLU(),
            ]
            c //= 2
        layers += [nn.Conv2d(c, channels, 3, padding=1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        codes = torch.cat([z] + [e(attributes[:, j]) for j, e in enumerate(self.embeds)], dim=1)
        return self.net(self.fc(codes).view(-1, self.top, 4, 4))  # (B, top, 4, 4) -> (B, C, S, S)


class ProjectionDiscriminator(nn.Module):
    """D(x, y) = w . phi(x) + sum_a <E_a(y_a), phi(x)>. Shapes: x (B, C, S, S), attributes (B, 4) -> (B,)."""

    def __init__(self, b: int, channels: int, size: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in, c = channels, b
        for _ in range(_levels(size)):  # (B, c_in, s, s) -> (B, c, s/2, s/2)
            layers += [nn.Conv2d(c_in, c, 4, 2, 1), nn.LeakyReLU(0.2)]
            c_in, c = c, 2 * c
        feat_dim = c_in * 16
        self.features = nn.Sequential(*layers, nn.Flatten())  # -> (B, feat_dim)
        self.head = nn.Linear(feat_dim, 1)
        self.embeds = nn.ModuleList(nn.Embedding(k + 1, feat_dim) for k in ATTRIBUTE_SIZES)

    def forward(self, x: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
        phi = self.features(x)  # (B, F)
        projection = sum((e(attributes[:, j]) * phi).sum(1) for j, e in enumerate(self.embeds))
        return self.head(phi).squeeze(1) + projection


def attributes_of(captions: list[str], device: torch.device | str = "cpu") -> torch.Tensor:
    """Parsed attributes, "unspecified" (index = that attribute's size) where a caption names none. Shapes: B -> (B,
    4)."""
    rows = [[k if v is None else v for v, k in zip(parse_prompt(c), ATTRIBUTE_SIZES)] for c in captions]
    return torch.tensor(rows, dtype=torch.long, device=device).reshape(len(captions), len(ATTRIBUTE_SIZES))


@register(
    "attr-gan",
    config=AttrGANConfig,
    description="Attribute-conditioned GAN on captions32 (projection discriminator, hinge loss); prompts are parsed "
    "into attributes",
    presets={"small": {"base_channels": 16, "z_dim": 32}},
    tiny={"z_dim": 4, "base_channels": 2, "attribute_dim": 3},
    dataset="captions32",
    example_shape=(3, 16, 16),
    shapes=CAPTION_SHAPES,
)
class AttrGAN(Family):
    kind = "gan"
    conditional = True
    monitor_losses = False  # hinge losses: the BCE collapse warnings do not apply

    def __init__(self, cfg: AttrGANConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        cfg.check()
        if info.height != info.width:
            raise ConfigError(f"attr-gan needs square images, got {info.height}x{info.width}")
        g = AttributeGenerator(cfg.z_dim, cfg.base_channels, info.channels, info.height, cfg.attribute_dim)
        d = apply_spectral_norm(ProjectionDiscriminator(cfg.base_channels, info.channels, info.height))
        self.nets = {"generator": g, "discriminator": d, "generator_ema": copy.deepcopy(g).requires_grad_(False)}
        self.opts = {
            "generator": torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=(0.0, 0.9)),
            "discriminator": torch.optim.Adam(d.parameters(), lr=cfg.d_lr, betas=(0.0, 0.9)),
        }

    def train_step(self, images, labels, generator):
        g, d = self.nets["generator"], self.nets["discriminator"]
        b = images.shape[0]
        # 1. Attributes of the real batch, each dropped to "unspecified" with p = attribute_dropout.
        device = images.device
        attributes = torch.from_numpy(code_to_attributes(labels.cpu())).to(device)  # (B, 4)
        drop = rand(attributes.shape, generator, device) < self.cfg.attribute_dropout
        attributes = torch.where(drop, torch.tensor(ATTRIBUTE_SIZES, device=device), attributes)
        # 2. D step, hinge loss: E[relu(1 - D(x, y))] + E[relu(1 + D(G(z, y), y))].
        z = randn((b, self.cfg.z_dim), generator, device)
        fake = g(z, attributes)
        loss_d = F.relu(1 - d(images, attributes)).mean() + F.relu(1 + d(fake.detach(), attributes)).mean()
        self.opts["discriminator"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.opts["discriminator"].step()
        # 3. G step: -E[D(G(z, y), y)].
        loss_g = -d(fake, attributes).mean()
        self.opts["generator"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.opts["generator"].step()
        ema_update_(self.nets["generator_ema"], g, self.cfg.g_ema)
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}

    @torch.inference_mode()
    def _generate(self, attributes: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        g = self.nets["generator_ema"]
        z = randn((attributes.shape[0], self.cfg.z_dim), generator, attributes.device)
        g.eval()
        try:
            return g(z, attributes).clamp(-1, 1)
        finally:
            g.train()

    def sample_captions(
        self, captions: list[str], *, generator: torch.Generator, guidance: float | None = None
    ) -> torch.Tensor:
        """One image per caption (``guidance`` does not apply to a GAN). Shapes: B captions -> (B, C, H, W)."""
        return self._generate(attributes_of(captions, self.device), generator)

    def sample(self, n, *, labels=None, generator):
        """Labels are caption codes; every attribute is specified."""
        codes = torch.arange(n, device="cpu") % NUM_CODES if labels is None else labels.cpu()
        return self._generate(torch.from_numpy(code_to_attributes(codes)).to(self.device), generator)
