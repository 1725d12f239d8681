"""``gan``: the MLP GAN of Goodfellow et al. 2014, with both generator objectives.

G: z (100) -> 256 -> 512 -> 1024 -> C*H*W, tanh.  D: C*H*W -> 1024 -> 512 -> 256 -> 1 logit,
LeakyReLU 0.2 and dropout. ``hidden`` scales every width (256 is the textbook).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.math.gan import discriminator_loss, generator_loss
from genlab.models.base import Family
from genlab.models.registry import register


@dataclass(frozen=True)
class GANConfig:
    z_dim: int = 100
    hidden: int = 256  # G widths hidden, 2*hidden, 4*hidden; D mirrors them
    dropout: float = 0.3
    loss: Literal["non-saturating", "minimax"] = "non-saturating"
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999

    def check(self) -> None:
        if self.z_dim < 1 or self.hidden < 1:
            raise ConfigError(f"z_dim and hidden must be >= 1, got {self.z_dim} and {self.hidden}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.lr <= 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")


class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, hidden: int, out_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.out_shape = out_shape
        widths = [z_dim, hidden, 2 * hidden, 4 * hidden]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        layers += [nn.Linear(widths[-1], out_shape[0] * out_shape[1] * out_shape[2]), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # (B, z_dim) -> (B, C, H, W)
        return self.net(z).view(z.shape[0], *self.out_shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, hidden: int, in_shape: tuple[int, int, int], dropout: float) -> None:
        super().__init__()
        widths = [in_shape[0] * in_shape[1] * in_shape[2], 4 * hidden, 2 * hidden, hidden]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
        layers.append(nn.Linear(widths[-1], 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, C, H, W) -> (B,) logits
        return self.net(x.flatten(1)).squeeze(1)


class AdversarialFamily(Family):
    """Alternating D/G steps with the BCE game; subclasses supply the two networks."""

    def __init__(self, cfg, info: DataInfo) -> None:
        super().__init__(cfg, info)
        cfg.check()
        self.nets = {"generator": self.make_generator(), "discriminator": self.make_discriminator()}
        betas = (cfg.beta1, cfg.beta2)
        self.opts = {
            "generator": torch.optim.Adam(self.nets["generator"].parameters(), lr=cfg.lr, betas=betas),
            "discriminator": torch.optim.Adam(self.nets["discriminator"].parameters(), lr=cfg.lr, betas=betas),
        }

    def make_generator(self) -> nn.Module:
        return MLPGenerator(self.cfg.z_dim, self.cfg.hidden, self.image_shape)

    def make_discriminator(self) -> nn.Module:
        return MLPDiscriminator(self.cfg.hidden, self.image_shape, self.cfg.dropout)

    def train_step(self, images, labels, generator):
        g, d = self.nets["generator"], self.nets["discriminator"]
        z = torch.randn(images.shape[0], self.cfg.z_dim, generator=generator)
        fake = g(z)
        # 1. Discriminator: ascend log D(x) + log(1 - D(G(z))).
        real_logits, fake_logits = d(images), d(fake.detach())
        loss_d = discriminator_loss(real_logits, fake_logits)
        self.opts["discriminator"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.opts["discriminator"].step()
        # 2. Generator: the chosen objective on the same z, through the updated D.
        loss_g = generator_loss(d(fake), self.cfg.loss)
        self.opts["generator"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.opts["generator"].step()
        return {
            "loss_d": loss_d.item(),
            "loss_g": loss_g.item(),
            "d_real": torch.sigmoid(real_logits).mean().item(),
            "d_fake": torch.sigmoid(fake_logits).mean().item(),
        }

    @torch.no_grad()
    def sample(self, n, *, labels=None, generator):
        g = self.nets["generator"]
        was_training = g.training
        g.eval()
        try:
            return g(torch.randn(n, self.cfg.z_dim, generator=generator)).clamp(-1, 1)
        finally:
            g.train(was_training)


@register(
    "gan",
    config=GANConfig,
    description="MLP GAN (Goodfellow et al. 2014); --set loss=minimax|non-saturating",
    presets={"small": {"hidden": 128}},
    tiny={"z_dim": 4, "hidden": 8},
)
class GAN(AdversarialFamily):
    pass
