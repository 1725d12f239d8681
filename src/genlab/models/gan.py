"""The adversarial game every GAN family plays, and the MLP GANs ``gan`` and ``cgan``.

``AdversarialFamily`` runs n_critic discriminator steps (each on a fresh real batch) and
one generator step, with the loss and stabilisers of :class:`GANOptions`. Subclasses
supply the networks: ``make_generator`` and ``make_features`` (the critic's body).

``gan`` (Goodfellow et al. 2014): G z (100) -> 256 -> 512 -> 1024 -> C*H*W, tanh;
D C*H*W -> 1024 -> 512 -> 256 -> 1 logit, LeakyReLU 0.2 and dropout. ``hidden`` scales
every width (256 is the textbook). ``cgan`` (Mirza & Osindero 2014) adds the label.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.math.gan import BCE_LOSSES, discriminator_loss, generator_loss, gradient_penalty, r1_penalty
from genlab.models.base import Family
from genlab.models.gan_options import GANOptions
from genlab.models.gan_parts import Critic, LabelInput, apply_spectral_norm, clip_weights_, ema_update_
from genlab.models.gan_rejection import discriminator_rejection_sample, drs_critic_step
from genlab.models.registry import register
from genlab.models.shapes import SIZES, ShapeSupport
from genlab.nn.diffaug import diff_augment
from genlab.nn.noise import rand, randn, truncated_randn


@dataclass(frozen=True)
class GANConfig(GANOptions):
    z_dim: int = 100
    hidden: int = 256  # G widths hidden, 2*hidden, 4*hidden; D mirrors them
    dropout: float = 0.3
    output: Literal["tanh", "identity"] = "tanh"  # G's last activation; identity for unbounded toy data
    label_every_layer: bool = False  # cgan: G sees the label embedding at every layer's input, not only the first

    def check(self) -> None:
        super().check()
        if self.z_dim < 1 or self.hidden < 1:
            raise ConfigError(f"z_dim and hidden must be >= 1, got {self.z_dim} and {self.hidden}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.label_every_layer and not self.conditional:
            raise ConfigError("label_every_layer needs a label: it is for cgan")


@dataclass(frozen=True)
class CGANConfig(GANConfig):
    conditional: bool = True


class MLPGenerator(nn.Module):
    """z [+ label embedding] -> hidden -> 2 hidden -> 4 hidden -> image (LeakyReLU 0.2). ``label_every_layer``
    concatenates the label embedding to the input of every linear layer, not only the first (cgan)."""

    def __init__(
        self,
        z_dim: int,
        hidden: int,
        out_shape: tuple[int, int, int],
        num_classes: int = 0,
        embed_dim: int = 10,
        output: str = "tanh",
        label_every_layer: bool = False,
    ) -> None:
        super().__init__()
        self.out_shape = out_shape
        self.label = LabelInput(num_classes, embed_dim) if num_classes else None
        self.every = bool(label_every_layer and num_classes)
        extra = embed_dim if self.every else 0  # the embedding's width at each later layer's input
        widths = [z_dim + (embed_dim if num_classes else 0), hidden, 2 * hidden, 4 * hidden]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers += [nn.Linear(a + (extra if i else 0), b), nn.LeakyReLU(0.2)]
        layers += [
            nn.Linear(widths[-1] + extra, out_shape[0] * out_shape[1] * out_shape[2]),
            nn.Tanh() if output == "tanh" else nn.Identity(),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        # (B, z_dim) [+ labels (B,)] -> (B, C, H, W)
        if self.label is not None:
            z = self.label(z, labels)
        if not self.every:
            return self.net(z).view(z.shape[0], *self.out_shape)
        e = z[:, -self.label.embed.embedding_dim :]  # (B, embed_dim): the embedding LabelInput appended
        h = z
        for i, layer in enumerate(self.net):
            if isinstance(layer, nn.Linear) and i:
                h = torch.cat([h, e], dim=1)
            h = layer(h)
        return h.view(z.shape[0], *self.out_shape)


def mlp_features(in_dim: int, hidden: int, dropout: float) -> tuple[nn.Module, int]:
    """The MLP critic body: (B, C, H, W) -> flatten -> 4h -> 2h -> h features (LeakyReLU 0.2, dropout)."""
    widths = [in_dim, 4 * hidden, 2 * hidden, hidden]
    layers: list[nn.Module] = [nn.Flatten()]
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
    return nn.Sequential(*layers), hidden


class AdversarialFamily(Family):
    """n_critic D steps and one G step per training step; every option of GANOptions."""

    kind = "gan"
    bounded_output = True  # G ends in tanh (samples clamped to [-1, 1]); the MLP GAN's output=identity unbounds it

    def __init__(self, cfg, info: DataInfo) -> None:
        super().__init__(cfg, info)
        cfg.check()
        self.conditional = cfg.conditional
        if cfg.conditional and info.num_classes < 2:
            raise ConfigError(f"a conditional GAN needs a labelled data set; this one has {info.num_classes} classes")
        self.monitor_losses = cfg.loss in BCE_LOSSES  # the collapse/explosion warnings assume BCE losses
        classes = info.num_classes if cfg.conditional else 0
        g = self.make_generator(classes)
        body, feat_dim = self.make_features(info.channels * cfg.pack)
        d = Critic(
            body,
            feat_dim,
            num_classes=classes,
            minibatch=cfg.minibatch,
            minibatch_kernels=cfg.minibatch_kernels,
            pack=cfg.pack,
        )
        self.init_weights(g, d)
        if cfg.spectral_norm:
            apply_spectral_norm(d)
        self.nets = {"generator": g, "discriminator": d}
        if cfg.ema:
            self.nets["generator_ema"] = copy.deepcopy(g).requires_grad_(False)
        self.opts = {"generator": self._optimizer(g, cfg.lr), "discriminator": self._optimizer(d, cfg.d_lr)}
        if cfg.rejection == "drs":  # built last, so G and D start as they would without it
            self.nets["drs_critic"] = Critic(*self.make_features(info.channels))
            self.opts["drs_critic"] = self._optimizer(self.nets["drs_critic"], cfg.d_lr)
        self.drs_acceptance = float("nan")  # fraction of G's proposals the last DRS sample() kept

    # -- architecture hooks -------------------------------------------------
    def make_generator(self, num_classes: int) -> nn.Module:
        self.bounded_output = self.cfg.output != "identity"
        cfg = self.cfg
        return MLPGenerator(
            cfg.z_dim, cfg.hidden, self.image_shape, num_classes, cfg.embed_dim, cfg.output, cfg.label_every_layer
        )

    def make_features(self, in_channels: int) -> tuple[nn.Module, int]:
        return mlp_features(in_channels * self.info.height * self.info.width, self.cfg.hidden, self.cfg.dropout)

    def init_weights(self, g: nn.Module, d: nn.Module) -> None:
        """PyTorch's default initialisation unless a family says otherwise."""

    # -- the game -------------------------------------------------------------
    @property
    def batches_per_step(self) -> int:
        return self.cfg.n_critic

    def train_step(self, images, labels, generator):
        cfg = self.cfg
        if self.conditional and labels is None:
            raise ConfigError("a conditional GAN needs labels; this data set has none")
        if images.shape[0] < cfg.n_critic:
            raise ConfigError(f"a step needs at least n_critic={cfg.n_critic} images, got {images.shape[0]}")
        xs = torch.tensor_split(images, cfg.n_critic)  # the trainer passes n_critic batches back to back
        ys = torch.tensor_split(labels, cfg.n_critic) if self.conditional else [None] * cfg.n_critic
        if any(x.shape[0] % cfg.pack for x in xs):
            raise ConfigError(f"the batch size ({xs[0].shape[0]}) must be a multiple of pack ({cfg.pack})")
        if cfg.lr_decay_steps:
            self._decay_learning_rates()
        metrics: dict[str, float] = {}
        for i, (x, y) in enumerate(zip(xs, ys)):
            fake, metrics = self._critic_step(x, y, generator, keep_graph=i == cfg.n_critic - 1)
        metrics.update(self._generator_step(fake, ys[-1], generator))
        if cfg.rejection == "drs":
            metrics["loss_drs"] = drs_critic_step(
                self.nets["drs_critic"], self.opts["drs_critic"], xs[-1], fake.detach()
            )
        if cfg.ema:
            ema_update_(self.nets["generator_ema"], self.nets["generator"], cfg.ema)
        self.step += 1
        return metrics

    def _critic_step(self, x, y, generator, *, keep_graph: bool):
        cfg, g, d = self.cfg, self.nets["generator"], self.nets["discriminator"]
        z = randn((x.shape[0], cfg.z_dim), generator, x.device)
        with torch.set_grad_enabled(keep_graph):  # the last fake batch is reused by the G step
            fake = g(z, y)
        real_in, fake_in = self._d_input(x, generator), self._d_input(fake.detach(), generator)
        real_s, fake_s = d(real_in, y), d(fake_in, y)
        t_real, t_fake = self._targets(real_s, generator)
        loss = discriminator_loss(real_s, fake_s, t_real, kind=cfg.loss, fake_target=t_fake)
        metrics = {"loss_d": loss.item()}
        if cfg.gp:
            eps = rand((x.shape[0],), generator, x.device)
            gp = gradient_penalty(lambda v: d(v, y), real_in, fake_in, eps)
            loss = loss + cfg.gp * gp
            metrics["gp"] = gp.item()
        if cfg.r1:
            r1 = r1_penalty(lambda v: d(v, y), real_in)
            loss = loss + cfg.r1 * r1
            metrics["r1"] = r1.item()
        self.opts["discriminator"].zero_grad(set_to_none=True)
        loss.backward()
        self.opts["discriminator"].step()
        if cfg.clip:
            clip_weights_(d, cfg.clip)
        if cfg.loss in BCE_LOSSES:
            metrics.update(d_real=torch.sigmoid(real_s).mean().item(), d_fake=torch.sigmoid(fake_s).mean().item())
        else:
            metrics.update(d_real=real_s.mean().item(), d_fake=fake_s.mean().item())
        if cfg.loss == "wasserstein":
            metrics["w_estimate"] = metrics["d_real"] - metrics["d_fake"]  # E D(x) - E D(G(z)), before the step
        return fake, metrics

    def _generator_step(self, fake, y, generator) -> dict[str, float]:
        d = self.nets["discriminator"]
        d.requires_grad_(False)  # G's step needs gradients w.r.t. the images only
        try:
            loss_g = generator_loss(d(self._d_input(fake, generator), y), self.cfg.loss)
            self.opts["generator"].zero_grad(set_to_none=True)
            loss_g.backward()
            self.opts["generator"].step()
        finally:
            d.requires_grad_(True)
        return {"loss_g": loss_g.item()}

    def _d_input(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """What D sees: DiffAugment, then instance noise with a linearly decaying std."""
        cfg = self.cfg
        if cfg.diffaug_policies:
            x = diff_augment(x, cfg.diffaug_policies, generator)
        if cfg.instance_noise:
            std = cfg.instance_noise * max(0.0, 1.0 - self.step / cfg.instance_noise_steps)
            if std > 0:
                x = x + std * randn(x.shape, generator, x.device)
        return x

    def _targets(self, scores: torch.Tensor, generator: torch.Generator):
        """Real/fake targets: one-sided smoothing of the real target, then random flips."""
        cfg = self.cfg
        real = torch.full_like(scores, 1.0 - cfg.label_smoothing)
        fake = torch.zeros_like(scores)
        if cfg.label_noise:
            flip_r = rand(scores.shape, generator, scores.device) < cfg.label_noise
            flip_f = rand(scores.shape, generator, scores.device) < cfg.label_noise
            real, fake = torch.where(flip_r, 0.0, real), torch.where(flip_f, 1.0, fake)
        return real, fake

    def _decay_learning_rates(self) -> None:
        """Linear decay to 0 over lr_decay_steps generator steps (then held at 0), times the
        group's ``lr_scale`` (the product of the trainer's rollback factors; 1 when none)."""
        frac = max(0.0, 1.0 - self.step / self.cfg.lr_decay_steps)
        for name, base in (("generator", self.cfg.lr), ("discriminator", self.cfg.d_lr)):
            for group in self.opts[name].param_groups:
                group["lr"] = base * frac * group.get("lr_scale", 1.0)

    def _optimizer(self, net: nn.Module, lr: float) -> torch.optim.Optimizer:
        if self.cfg.optimizer == "rmsprop":
            return torch.optim.RMSprop(net.parameters(), lr=lr)
        return torch.optim.Adam(net.parameters(), lr=lr, betas=(self.cfg.beta1, self.cfg.beta2))

    # -- sampling and state ----------------------------------------------------
    def draw_z(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """The latents ``sample`` feeds G, (n, z_dim): N(0, I), truncated to |z_i| <= ``z_truncation`` when set."""
        shape, device = (n, self.cfg.z_dim), self.device
        if self.cfg.z_truncation:
            return truncated_randn(shape, self.cfg.z_truncation, generator, device)
        return randn(shape, generator, device)

    @torch.no_grad()
    def sample(self, n, *, labels=None, generator):
        use_ema = self.cfg.ema and self.cfg.sample_ema
        g = self.nets["generator_ema" if use_ema else "generator"]
        device = self.device
        if self.conditional:
            labels = (torch.arange(n, device=device) % self.info.num_classes) if labels is None else labels.to(device)
        d = self.nets.get("drs_critic", self.nets["discriminator"])
        modes = g.training, d.training
        g.eval()
        try:
            if self.cfg.rejection == "drs":  # post-hoc: keep the samples the per-sample critic accepts
                d.eval()
                x, self.drs_acceptance = discriminator_rejection_sample(
                    lambda m, gen: g(self.draw_z(m, gen)),
                    d,
                    n,
                    generator=generator,
                    quantile=self.cfg.drs_quantile,
                )
            else:
                x = g(self.draw_z(n, generator), labels if self.conditional else None)
            return x.clamp(-1, 1) if self.bounded_output else x
        finally:
            g.train(modes[0])
            d.train(modes[1])


# Size presets keep one image's training cost within a few times small's at 28 (benchmarks/preset_cost.py).
MLP_GAN_PRESETS = {"small": {"hidden": 128}, "small-64": {"hidden": 64}}


@register(
    "gan",
    config=GANConfig,
    description="MLP GAN (Goodfellow et al. 2014); any loss and stabiliser via --set (see docs/gan.md); presets "
    "small (28, 32), small-64",
    presets=MLP_GAN_PRESETS,
    tiny={"z_dim": 4, "hidden": 8},
    shapes=ShapeSupport(SIZES),
)
class GAN(AdversarialFamily):
    pass


@register(
    "cgan",
    config=CGANConfig,
    description="Conditional MLP GAN (Mirza & Osindero 2014): label embedding into G, projection in D; presets "
    "small (28, 32), small-64",
    presets=MLP_GAN_PRESETS,
    tiny={"z_dim": 4, "hidden": 8, "embed_dim": 3},
    shapes=ShapeSupport(SIZES),
)
class CGAN(AdversarialFamily):
    pass
