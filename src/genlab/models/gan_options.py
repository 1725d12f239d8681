"""Options every GAN family shares: the loss, the optimisers and the stabilisers.

Each field is one knob from the literature; ``docs/gan.md`` says when to use which. A
family's config dataclass inherits these and adds its architecture fields, so
``--set loss=hinge spectral_norm=true ema=0.999`` works for every GAN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genlab.errors import ConfigError
from genlab.math.gan import BCE_LOSSES, GAN_LOSSES

DIFFAUG_POLICIES = ("color", "translation", "cutout")
MIN_Z_TRUNCATION = 0.1  # below it most draws are redrawn (P(|z| <= 0.1) = 0.08 per entry)


@dataclass(frozen=True)
class GANOptions:
    loss: Literal["non-saturating", "minimax", "hinge", "least-squares", "wasserstein"] = "non-saturating"
    conditional: bool = False  # label embedding concatenated to z in G, projection in D
    embed_dim: int = 10  # size of G's label embedding
    optimizer: Literal["adam", "rmsprop"] = "adam"
    lr: float = 2e-4  # generator learning rate
    lr_d: float = 0.0  # discriminator learning rate; 0 means lr (TTUR: set it apart, e.g. 4e-4 vs 1e-4)
    beta1: float = 0.5
    beta2: float = 0.999
    lr_decay_steps: int = 0  # linear decay of both learning rates to 0 over this many G steps; 0 off
    n_critic: int = 1  # discriminator steps per generator step, each on a fresh real batch
    clip: float = 0.0  # WGAN weight clipping to [-clip, clip] after every D step; 0 off
    gp: float = 0.0  # WGAN-GP gradient penalty weight lambda; 0 off
    r1: float = 0.0  # R1 penalty weight gamma on real data; 0 off
    label_smoothing: float = 0.0  # one-sided: real target 1 - this (0.1 gives the classic 0.9)
    label_noise: float = 0.0  # probability of flipping each discriminator target
    instance_noise: float = 0.0  # std of Gaussian noise on D's inputs, annealed linearly to 0
    instance_noise_steps: int = 10_000  # steps over which instance noise decays to 0
    spectral_norm: bool = False  # spectral normalisation of every D layer (Miyato et al. 2018)
    minibatch: Literal["none", "discrimination", "stddev"] = "none"  # D sees batch statistics
    minibatch_kernels: int = 16  # minibatch discrimination: B kernels of dimension C = 8
    pack: int = 1  # PacGAN: D judges m samples at once (Lin et al. 2018)
    ema: float = 0.0  # decay of an EMA copy of G's weights (e.g. 0.999); 0 off
    sample_ema: bool = True  # sample from the EMA copy when ema > 0
    diffaug: str = ""  # DiffAugment policies, comma-separated: color,translation,cutout
    rejection: Literal["none", "drs"] = (
        "none"  # sample by Discriminator Rejection Sampling (Azadi et al. 2019) with a per-sample critic
    )
    drs_quantile: float = 0.95  # DRS: gamma puts this quantile of each batch's scores at acceptance 1/2
    # Sampling only: z ~ N(0, I) truncated to |z_i| <= z_truncation (BigGAN's truncation trick, Brock et al. 2019):
    # fewer atypical z, so more typical images and less spread. 0 off; training always draws the full N(0, I).
    z_truncation: float = 0.0

    def check(self) -> None:
        if self.loss not in GAN_LOSSES:
            raise ConfigError(f"loss must be one of {', '.join(GAN_LOSSES)}; got {self.loss!r}")
        if self.lr <= 0 or self.lr_d < 0:
            raise ConfigError(f"lr must be > 0 and lr_d >= 0 (0 = same as lr), got {self.lr} and {self.lr_d}")
        if self.n_critic < 1 or self.pack < 1 or self.embed_dim < 1 or self.minibatch_kernels < 1:
            raise ConfigError("n_critic, pack, embed_dim and minibatch_kernels must be >= 1")
        for name in ("clip", "gp", "r1", "instance_noise"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"ema must be in [0, 1), got {self.ema}")
        if not 0.0 <= self.label_smoothing < 0.5 or not 0.0 <= self.label_noise < 0.5:
            raise ConfigError("label_smoothing and label_noise must be in [0, 0.5)")
        if (self.label_smoothing or self.label_noise) and self.loss not in (*BCE_LOSSES, "least-squares"):
            raise ConfigError(
                "label_smoothing and label_noise need a target-based loss (minimax, non-saturating, least-squares), "
                f"not {self.loss}"
            )
        if self.lr_decay_steps < 0:
            raise ConfigError(f"lr_decay_steps must be >= 0 (0 = constant lr), got {self.lr_decay_steps}")
        if self.instance_noise_steps < 1:
            raise ConfigError(f"instance_noise_steps must be >= 1, got {self.instance_noise_steps}")
        if self.pack > 1 and self.conditional:
            raise ConfigError("pack > 1 (PacGAN) is for unconditional GANs; set conditional=false or pack=1")
        if self.rejection not in ("none", "drs"):
            raise ConfigError(f"rejection must be none or drs, got {self.rejection!r}")
        if self.z_truncation != 0 and not self.z_truncation >= MIN_Z_TRUNCATION:
            raise ConfigError(f"z_truncation must be 0 (off) or >= {MIN_Z_TRUNCATION}, got {self.z_truncation}")
        if not 0.0 < self.drs_quantile < 1.0:
            raise ConfigError(f"drs_quantile must be in (0, 1), got {self.drs_quantile}")
        if self.rejection == "drs" and self.conditional:
            raise ConfigError(
                "rejection=drs samples unconditionally (it cannot keep the requested labels); set conditional=false"
            )
        unknown = set(self.diffaug_policies) - set(DIFFAUG_POLICIES)
        if unknown:
            raise ConfigError(f"unknown diffaug policy {sorted(unknown)[0]!r}; known: {', '.join(DIFFAUG_POLICIES)}")

    @property
    def diffaug_policies(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.diffaug.split(",") if p.strip())

    @property
    def d_lr(self) -> float:
        return self.lr_d or self.lr
