"""``ldm``: latent diffusion (Rombach et al. 2022) in the latent space of a trained VAE.

The autoencoder is a trained ``vae``/``conv-vae`` run (``--set autoencoder=RUN_DIR``),
frozen: no gradients, always in eval mode. Each training batch is encoded on the fly to
its posterior mean E[z | x] and multiplied by a scale factor, 1 / std of the latents of
the first training batch, so the diffusion sees latents of unit variance (Rombach et al.
2022, section 4.3.2 and appendix G); the factor is measured once and saved with the model.
An MLP (``ldm_net.LatentDenoiser``) predicts the noise, class-conditional with label
dropout p = 0.1 so that one network also predicts unconditionally, for classifier-free
guidance: eps = eps_u + w (eps_c - eps_u). Schedules and samplers are genlab's own
(``genlab.math``, ``genlab.samplers``) on (B, D) latents, without clipping the predicted
x_0 (a latent has no [-1, 1] range). Samples come from an EMA of the denoiser, decoded by
the autoencoder's decoder mean.

Checkpoints hold the autoencoder's weights next to the denoiser's, so a trained ldm
samples with exactly the autoencoder it was trained on even after the VAE run moves on
(more training, pruned checkpoints); the VAE run's config is still read to rebuild its
architecture, so its directory must exist. ``autoencoder=untrained`` builds a tiny
randomly initialised conv-VAE in place: for tests only, its samples mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.math.diffusion import q_sample
from genlab.math.schedules import alpha_bar, named_betas
from genlab.models.base import Family
from genlab.models.ddpm import EMA, check_diffusion_fields
from genlab.models.ldm_net import LatentDenoiser
from genlab.models.registry import load_run, register
from genlab.models.shapes import SIZES, ShapeSupport
from genlab.models.vae import VAEFamily
from genlab.models.vae_conv import ConvVAE, ConvVAEConfig
from genlab.nn.noise import rand, randint, randn
from genlab.samplers import DDIMSampler, DDPMSampler, run_sampler
from genlab.samplers.base import schedule_on

UNTRAINED = "untrained"  # autoencoder= value for a tiny random conv-VAE (tests only)


@dataclass(frozen=True)
class LDMConfig:
    autoencoder: str = ""  # a trained VAE run directory (e.g. runs/vae-conv-bin), or "untrained" (tests)
    autoencoder_checkpoint: str = "latest"  # which checkpoint of that run: latest, best or a step
    width: int = 512  # hidden units of the denoiser MLP
    depth: int = 4  # residual MLP blocks
    schedule: Literal["linear", "cosine"] = "linear"
    diffusion_steps: int = 1000
    class_conditional: bool = True
    label_dropout: float = 0.1
    ema_decay: float = 0.999
    lr: float = 1e-3
    sampler: Literal["ddim", "ddpm"] = "ddim"
    sample_steps: int = 50
    eta: float = 0.0
    guidance: float = 1.0

    def check(self) -> None:
        if self.width < 1 or self.depth < 0:
            raise ConfigError(f"width must be >= 1 and depth >= 0, got {self.width} and {self.depth}")
        if not 0.0 <= self.label_dropout < 1.0 or not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError("label_dropout and ema_decay must be in [0, 1)")
        check_diffusion_fields(self)


def latent_sampler(cfg: Any, betas: torch.Tensor) -> DDPMSampler | DDIMSampler:
    """``cfg``'s sampler (ddpm over every step, or ddim with its eta and sample_steps) without x_0 clipping:
    latents are not in [-1, 1]. Shared by ldm and text-ldm."""
    if cfg.sampler == "ddpm":
        sampler: DDPMSampler | DDIMSampler = DDPMSampler(betas, clip_x0=False)
        sampler.set_timesteps(cfg.diffusion_steps)
        return sampler
    sampler = DDIMSampler(betas, eta=cfg.eta, clip_x0=False)
    sampler.set_timesteps(cfg.sample_steps)
    return sampler


def latent_scale_factor(latents: torch.Tensor) -> torch.Tensor:
    """1 / std of all latent entries (Rombach et al. 2022, appendix G). Shapes: (B, D) -> ()."""
    std = latents.detach().double().flatten().std()
    if not torch.isfinite(std) or std <= 0:
        raise ConfigError(
            "the autoencoder maps the first batch to constant latents: cannot scale them to unit variance"
        )
    return (1.0 / std).float()


def load_autoencoder(path: str, which: str, info: DataInfo) -> VAEFamily:
    """The frozen VAE of run ``path`` (checkpoint ``which``), or a tiny random conv-VAE for ``untrained``."""
    if path == UNTRAINED:
        vae: Any = ConvVAE(ConvVAEConfig(width=4, hidden=8, latent_dim=4), info)
    else:
        # A family built on another trained family has to read that run. Models sit below the
        # runs layer, so they reach it through the loader genlab.runs installs (registry.load_run).
        vae, run = load_run(path, which)
        if not isinstance(vae, VAEFamily):
            raise ConfigError(
                f"autoencoder {path} is a {run} run, not a VAE: train one with `genlab train conv-vae` and pass its "
                "run directory"
            )
        if vae.conditional:
            raise ConfigError(
                f"autoencoder {path} is a conditional {run}; ldm needs an unconditional VAE (vae or conv-vae)"
            )
        if vae.image_shape != (info.channels, info.height, info.width):
            raise ConfigError(
                f"autoencoder {path} was trained on {vae.image_shape} images but the data are "
                f"{(info.channels, info.height, info.width)}"
            )
    for net in vae.nets.values():
        net.requires_grad_(False).eval()
    return vae


@register(
    "ldm",
    config=LDMConfig,
    description="Latent diffusion: MLP denoiser in a trained VAE's latent space, guidance; --set autoencoder=RUN_DIR "
    "(required)",
    tiny={"autoencoder": UNTRAINED, "width": 16, "depth": 1, "diffusion_steps": 20, "sample_steps": 4},
    shapes=ShapeSupport(SIZES),
)
class LatentDiffusion(Family):
    kind = "diffusion"
    data_scale = "0,1"  # what the VAE encoders take

    def __init__(self, cfg: LDMConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        cfg.check()
        if not cfg.autoencoder:
            raise ConfigError("ldm needs a trained VAE run: --set autoencoder=RUN_DIR (e.g. runs/vae-conv-bin)")
        self.autoencoder = load_autoencoder(cfg.autoencoder, cfg.autoencoder_checkpoint, info)
        self.latent_dim = int(self.autoencoder.cfg.latent_dim)
        self.conditional = cfg.class_conditional
        self.num_classes = info.num_classes if cfg.class_conditional else 0
        denoiser = LatentDenoiser(self.latent_dim, cfg.width, cfg.depth, self.num_classes)
        self.nets = {"denoiser": denoiser, "ema": EMA(denoiser, cfg.ema_decay)}
        self.opts = {"adam": torch.optim.Adam(denoiser.parameters(), lr=cfg.lr)}
        self.betas = named_betas(cfg.schedule, cfg.diffusion_steps)  # float64 numpy
        self.alpha_bar = torch.from_numpy(alpha_bar(self.betas))
        self.latent_scale = torch.ones(())  # replaced by latent_scale_factor on the first batch
        self.latent_scale_measured = False

    def to(self, device: str | torch.device) -> LatentDiffusion:
        """The denoiser and its EMA, the frozen autoencoder and the latent scale, onto ``device``."""
        super().to(device)
        self.autoencoder.to(device)
        self.latent_scale = self.latent_scale.to(device)
        return self

    @torch.no_grad()
    def encode_latents(self, images: torch.Tensor) -> torch.Tensor:
        """Scaled posterior means. Shapes: (B, C, H, W) in [0, 1] -> (B, D)."""
        return self.autoencoder.encode(images)[0] * self.latent_scale

    @torch.no_grad()
    def decode_latents(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder mean of scaled latents. Shapes: (B, D) -> (B, C, H, W) in [-1, 1]."""
        return self.autoencoder.decode_mean(z / self.latent_scale).clamp(-1, 1)

    def train_step(self, images, labels, generator):
        denoiser = self.nets["denoiser"]
        # 1. Latents of the batch; the first batch ever also fixes the scale factor.
        if not self.latent_scale_measured:
            with torch.no_grad():
                self.latent_scale = latent_scale_factor(self.autoencoder.encode(images)[0])
            self.latent_scale_measured = True
        z0 = self.encode_latents(images)  # (B, D)
        b = z0.shape[0]
        # 2. A random step and noise per latent; z_t from q(z_t | z_0) in closed form.
        i = randint(0, self.cfg.diffusion_steps, (b,), generator, z0.device)
        noise = randn(z0.shape, generator, z0.device)
        zt = q_sample(z0, i, noise, schedule_on(self.alpha_bar, z0))
        # 3. Labels, each replaced by the null label with p = label_dropout.
        y = None
        if self.conditional:
            drop = rand((b,), generator, z0.device) < self.cfg.label_dropout
            y = torch.where(drop, torch.full_like(labels, self.num_classes), labels)
        # 4. The simplified loss on the noise (Ho et al. 2020, eq. 14).
        loss = F.mse_loss(denoiser(zt, i, y), noise)
        self.opts["adam"].zero_grad(set_to_none=True)
        loss.backward()
        self.opts["adam"].step()
        self.nets["ema"].update(denoiser)
        self.step += 1
        return {"loss": loss.item()}

    def eps_fn(self, labels: torch.Tensor | None, guidance: float, net: torch.nn.Module | None = None):
        """(z_t, i) -> guided noise prediction of the EMA denoiser; guidance wraps the model call."""
        net = net or self.nets["ema"].net
        device = next(net.parameters()).device
        null = torch.full((1,), self.num_classes, dtype=torch.long, device=device) if self.conditional else None

        def predict(z: torch.Tensor, i: int, y: torch.Tensor | None) -> torch.Tensor:
            return net(z, torch.full((z.shape[0],), i, dtype=torch.long, device=z.device), y)

        def eps(z: torch.Tensor, i: int) -> torch.Tensor:
            if null is None or labels is None or guidance == 0:
                return predict(z, i, None if null is None else null.expand(z.shape[0]))
            if guidance == 1:
                return predict(z, i, labels)
            # One batched call for both predictions: (2B, D).
            cond, uncond = predict(torch.cat([z, z]), i, torch.cat([labels, null.expand(z.shape[0])])).chunk(2)
            return uncond + guidance * (cond - uncond)

        return eps

    def make_sampler(self):
        return latent_sampler(self.cfg, self.betas)

    @torch.inference_mode()
    def sample_latents(
        self, n: int, *, labels: torch.Tensor | None = None, generator: torch.Generator, trajectory: list | None = None
    ) -> torch.Tensor:
        """Scaled latents z_0 from the reverse process. Shapes: -> (n, D)."""
        device = self.device
        if self.conditional:
            labels = torch.arange(n, device=device) % self.num_classes if labels is None else labels.to(device)
        else:
            labels = None
        z = randn((n, self.latent_dim), generator, device)  # z_T
        self.nets["ema"].eval()
        try:
            return run_sampler(self.make_sampler(), self.eps_fn(labels, self.cfg.guidance), z, generator, trajectory)
        finally:
            self.nets["ema"].train()

    def sample(self, n, *, labels=None, generator, trajectory=None):
        return self.decode_latents(self.sample_latents(n, labels=labels, generator=generator, trajectory=trajectory))

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["autoencoder"] = {k: net.state_dict() for k, net in self.autoencoder.nets.items()}
        state["latent_scale"] = self.latent_scale.clone()
        state["latent_scale_measured"] = self.latent_scale_measured
        return state

    def load_state_dict(self, state: dict[str, Any], *, weights_only: bool = False) -> None:
        super().load_state_dict(state, weights_only=weights_only)
        for k, net in self.autoencoder.nets.items():
            net.load_state_dict(state["autoencoder"][k])
        self.latent_scale = state["latent_scale"].clone().float().reshape(()).to(self.device)
        self.latent_scale_measured = bool(state["latent_scale_measured"])
