"""``stylegan-lite``: the StyleGAN ideas at CPU size (Karras et al. 2019, 2020).

Mapping network (8 layers) z -> w, learned constant input, modulated/demodulated convs
(StyleGAN2; ``style=adain`` for StyleGAN's AdaIN), per-pixel noise with learned per-channel
scales, style mixing regularisation, the truncation trick around a tracked mean w, a
residual discriminator with minibatch stddev, the non-saturating loss with lazy R1
(StyleGAN2 sec. B: every ``r1_every`` steps, weighted by the interval) and an EMA generator.

The family works at ``resolution`` (32 by default on the 64x64 shapes64 images): real
batches are average-pooled down to it, and ``sample`` upsamples (bilinear) back to the data
size, so every evaluation tool sees images of the data set's shape. ``resolution`` is a cap:
the generator works at the largest size of the data's halving chain not above it (the chain
of 64 is 64, 32, 16, 8; of 28 it is 28, 14; :mod:`genlab.nn.sizes`), so the default is 32 on
32, 64 and 128 pixel data and 28 (from a 7x7 constant) on 28x28 data. Networks and blocks:
:mod:`genlab.models.stylegan_net`, :mod:`genlab.nn.style`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.math.gan import discriminator_loss, generator_loss, r1_penalty
from genlab.models.base import Family
from genlab.models.gan_parts import Critic, ema_update_
from genlab.models.registry import register
from genlab.models.shapes import SIZES_128, ShapeSupport
from genlab.models.stylegan_net import NoiseMode, StyleGenerator, residual_features
from genlab.nn.noise import rand, randint, randn
from genlab.nn.sizes import base_side
from genlab.nn.style import mix_styles


@dataclass(frozen=True)
class StyleGANConfig:
    z_dim: int = 128
    w_dim: int = 128  # 512 in StyleGAN
    mapping_layers: int = 8
    mapping_width: int = 128  # hidden width of the mapping MLP (512 in StyleGAN)
    mapping_lr_mul: float = 0.01  # the mapping network learns 100x slower (StyleGAN, app. C)
    channel_base: int = 2048  # feature maps at resolution r: min(max_channels, channel_base / r)
    max_channels: int = 128
    d_channel_base: int = 0  # the discriminator's channel_base; 0 = same as G's
    resolution: int = 32  # cap on the generator's output size (see working_resolution); 0 = the data size
    style: Literal["modulation", "adain"] = "modulation"  # StyleGAN2 weight (de)modulation or StyleGAN AdaIN
    noise: bool = (
        True  # per-pixel noise inputs (StyleGAN sec. 3.2); false draws none (train or sample: --set noise=false)
    )
    style_mixing: float = 0.9  # probability that a training batch mixes two w's at a random layer
    truncation: float = 1.0  # psi used by sample(): 1 = no truncation, 0 = the mean w for every sample
    w_avg_beta: float = 0.995  # decay of the tracked mean w
    r1: float = 0.1  # R1 weight gamma (loss + gamma/2 E||grad D(x)||^2); 0 off
    r1_every: int = 4  # lazy R1: every this many steps, weighted by it
    lr: float = 2e-3
    beta1: float = 0.0
    beta2: float = 0.99
    ema: float = 0.998  # decay of the EMA generator that sample() uses; 0 samples the trained G
    minibatch_std: bool = True  # D sees the batch's feature standard deviation (ProGAN)

    def check(self) -> None:
        if (
            min(
                self.z_dim,
                self.w_dim,
                self.mapping_layers,
                self.mapping_width,
                self.channel_base,
                self.max_channels,
                self.r1_every,
            )
            < 1
        ):
            raise ConfigError(
                "z_dim, w_dim, mapping_layers, mapping_width, channel_base, max_channels and r1_every must be >= 1"
            )
        if self.d_channel_base < 0:
            raise ConfigError(f"d_channel_base must be >= 0 (0 = channel_base), got {self.d_channel_base}")
        if self.resolution and (self.resolution < 8 or self.resolution & (self.resolution - 1)):
            raise ConfigError(
                f"resolution must be a power of two >= 8 (or 0 for the data size), got {self.resolution}"
            )
        if self.style not in ("modulation", "adain"):
            raise ConfigError(f"style must be modulation or adain, got {self.style!r}")
        if not 0.0 <= self.style_mixing <= 1.0 or not 0.0 <= self.w_avg_beta < 1.0 or not 0.0 <= self.ema < 1.0:
            raise ConfigError("style_mixing must be in [0, 1], w_avg_beta and ema in [0, 1)")
        if not 0.0 <= self.truncation <= 1.0:
            raise ConfigError(f"truncation psi must be in [0, 1], got {self.truncation}")
        if self.mapping_lr_mul <= 0 or self.lr <= 0 or self.r1 < 0:
            raise ConfigError("mapping_lr_mul and lr must be > 0 and r1 >= 0")
        if not (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0):
            raise ConfigError(f"beta1 and beta2 must be in [0, 1), got {self.beta1} and {self.beta2}")


def working_resolution(cfg: StyleGANConfig, info: DataInfo) -> int:
    """The generator's output size for this data: the largest size of the data's halving chain
    (H, H/2, ... down to twice the base side of :func:`genlab.nn.sizes.base_side`) not above
    ``cfg.resolution`` (0: the data size), or the smallest one when all are above it.
    64x64 data: 64, 32, 16, 8 (the default cap 32 gives 32); 28x28: 28, 14 (32 gives 28, 8 gives 14)."""
    if info.height != info.width:
        raise ConfigError(f"stylegan-lite needs square images, the data set has {info.height}x{info.width}")
    base, levels = base_side(info.height)
    if levels < 1:
        raise ConfigError(
            f"stylegan-lite doubles a base side of 4 to 7 up to the image size (28, 32, 64, 128, ...); "
            f"{info.height}x{info.width} does not halve to one"
        )
    chain = [base << j for j in range(1, levels + 1)]  # e.g. 28: [14, 28]; 64: [8, 16, 32, 64]
    cap = cfg.resolution or info.height
    return max((r for r in chain if r <= cap), default=chain[0])


# CPU size: 32x32 with 64, 64, 32, 16 feature maps at 4, 8, 16, 32 (docs/results/stylegan.md has its
# cost). The mapping network learns 10x slower than the rest, not 100x: a CPU run sees about 1e5
# images where the paper's saw 2.5e7, and at 0.01 w would stay close to its random initial map.
SMALL = {"channel_base": 512, "max_channels": 64, "z_dim": 64, "w_dim": 64, "mapping_width": 64, "mapping_lr_mul": 0.1}


@register(
    "stylegan-lite",
    config=StyleGANConfig,
    description="StyleGAN-lite (Karras et al. 2019/2020): mapping net, modulated convs, noise, style mixing, "
    "truncation, R1; generates at up to --set resolution=32 (28 on 28x28 data) and upsamples to the data size",
    presets={"small": SMALL},
    tiny={
        "z_dim": 4,
        "w_dim": 4,
        "mapping_width": 4,
        "mapping_layers": 2,
        "channel_base": 32,
        "max_channels": 8,
        "resolution": 8,
    },
    dataset="shapes64",
    example_shape=(3, 64, 64),
    shapes=ShapeSupport(SIZES_128),
)
class StyleGANLite(Family):
    """Networks: ``generator`` (trained), ``discriminator``, ``generator_ema`` (sampled, when ema > 0)."""

    kind = "gan"

    def __init__(self, cfg: StyleGANConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        cfg.check()
        self.resolution = working_resolution(cfg, info)
        g = StyleGenerator(
            z_dim=cfg.z_dim,
            w_dim=cfg.w_dim,
            resolution=self.resolution,
            channels=info.channels,
            mapping_layers=cfg.mapping_layers,
            mapping_width=cfg.mapping_width,
            mapping_lr_mul=cfg.mapping_lr_mul,
            channel_base=cfg.channel_base,
            max_channels=cfg.max_channels,
            style=cfg.style,
        )
        body, feat_dim = residual_features(
            info.channels, self.resolution, cfg.d_channel_base or cfg.channel_base, cfg.max_channels
        )
        d = Critic(body, feat_dim, minibatch="stddev" if cfg.minibatch_std else "none")
        self.nets = {"generator": g, "discriminator": d}
        if cfg.ema:
            self.nets["generator_ema"] = copy.deepcopy(g).requires_grad_(False)
        # Lazy R1 makes D's steps bigger on average; StyleGAN2 scales D's Adam by c = k / (k + 1).
        c = cfg.r1_every / (cfg.r1_every + 1) if cfg.r1 else 1.0
        self.opts = {
            "generator": torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2)),
            "discriminator": torch.optim.Adam(d.parameters(), lr=cfg.lr * c, betas=(cfg.beta1**c, cfg.beta2**c)),
        }

    @property
    def sampling_generator(self) -> StyleGenerator:
        return self.nets["generator_ema" if self.cfg.ema else "generator"]  # type: ignore[return-value]

    def downsample(self, images: torch.Tensor) -> torch.Tensor:
        """Area-average the data down to the working resolution. Shapes: (B, C, H, W) -> (B, C, R, R)."""
        factor = images.shape[-1] // self.resolution
        return F.avg_pool2d(images, factor) if factor > 1 else images

    def upsample(self, images: torch.Tensor) -> torch.Tensor:
        """Bilinear back to the data size. Shapes: (B, C, R, R) -> (B, C, H, W)."""
        if images.shape[-1] == self.info.height:
            return images
        return F.interpolate(images, size=(self.info.height, self.info.width), mode="bilinear", align_corners=False)

    def training_styles(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Styles for a training batch: w of fresh z, and with probability ``style_mixing`` the
        layers from a random cutoff on take a second z's w (StyleGAN sec. 3.1). Also tracks
        the mean w. Shapes: -> (n, L, w_dim)."""
        cfg, g = self.cfg, self.nets["generator"]
        device, cpu = g.const.device, torch.device("cpu")
        z = randn((n, cfg.z_dim), generator, device)
        w = g.mapping(z)  # (n, w_dim)
        g.track_w_avg(w, cfg.w_avg_beta)
        ws = w[:, None, :].expand(-1, g.num_ws, -1)
        if cfg.style_mixing and rand((), generator, cpu).item() < cfg.style_mixing:
            cutoff = int(randint(1, g.num_ws, (), generator, cpu))
            w2 = g.mapping(randn((n, cfg.z_dim), generator, device))
            ws = mix_styles(ws, w2[:, None, :].expand(-1, g.num_ws, -1), cutoff)
        return ws

    def train_step(self, images, labels, generator):
        cfg, g, d = self.cfg, self.nets["generator"], self.nets["discriminator"]
        real = self.downsample(images)  # (B, C, H, W) -> (B, C, R, R)
        noise: NoiseMode = "random" if cfg.noise else "none"
        fake = g.synthesis(self.training_styles(real.shape[0], generator), noise=noise, generator=generator)
        # 1. Discriminator: non-saturating loss, plus lazy R1 on the reals.
        real_s, fake_s = d(real), d(fake.detach())
        loss_d = discriminator_loss(real_s, fake_s, kind="non-saturating")
        metrics = {
            "loss_d": loss_d.item(),
            "d_real": torch.sigmoid(real_s).mean().item(),
            "d_fake": torch.sigmoid(fake_s).mean().item(),
        }
        if cfg.r1 and self.step % cfg.r1_every == 0:
            r1 = r1_penalty(d, real)
            loss_d = loss_d + cfg.r1 * cfg.r1_every * r1
            metrics["r1"] = r1.item()
        self.opts["discriminator"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.opts["discriminator"].step()
        # 2. Generator: the same fakes against the updated D (gradients w.r.t. the images only).
        d.requires_grad_(False)
        try:
            loss_g = generator_loss(d(fake), "non-saturating")
            self.opts["generator"].zero_grad(set_to_none=True)
            loss_g.backward()
            self.opts["generator"].step()
        finally:
            d.requires_grad_(True)
        metrics["loss_g"] = loss_g.item()
        if cfg.ema:
            ema_update_(self.nets["generator_ema"], g, cfg.ema)  # buffers, so w_avg, are copied
        self.step += 1
        return metrics

    # -- sampling -------------------------------------------------------------
    @torch.no_grad()
    def render(
        self,
        ws: torch.Tensor,
        *,
        noise: NoiseMode | None = None,
        generator: torch.Generator | None = None,
        native: bool = False,
    ) -> torch.Tensor:
        """Images of given styles from the sampling generator, in [-1, 1].

        Shapes: ws (B, L, w_dim) -> (B, C, H, W) (the data size), or (B, C, R, R) with ``native``.
        ``noise`` defaults to random when the family has noise inputs.
        """
        g = self.sampling_generator
        mode = g.training
        g.eval()
        try:
            x = g.synthesis(ws, noise=noise or ("random" if self.cfg.noise else "none"), generator=generator)
        finally:
            g.train(mode)
        return (x if native else self.upsample(x)).clamp(-1, 1)

    @torch.no_grad()
    def styles(self, z: torch.Tensor, *, psi: float | None = None) -> torch.Tensor:
        """(B, z_dim) -> truncated styles (B, L, w_dim); psi defaults to the config's ``truncation``."""
        return self.sampling_generator.styles(z, psi=self.cfg.truncation if psi is None else psi)

    def sample(self, n, *, labels=None, generator):
        z = randn((n, self.cfg.z_dim), generator, self.device)
        return self.render(self.styles(z), generator=generator)
