"""``text-ldm``: text-to-image latent diffusion on captions32, shaped like Stable Diffusion.

The whole pipeline (Rombach et al. 2022, fig. 3), from genlab's parts:

    caption --text encoder--> context (B, L, D)                     (genlab.nn.text: built-in or frozen MiniLM)
    image --frozen spatial-vae encoder--> z0 = s * E[z|x], (B, 4, 8, 8)  (first stage, a separate run)
    z_t = sqrt(abar) z0 + sqrt(1 - abar) eps --TextUNet(z_t, t, context)--> eps_hat   (cross-attention U-Net)
    sampling: DDIM in latent space, eps = eps("") + w (eps(c) - eps("")) --> z0 --decoder mean--> image

The first stage is a trained ``spatial-vae`` run (``--set autoencoder=RUN_DIR``), loaded and
frozen the way ``ldm`` loads its VAE (:func:`genlab.models.ldm.load_autoencoder`); its
posterior means are scaled by s = 1 / std of the first training batch's latents
(:func:`genlab.models.ldm.latent_scale_factor`), measured once and saved with the model, and
the checkpoint carries the autoencoder's weights. Its latent is a map, not a vector, so the
denoiser is text-ddpm's cross-attention U-Net (:class:`genlab.nn.unet_text.TextUNet`) and text
encoder (:class:`genlab.models.text_ddpm.TextDenoiser`), run on (C_z, H/f, W/f) instead of
pixels. Each training latent gets a caption from a random template, replaced by the empty
caption with p = ``caption_dropout`` (default 0.1) so that one network also predicts
unconditionally, for classifier-free guidance (Ho & Salimans 2022). Samples come from an EMA
of the denoiser (text encoder included); DDIM/DDPM run without clipping x_0 (latents have no
[-1, 1] range). ``autoencoder=untrained`` builds a tiny random spatial-vae: for tests only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F

from genlab.data import DataInfo
from genlab.data.captions import NUM_CODES, canonical_captions, parse_prompt, random_captions
from genlab.errors import ConfigError
from genlab.math.diffusion import q_sample
from genlab.math.schedules import alpha_bar, named_betas
from genlab.models.base import Family
from genlab.models.ddpm import EMA
from genlab.models.ldm import UNTRAINED, latent_sampler, latent_scale_factor, load_autoencoder
from genlab.models.registry import register
from genlab.models.shapes import ShapeSupport
from genlab.models.text_ddpm import TextDenoiser, check_text_diffusion_fields
from genlab.models.vae_spatial import SpatialVAE, SpatialVAEConfig
from genlab.nn.noise import rand, randint, randn
from genlab.nn.text import make_text_encoder
from genlab.nn.unet_text import TextUNet
from genlab.samplers import run_sampler
from genlab.samplers.base import schedule_on


@dataclass(frozen=True)
class TextLDMConfig:
    autoencoder: str = ""  # a trained spatial-vae run directory, or "untrained" (tests)
    autoencoder_checkpoint: str = "latest"  # which checkpoint of that run: latest, best or a step
    base_channels: int = 64  # U-Net width at the latent's full resolution (8x8 for captions32)
    channel_mults: tuple[int, ...] = (1, 2, 2)  # 8 -> 4 -> 2; cross-attention below the first level
    attention: bool = True  # self-attention at the lowest resolution
    cross_attention: bool = True  # False: the caption enters only through its pooled vector
    text_encoder: Literal["builtin", "minilm"] = "builtin"
    text_dim: int = 64  # built-in encoder width
    text_layers: int = 2
    text_heads: int = 4
    caption_dropout: float = 0.1  # p of the empty caption in training (classifier-free guidance)
    schedule: Literal["linear", "cosine"] = "linear"
    diffusion_steps: int = 1000
    ema_decay: float = 0.999
    lr: float = 1e-3
    sampler: Literal["ddim", "ddpm"] = "ddim"
    sample_steps: int = 50
    eta: float = 0.0
    guidance: float = 3.0

    def check(self) -> None:
        check_text_diffusion_fields(self)


def load_first_stage(cfg: TextLDMConfig, info: DataInfo) -> SpatialVAE:
    """The frozen spatial-vae of run ``cfg.autoencoder``, or a tiny random one for ``untrained``."""
    if not cfg.autoencoder:
        raise ConfigError(
            "text-ldm needs a trained spatial-vae run: train one with `genlab train spatial-vae --dataset captions32 "
            "--out runs/text-ldm-ae`, then --set autoencoder=runs/text-ldm-ae"
        )
    if cfg.autoencoder == UNTRAINED:
        vae = SpatialVAE(SpatialVAEConfig(width=4), info)
        for net in vae.nets.values():
            net.requires_grad_(False).eval()
        return vae
    vae = load_autoencoder(cfg.autoencoder, cfg.autoencoder_checkpoint, info)  # checked and frozen as ldm's
    if not isinstance(vae, SpatialVAE):
        raise ConfigError(
            f"autoencoder {cfg.autoencoder} is a {vae.registry_name} run; text-ldm's U-Net needs a latent map: "
            "train a spatial-vae (`genlab train spatial-vae --dataset captions32`) and pass its run directory"
        )
    return vae


TEXT_LDM_TASK = "text-to-image on caption codes at 32x32 (the spatial-vae's), --dataset captions32"


@register(
    "text-ldm",
    config=TextLDMConfig,
    description="Text-to-image latent diffusion on captions32: text encoder -> cross-attention U-Net on a frozen "
    "spatial-vae's latents -> decoder, classifier-free guidance; --set autoencoder=RUN_DIR (required)",
    presets={"small": {"base_channels": 32, "text_dim": 32, "sample_steps": 25}},
    tiny={
        "autoencoder": UNTRAINED,
        "base_channels": 4,
        "channel_mults": (1, 2),
        "attention": False,
        "text_dim": 8,
        "text_layers": 1,
        "text_heads": 2,
        "diffusion_steps": 20,
        "sample_steps": 4,
    },
    dataset="captions32",
    example_shape=(3, 32, 32),
    shapes=ShapeSupport((32,), (3,), task=TEXT_LDM_TASK),
)
class TextLDM(Family):
    kind = "diffusion"
    conditional = True
    data_scale = "0,1"  # what the VAE encoder takes

    def __init__(self, cfg: TextLDMConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        cfg.check()
        self.autoencoder = load_first_stage(cfg, info)
        self.latent_shape = self.autoencoder.latent_shape  # (C_z, h, w)
        levels = 2 ** (len(cfg.channel_mults) - 1)
        if self.latent_shape[1] % levels or self.latent_shape[2] % levels:
            raise ConfigError(
                f"{len(cfg.channel_mults)} U-Net levels need a latent map divisible by {levels}; the autoencoder's "
                f"is {self.latent_shape[1]}x{self.latent_shape[2]}: use fewer channel_mults"
            )
        encoder = make_text_encoder(cfg.text_encoder, cfg.text_dim, cfg.text_layers, cfg.text_heads)
        unet = TextUNet(
            self.latent_shape[0], encoder.dim, cfg.base_channels, cfg.channel_mults, cfg.attention, cfg.cross_attention
        )
        denoiser = TextDenoiser(encoder, unet)
        self.nets = {"denoiser": denoiser, "ema": EMA(denoiser, cfg.ema_decay)}
        self.opts = {"adam": torch.optim.Adam(denoiser.parameters(), lr=cfg.lr)}
        self.betas = named_betas(cfg.schedule, cfg.diffusion_steps)  # float64 numpy
        self.alpha_bar = torch.from_numpy(alpha_bar(self.betas))
        self.latent_scale = torch.ones(())  # replaced by latent_scale_factor on the first batch
        self.latent_scale_measured = False

    def to(self, device: str | torch.device) -> TextLDM:
        """The denoiser and its EMA, the frozen autoencoder and the latent scale, onto ``device``."""
        super().to(device)
        self.autoencoder.to(device)
        self.latent_scale = self.latent_scale.to(device)
        return self

    @torch.no_grad()
    def encode_latents(self, images: torch.Tensor) -> torch.Tensor:
        """Scaled posterior means as maps. Shapes: (B, C, H, W) in [0, 1] -> (B, C_z, h, w)."""
        mu = self.autoencoder.encode(images)[0]  # (B, C_z * h * w)
        return (mu * self.latent_scale).view(images.shape[0], *self.latent_shape)

    @torch.no_grad()
    def decode_latents(self, z: torch.Tensor) -> torch.Tensor:
        """Decoder mean of scaled latent maps. Shapes: (B, C_z, h, w) -> (B, C, H, W) in [-1, 1]."""
        return self.autoencoder.decode_mean(z.flatten(1) / self.latent_scale).clamp(-1, 1)

    def train_step(self, images, labels, generator):
        denoiser = self.nets["denoiser"]
        # 1. Latents of the batch; the first batch ever also fixes the scale factor.
        if not self.latent_scale_measured:
            with torch.no_grad():
                self.latent_scale = latent_scale_factor(self.autoencoder.encode(images)[0])
            self.latent_scale_measured = True
        z0 = self.encode_latents(images)  # (B, C_z, h, w)
        b = z0.shape[0]
        # 2. A random step and noise per latent; z_t from q(z_t | z_0) in closed form.
        i = randint(0, self.cfg.diffusion_steps, (b,), generator, z0.device)
        noise = randn(z0.shape, generator, z0.device)
        zt = q_sample(z0, i, noise, schedule_on(self.alpha_bar, z0))
        # 3. A caption per image from a random template; the empty caption with p = caption_dropout.
        with torch.device("cpu"):  # captions are strings, drawn on the host whatever the default device
            captions = random_captions(labels.cpu(), generator)
        drop = (rand((b,), generator, torch.device("cpu")) < self.cfg.caption_dropout).tolist()
        captions = ["" if d else c for c, d in zip(captions, drop)]
        # 4. The simplified loss on the noise (Ho et al. 2020, eq. 14), in latent space.
        loss = F.mse_loss(denoiser(zt, i, captions), noise)
        self.opts["adam"].zero_grad(set_to_none=True)
        loss.backward()
        self.opts["adam"].step()
        self.nets["ema"].update(denoiser)
        self.step += 1
        return {"loss": loss.item()}

    def eps_fn(self, captions: list[str], guidance: float):
        """(z_t, i) -> guided noise prediction of the EMA denoiser; guidance wraps the model call."""
        net = self.nets["ema"].net

        def predict(z: torch.Tensor, i: int, texts: list[str]) -> torch.Tensor:
            return net(z, torch.full((z.shape[0],), i, dtype=torch.long, device=z.device), texts)

        def eps(z: torch.Tensor, i: int) -> torch.Tensor:
            if guidance == 0:
                return predict(z, i, [""] * z.shape[0])
            if guidance == 1:
                return predict(z, i, captions)
            # One batched call for both predictions: (2B, C_z, h, w).
            cond, uncond = predict(torch.cat([z, z]), i, captions + [""] * z.shape[0]).chunk(2)
            return uncond + guidance * (cond - uncond)

        return eps

    def make_sampler(self):
        return latent_sampler(self.cfg, self.betas)

    @torch.inference_mode()
    def sample_captions(
        self, captions: list[str], *, generator: torch.Generator, guidance: float | None = None
    ) -> torch.Tensor:
        """One image per caption, in [-1, 1]. Shapes: B captions -> (B, C, H, W)."""
        for c in set(captions):
            parse_prompt(c)  # unknown words and two values of one attribute are DataErrors
        z = randn((len(captions), *self.latent_shape), generator, self.device)  # z_T, (B, C_z, h, w)
        self.nets["ema"].eval()
        try:
            w = self.cfg.guidance if guidance is None else guidance
            z0 = run_sampler(self.make_sampler(), self.eps_fn(list(captions), w), z, generator)
        finally:
            self.nets["ema"].train()
        return self.decode_latents(z0)

    def sample(self, n, *, labels=None, generator):
        """Labels are caption codes (the trainer's grids); each becomes its full caption."""
        codes = torch.arange(n, device="cpu") % NUM_CODES if labels is None else labels.cpu()
        return self.sample_captions(canonical_captions(codes), generator=generator)

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
