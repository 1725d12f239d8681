"""``text-ddpm``: text-to-image diffusion on captions32 (cross-attention + classifier-free guidance).

The small, honest version of Stable Diffusion / Imagen: a caption goes through a text
encoder (:mod:`genlab.nn.text`: a built-in transformer trained with the model, or frozen
MiniLM), and a U-Net with cross-attention (:class:`genlab.nn.unet_text.TextUNet`) predicts
the noise. The batch labels are caption codes (data set ``captions32``); each training image
gets a caption from a random template, replaced by the empty caption with p =
``caption_dropout`` so the same network also predicts unconditionally, which classifier-free
guidance needs (Ho & Salimans 2022): eps = eps("") + w (eps(c) - eps("")). Samples come from
an EMA of the weights (text encoder included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genlab.data import DataInfo, to_uint8
from genlab.data.captions import NUM_CODES, canonical_captions, parse_prompt, random_captions
from genlab.errors import ConfigError
from genlab.math.diffusion import eps_from_v, q_sample, v_target
from genlab.math.schedules import alpha_bar, named_betas
from genlab.models.base import Family, TextConditioned
from genlab.models.ddpm import EMA, check_diffusion_fields
from genlab.models.registry import register
from genlab.models.shapes import CAPTION_SHAPES
from genlab.nn.noise import rand, randint, randn
from genlab.nn.text import make_text_encoder
from genlab.nn.unet_text import TextUNet
from genlab.samplers import DDIMSampler, DDPMSampler, run_sampler
from genlab.samplers.base import schedule_on


def check_text_diffusion_fields(cfg: Any) -> None:
    """The U-Net, text-encoder and diffusion fields text-ddpm and text-ldm share: one ConfigError line each."""
    if cfg.base_channels < 1 or not cfg.channel_mults or min(cfg.channel_mults) < 1:
        raise ConfigError("base_channels and every channel_mults entry must be >= 1")
    if cfg.text_dim < 1 or cfg.text_layers < 0 or cfg.text_heads < 1 or cfg.text_dim % cfg.text_heads:
        raise ConfigError(
            f"text_dim must be a positive multiple of text_heads and text_layers >= 0; got {cfg.text_dim}, "
            f"{cfg.text_heads}, {cfg.text_layers}"
        )
    if not 0.0 <= cfg.caption_dropout < 1.0 or not 0.0 <= cfg.ema_decay < 1.0:
        raise ConfigError("caption_dropout and ema_decay must be in [0, 1)")
    check_diffusion_fields(cfg)


@dataclass(frozen=True)
class TextDDPMConfig:
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2)
    attention: bool = True  # self-attention at the lowest resolution
    cross_attention: bool = True  # False: the caption enters only through its pooled vector
    text_encoder: Literal["builtin", "minilm"] = "builtin"
    text_dim: int = 64  # built-in encoder width
    text_layers: int = 2
    text_heads: int = 4
    caption_dropout: float = 0.1
    schedule: Literal["linear", "cosine"] = "linear"
    diffusion_steps: int = 1000
    prediction: Literal["eps", "v"] = "eps"
    ema_decay: float = 0.999
    lr: float = 1e-3
    sampler: Literal["ddim", "ddpm"] = "ddim"
    sample_steps: int = 50
    eta: float = 0.0
    guidance: float = 3.0

    def check(self) -> None:
        check_text_diffusion_fields(self)


class TextDenoiser(nn.Module):
    """Text encoder + U-Net as one module, so one EMA and one optimizer cover both.

    Shapes: x (B, C, H, W), t (B,), B captions -> (B, C, H, W).
    """

    def __init__(self, encoder: nn.Module, unet: TextUNet) -> None:
        super().__init__()
        self.encoder, self.unet = encoder, unet

    def forward(self, x: torch.Tensor, t: torch.Tensor, captions: list[str]) -> torch.Tensor:
        context, mask = self.encoder(captions)  # (B, L, D), (B, L); MiniLM's are made on the CPU
        return self.unet(x, t, context.to(x.device), mask.to(x.device))


@register(
    "text-ddpm",
    config=TextDDPMConfig,
    description="Text-to-image DDPM on captions32: cross-attention U-Net, built-in or MiniLM text encoder, "
    "classifier-free guidance",
    presets={"small": {"base_channels": 16, "text_dim": 32, "sample_steps": 25}},
    tiny={
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
    example_shape=(3, 16, 16),
    shapes=CAPTION_SHAPES,
)
class TextDDPM(Family):
    kind = "diffusion"
    conditional = True

    def __init__(self, cfg: TextDDPMConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        cfg.check()
        levels = 2 ** (len(cfg.channel_mults) - 1)
        if info.height % levels or info.width % levels:
            raise ConfigError(f"{len(cfg.channel_mults)} U-Net levels need image sizes divisible by {levels}")
        encoder = make_text_encoder(cfg.text_encoder, cfg.text_dim, cfg.text_layers, cfg.text_heads)
        unet = TextUNet(
            info.channels, encoder.dim, cfg.base_channels, cfg.channel_mults, cfg.attention, cfg.cross_attention
        )
        denoiser = TextDenoiser(encoder, unet)
        self.nets = {"denoiser": denoiser, "ema": EMA(denoiser, cfg.ema_decay)}
        self.opts = {"adam": torch.optim.Adam(denoiser.parameters(), lr=cfg.lr)}
        self.betas = named_betas(cfg.schedule, cfg.diffusion_steps)  # float64 numpy
        self.alpha_bar = torch.from_numpy(alpha_bar(self.betas))

    def train_step(self, images, labels, generator):
        denoiser = self.nets["denoiser"]
        b = images.shape[0]
        # 1. A random step and noise per image; x_t from q(x_t | x_0) in closed form.
        i = randint(0, self.cfg.diffusion_steps, (b,), generator, images.device)
        noise = randn(images.shape, generator, images.device)
        alpha_bar = schedule_on(self.alpha_bar, images)
        xt = q_sample(images, i, noise, alpha_bar)
        # 2. A caption per image from a random template; the empty caption with p = caption_dropout.
        with torch.device("cpu"):  # captions are strings, drawn on the host whatever the default device
            captions = random_captions(labels.cpu(), generator)
        drop = (rand((b,), generator, torch.device("cpu")) < self.cfg.caption_dropout).tolist()
        captions = ["" if d else c for c, d in zip(captions, drop)]
        # 3. Regress the noise (Ho et al. 2020, eq. 14) or v (Salimans & Ho 2022).
        target = noise if self.cfg.prediction == "eps" else v_target(images, i, noise, alpha_bar)
        loss = F.mse_loss(denoiser(xt, i, captions), target)
        self.opts["adam"].zero_grad(set_to_none=True)
        loss.backward()
        self.opts["adam"].step()
        self.nets["ema"].update(denoiser)
        return {"loss": loss.item()}

    def eps_fn(self, captions: list[str], guidance: float):
        """(x_t, i) -> guided noise prediction of the EMA network; guidance wraps the model call."""
        net = self.nets["ema"].net

        def predict(x: torch.Tensor, i: int, texts: list[str]) -> torch.Tensor:
            idx = torch.full((x.shape[0],), i, dtype=torch.long, device=x.device)
            out = net(x, idx, texts)
            return eps_from_v(x, idx, out, schedule_on(self.alpha_bar, x)) if self.cfg.prediction == "v" else out

        def eps(x: torch.Tensor, i: int) -> torch.Tensor:
            if guidance == 0:
                return predict(x, i, [""] * x.shape[0])
            if guidance == 1:
                return predict(x, i, captions)
            # One batched call for both predictions: (2B, C, H, W).
            cond, uncond = predict(torch.cat([x, x]), i, captions + [""] * x.shape[0]).chunk(2)
            return uncond + guidance * (cond - uncond)

        return eps

    def make_sampler(self):
        if self.cfg.sampler == "ddpm":
            sampler = DDPMSampler(self.betas)
            sampler.set_timesteps(self.cfg.diffusion_steps)
            return sampler
        sampler = DDIMSampler(self.betas, eta=self.cfg.eta)
        sampler.set_timesteps(self.cfg.sample_steps)
        return sampler

    @torch.inference_mode()
    def sample_captions(
        self, captions: list[str], *, generator: torch.Generator, guidance: float | None = None
    ) -> torch.Tensor:
        """One image per caption, in [-1, 1]. Shapes: B captions -> (B, C, H, W)."""
        for c in set(captions):
            parse_prompt(c)  # unknown words and two values of one attribute are DataErrors
        x = randn((len(captions), *self.image_shape), generator, self.device)
        self.nets["ema"].eval()
        try:
            w = self.cfg.guidance if guidance is None else guidance
            x0 = run_sampler(self.make_sampler(), self.eps_fn(list(captions), w), x, generator)
        finally:
            self.nets["ema"].train()
        return x0.clamp(-1, 1)

    def sample(self, n, *, labels=None, generator):
        """Labels are caption codes (the trainer's grids); each becomes its full caption."""
        codes = torch.arange(n, device="cpu") % NUM_CODES if labels is None else labels.cpu()
        return self.sample_captions(canonical_captions(codes), generator=generator)


def sample_prompt(family: Family, prompt: str, n: int, *, seed: int = 0, batch_size: int = 500) -> np.ndarray:
    """``n`` images of one prompt from a text-conditioned family, as uint8 (n, C, H, W).

    The prompt is checked first: an unknown word, or two values of one attribute, is a DataError.
    """
    if not isinstance(family, TextConditioned):
        raise ConfigError(
            f"--prompt needs a text-conditioned family (text-ddpm, attr-gan); {family.registry_name} is not one"
        )
    parse_prompt(prompt)
    generator = torch.Generator().manual_seed(seed)
    chunks = [
        to_uint8(family.sample_captions([prompt] * (min(n, lo + batch_size) - lo), generator=generator))
        for lo in range(0, n, batch_size)
    ]
    return np.concatenate(chunks)
