"""``ddpm``: denoising diffusion on pixels (Ho et al. 2020) with DDIM sampling and guidance.

The U-Net (``genlab.nn.UNet``) is only the network; the diffusion process lives in
``genlab.math.diffusion`` and the samplers in ``genlab.samplers``. Class-conditional by
default, with labels dropped with p = 0.1 so one network also predicts unconditionally,
which classifier-free guidance needs (Ho & Salimans 2022): eps = eps_u + w (eps_c - eps_u),
w = 0 unconditional, w = 1 conditional, w > 1 guided. Samples come from an EMA of the weights.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.math.diffusion import eps_from_v, eps_from_x0, q_sample, v_target, x0_from_eps
from genlab.math.diffusion_bound import decoder_nll, prior_kl, reverse_kl
from genlab.math.schedules import alpha_bar, named_betas
from genlab.models.base import Family
from genlab.models.registry import register
from genlab.models.shapes import SIZES_128, ShapeSupport
from genlab.nn.noise import rand, randint, randn
from genlab.nn.unet import UNet
from genlab.samplers import DDIMSampler, DDPMSampler, run_sampler
from genlab.samplers.base import schedule_on


@dataclass(frozen=True)
class DDPMConfig:
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2)
    attention: bool = True  # self-attention at the lowest resolution
    schedule: Literal["linear", "cosine"] = "linear"
    diffusion_steps: int = 1000
    prediction: Literal["eps", "v", "x0"] = "eps"
    class_conditional: bool = True
    label_dropout: float = 0.1
    ema_decay: float = 0.999
    lr: float = 1e-3
    sampler: Literal["ddim", "ddpm"] = "ddim"
    sample_steps: int = 50
    eta: float = 0.0
    guidance: float = 1.0
    # Sampling speed-ups, opt-in (benchmarks/ddim_speed.py, docs/results/ddim-speed.md): bfloat16
    # autocast about doubles DDIM's images/s on a CPU with avx512_bf16 at a small FID cost;
    # torch.compile gains about 1.3x after a one-off compile (worth it from a few thousand images).
    sample_dtype: Literal["float32", "bfloat16"] = "float32"
    sample_compile: bool = False

    def check(self) -> None:
        if self.sample_dtype not in ("float32", "bfloat16"):
            raise ConfigError(f"sample_dtype must be float32 or bfloat16, got {self.sample_dtype!r}")
        if self.base_channels < 1 or not self.channel_mults or min(self.channel_mults) < 1:
            raise ConfigError("base_channels and every channel_mults entry must be >= 1")
        if not 0.0 <= self.label_dropout < 1.0 or not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError("label_dropout and ema_decay must be in [0, 1)")
        check_diffusion_fields(self)


def check_diffusion_fields(cfg) -> None:
    """The checks every diffusion config shares: lr, guidance w, DDIM's eta, sampling steps."""
    if cfg.lr <= 0 or cfg.guidance < 0:
        raise ConfigError("lr must be > 0 and guidance >= 0")
    if not 0.0 <= cfg.eta <= 1.0:
        raise ConfigError(f"eta must be in [0, 1], got {cfg.eta}")
    if not 1 <= cfg.sample_steps <= cfg.diffusion_steps:
        raise ConfigError(f"sample_steps must be in 1..{cfg.diffusion_steps}, got {cfg.sample_steps}")


class EMA(nn.Module):
    """Exponential moving average of a network's weights, with warm-up (decay <= (1 + n) / (10 + n))."""

    def __init__(self, net: nn.Module, decay: float) -> None:
        super().__init__()
        self.net = copy.deepcopy(net).requires_grad_(False)
        self.decay = decay
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        self.num_updates += 1
        n = float(self.num_updates)
        d = min(self.decay, (1 + n) / (10 + n))
        for ema_p, p in zip(self.net.parameters(), net.parameters()):
            ema_p.lerp_(p, 1 - d)
        for ema_b, b in zip(self.net.buffers(), net.buffers()):
            ema_b.copy_(b)


@register(
    "ddpm",
    config=DDPMConfig,
    description="Pixel-space DDPM/DDIM U-Net with classifier-free guidance; --set guidance=, sampler=, sample_steps=; "
    "presets small (28, 32), small-64, small-128",
    presets={
        "small": {"base_channels": 16, "channel_mults": (1, 2, 4)},
        # One more level per doubling of the side keeps attention at 8x8; narrower (benchmarks/preset_cost.py).
        "small-64": {"base_channels": 8, "channel_mults": (1, 2, 4, 4)},
        "small-128": {"base_channels": 8, "channel_mults": (1, 2, 2, 4, 4)},
    },
    tiny={"base_channels": 4, "channel_mults": (1, 2), "attention": False, "diffusion_steps": 20, "sample_steps": 4},
    shapes=ShapeSupport(SIZES_128),
)
class DDPM(Family):
    kind = "diffusion"

    def __init__(self, cfg: DDPMConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        self._compiled: tuple[nn.Module | None, Any] = (None, None)  # (net, torch.compile(net)) for sample_compile
        cfg.check()
        if info.height % 2 ** (len(cfg.channel_mults) - 1) or info.width % 2 ** (len(cfg.channel_mults) - 1):
            raise ConfigError(
                f"{len(cfg.channel_mults)} U-Net levels need image sizes divisible by "
                f"{2 ** (len(cfg.channel_mults) - 1)}"
            )
        self.conditional = cfg.class_conditional
        self.num_classes = info.num_classes if cfg.class_conditional else 0
        unet = UNet(info.channels, cfg.base_channels, cfg.channel_mults, self.num_classes, cfg.attention)
        # Default (contiguous) memory format: channels-last did not sample faster on this CPU
        # (docs/results/ddim-speed.md, benchmarks/ddim_speed.py) and GroupNorm runs slower on it.
        self.nets = {"unet": unet, "ema": EMA(unet, cfg.ema_decay)}
        self.opts = {"adam": torch.optim.Adam(unet.parameters(), lr=cfg.lr)}
        self.betas = named_betas(cfg.schedule, cfg.diffusion_steps)  # float64 numpy
        self.alpha_bar = torch.from_numpy(alpha_bar(self.betas))

    def train_step(self, images, labels, generator):
        unet = self.nets["unet"]
        b = images.shape[0]
        # 1. A random step and noise per image; x_t from q(x_t | x_0) in closed form.
        i = randint(0, self.cfg.diffusion_steps, (b,), generator, images.device)
        noise = randn(images.shape, generator, images.device)
        alpha_bar = schedule_on(self.alpha_bar, images)
        xt = q_sample(images, i, noise, alpha_bar)
        # 2. Labels, each replaced by the null label with p = label_dropout.
        y = None
        if self.conditional:
            drop = rand((b,), generator, images.device) < self.cfg.label_dropout
            y = torch.where(drop, torch.full_like(labels, self.num_classes), labels)
        # 3. Regress the chosen target (Ho et al. 2020's simplified loss, eq. 14).
        target = {"eps": noise, "x0": images, "v": v_target(images, i, noise, alpha_bar)}[self.cfg.prediction]
        loss = F.mse_loss(unet(xt, i, y), target)
        self.opts["adam"].zero_grad(set_to_none=True)
        loss.backward()
        self.opts["adam"].step()
        self.nets["ema"].update(unet)
        return {"loss": loss.item()}

    def eps_fn(self, labels: torch.Tensor | None, guidance: float, net: nn.Module | None = None):
        """(x_t, i) -> guided noise prediction of the EMA network; guidance wraps the model call."""
        net = self.nets["ema"].net if net is None else net
        device = next(net.parameters()).device
        null = None if not self.conditional else torch.full((1,), self.num_classes, dtype=torch.long, device=device)

        def predict(x: torch.Tensor, i: int, y: torch.Tensor | None) -> torch.Tensor:
            return self._predict_eps(net, x, torch.full((x.shape[0],), i, dtype=torch.long, device=x.device), y)

        def eps(x: torch.Tensor, i: int) -> torch.Tensor:
            if labels is None or guidance == 0:
                return predict(x, i, None if null is None else null.expand(x.shape[0]))
            if guidance == 1:
                return predict(x, i, labels)
            # One batched call for both predictions: (2B, C, H, W).
            both = predict(torch.cat([x, x]), i, torch.cat([labels, null.expand(x.shape[0])]))
            cond, uncond = both.chunk(2)
            return uncond + guidance * (cond - uncond)

        return eps

    def _predict_eps(self, net: nn.Module, x: torch.Tensor, idx: torch.Tensor, y: torch.Tensor | None):
        """The network's noise prediction at per-image step indices ``idx`` (B,), whatever it regresses."""
        out = net(x, idx, y)
        if self.cfg.prediction == "x0":
            return eps_from_x0(x, idx, out, schedule_on(self.alpha_bar, x))
        if self.cfg.prediction == "v":
            return eps_from_v(x, idx, out, schedule_on(self.alpha_bar, x))
        return out

    # The variational bound (genlab.models.base.VariationalBound) of the model the DDPM sampler draws from:
    # the EMA network, x_0 predictions clipped to [-1, 1], sigma_t^2 = beta_t, and for L_0 a discretised
    # Gaussian of variance beta_1. A conditional model gives log p(x | y) with the labels (guidance w = 1),
    # and with labels=None the null label's unconditional log p(x).

    def bound_steps(self) -> int:
        return self.cfg.diffusion_steps

    def prior_term(self, x: torch.Tensor) -> torch.Tensor:
        return prior_kl(x, self.alpha_bar)

    @torch.inference_mode()
    def bound_terms(self, x, i, labels, *, generator):
        net = self.nets["ema"].net
        was_training = net.training
        net.eval()
        device = self.device
        x, i = x.to(device), i.to(device)
        y = None
        if self.conditional:
            y = torch.full_like(i, self.num_classes) if labels is None else labels.to(device)
        alpha_bar = schedule_on(self.alpha_bar, x)
        xt = q_sample(x, i, randn(x.shape, generator, device), alpha_bar)  # x_{t}, t = i + 1
        x0_pred = x0_from_eps(xt, i, self._predict_eps(net, xt, i, y), alpha_bar).clamp(-1, 1)
        net.train(was_training)
        x, xt, x0_pred, i = x.cpu(), xt.cpu(), x0_pred.cpu(), i.cpu()
        betas = torch.from_numpy(self.betas)
        terms = torch.empty(x.shape[0], dtype=torch.float64)
        first = i == 0
        if first.any():
            terms[first] = decoder_nll(x[first], x0_pred[first], float(self.betas[0]))
        if (~first).any():
            rest = ~first
            terms[rest] = reverse_kl(x[rest], xt[rest], i[rest], x0_pred[rest], betas, self.alpha_bar)
        return terms

    def likelihood_classes(self) -> int:
        """K when class-conditional (``bound_terms`` takes any label 0..K-1), else 0 (base.ClassLikelihood)."""
        return self.num_classes

    def make_sampler(self):
        cfg = self.cfg
        if cfg.sampler == "ddpm":
            sampler = DDPMSampler(self.betas)
            sampler.set_timesteps(cfg.diffusion_steps)
            return sampler
        sampler = DDIMSampler(self.betas, eta=cfg.eta)
        sampler.set_timesteps(cfg.sample_steps)
        return sampler

    @torch.inference_mode()
    def sample(self, n, *, labels=None, generator, trajectory=None):
        device = self.device
        if self.conditional:
            labels = torch.arange(n, device=device) % self.num_classes if labels is None else labels.to(device)
        else:
            labels = None
        x = randn((n, *self.image_shape), generator, device)
        self.nets["ema"].eval()
        net = self.nets["ema"].net
        if self.cfg.sample_compile:  # compiled once per family object; the compiled module shares net's weights
            if self._compiled[0] is not net:
                self._compiled = (net, torch.compile(net, dynamic=False))
            net = self._compiled[1]
        autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.cfg.sample_dtype == "bfloat16")
        try:
            with autocast:
                x0 = run_sampler(
                    self.make_sampler(), self.eps_fn(labels, self.cfg.guidance, net), x, generator, trajectory
                )
        finally:
            self.nets["ema"].train()
        return x0.float().clamp(-1, 1)
