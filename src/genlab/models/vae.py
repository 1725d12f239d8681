"""``vae``: the MLP VAE of Kingma & Welling 2014 (784 -> 400 -> z=20 and back).

Loss per image, in nats: reconstruction NLL (Bernoulli = BCE, or Gaussian = MSE with a
fixed sigma) + beta * KL(q(z|x) || N(0, I)) in closed form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.math.kl import kl_normal_std
from genlab.math.likelihoods import bernoulli_nll, gaussian_nll
from genlab.models.base import Family
from genlab.models.registry import register


@dataclass(frozen=True)
class VAEConfig:
    hidden: int = 400
    latent_dim: int = 20
    likelihood: Literal["bernoulli", "gaussian"] = "bernoulli"
    gaussian_sigma: float = 0.1  # fixed decoder std for the Gaussian likelihood, in [0, 1] pixel units
    beta: float = 1.0
    lr: float = 1e-3

    def check(self) -> None:
        if self.hidden < 1 or self.latent_dim < 1:
            raise ConfigError(f"hidden and latent_dim must be >= 1, got {self.hidden} and {self.latent_dim}")
        if self.gaussian_sigma <= 0 or self.beta < 0 or self.lr <= 0:
            raise ConfigError("gaussian_sigma and lr must be > 0 and beta >= 0")


class MLPEncoder(nn.Module):
    def __init__(self, d_in: int, hidden: int, latent_dim: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, latent_dim)
        self.logvar = nn.Linear(hidden, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # (B, C, H, W) -> (B, Z), (B, Z)
        h = self.body(x.flatten(1))
        return self.mu(h), self.logvar(h)


class MLPDecoder(nn.Module):
    def __init__(self, latent_dim: int, hidden: int, out_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.out_shape = out_shape
        d_out = out_shape[0] * out_shape[1] * out_shape[2]
        self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, d_out))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # (B, Z) -> (B, C, H, W) logits (Bernoulli) or means (Gaussian)
        return self.net(z).view(z.shape[0], *self.out_shape)


@register(
    "vae",
    config=VAEConfig,
    description="MLP VAE (Kingma & Welling 2014); --set likelihood=bernoulli|gaussian, beta",
    presets={"small": {"hidden": 256}},
    tiny={"hidden": 8, "latent_dim": 2},
)
class VAE(Family):
    data_scale = "0,1"

    def __init__(self, cfg: VAEConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        cfg.check()
        d_in = info.channels * info.height * info.width
        self.nets = {
            "encoder": MLPEncoder(d_in, cfg.hidden, cfg.latent_dim),
            "decoder": MLPDecoder(cfg.latent_dim, cfg.hidden, self.image_shape),
        }
        params = [p for net in self.nets.values() for p in net.parameters()]
        self.opts = {"adam": torch.optim.Adam(params, lr=cfg.lr)}

    def losses(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Per-image recon NLL, KL and loss = recon + beta * KL, each of shape (B,)."""
        mu, logvar = self.nets["encoder"](x)
        # Reparameterisation: z = mu + sigma * eps keeps the sample differentiable in mu, sigma.
        z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=generator)
        out = self.nets["decoder"](z)
        if self.cfg.likelihood == "bernoulli":
            recon = bernoulli_nll(out, x)
        else:
            recon = gaussian_nll(out, x, self.cfg.gaussian_sigma)
        kl = kl_normal_std(mu, logvar)
        return {"loss": recon + self.cfg.beta * kl, "recon": recon, "kl": kl}

    def train_step(self, images, labels, generator):
        parts = self.losses(images, generator)
        opt = self.opts["adam"]
        opt.zero_grad(set_to_none=True)
        parts["loss"].mean().backward()
        opt.step()
        return {k: v.mean().item() for k, v in parts.items()}

    @torch.no_grad()
    def evaluate(self, images, labels):
        self.train(False)
        try:
            parts = self.losses(images, torch.Generator().manual_seed(0))
        finally:
            self.train(True)
        return {k: v.sum().item() for k, v in parts.items()}

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder mean image in [-1, 1]. Shapes: (B, Z) -> (B, C, H, W)."""
        out = self.nets["decoder"](z)
        mean = torch.sigmoid(out) if self.cfg.likelihood == "bernoulli" else out.clamp(0, 1)
        return mean * 2 - 1

    @torch.no_grad()
    def sample(self, n, *, labels=None, generator):
        return self.decode_mean(torch.randn(n, self.cfg.latent_dim, generator=generator))
