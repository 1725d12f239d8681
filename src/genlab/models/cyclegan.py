"""``cyclegan``: unpaired image-to-image translation with cycle consistency (Zhu et al. 2017).

Two ResNet generators G_AB: A -> B and G_BA: B -> A (:mod:`genlab.nn.resnet_translate`),
two unconditional PatchGAN discriminators D_A, D_B with InstanceNorm (depth scaled to the
image size as in ``pix2pix``). Loss (eq. 3 plus section 5.2's identity term):

    L_G = (D_B(G_AB(a)) - 1)^2 + (D_A(G_BA(b)) - 1)^2              least squares (Mao et al. 2017)
        + lambda (|G_BA(G_AB(a)) - a|_1 + |G_AB(G_BA(b)) - b|_1)     cycle consistency, lambda = 10
        + 0.5 lambda (|G_AB(b) - b|_1 + |G_BA(a) - a|_1)             identity
    L_D_X = 1/2 [(D_X(x) - 1)^2 + D_X(x_fake)^2]                    for X in {A, B}

where x_fake comes from a history pool of the last 50 generated images of that domain
(:class:`~genlab.models.translate_parts.ImagePool`, saved in checkpoints). Adam 2e-4,
betas (0.5, 0.999), one optimiser for both generators and one for both discriminators.

Data: an unpaired translation set (:mod:`genlab.data.translation`), or your own two domain
folders (``--data PATH``: A/ and B/, or trainA/ trainB/ testA/ testB/): an A image left and an
unrelated B image right. ``sample`` translates held-out images in ``direction`` and keeps
the data's layout, A left and B right: [a | G_AB(a)] for a2b, [G_BA(b) | b] for b2a.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch

from genlab.data import DataInfo
from genlab.data.translation import join_pair, split_pair
from genlab.errors import ConfigError
from genlab.math.gan import discriminator_loss
from genlab.models.registry import register
from genlab.models.translate_parts import (
    ImagePool,
    TranslationFamily,
    check_translation_set,
    held_out_images,
    translation_shapes,
    unit,
)
from genlab.nn.patchgan import PatchDiscriminator, init_normal_, patch_layers_for
from genlab.nn.resnet_translate import ResnetGenerator


@dataclass(frozen=True)
class CycleGANConfig:
    domains: str = "digits-thickness"  # unpaired set whose held-out images `sample` translates (own data: not used)
    base_channels: int = 32  # generator widths b, 2b, 4b
    n_blocks: int = 6  # residual blocks (6 for 128 x 128 in the paper)
    d_base_channels: int = 32
    patch_layers: int = -1  # PatchGAN stride-2 layers; -1 scales the paper's 70/256 patch to the image size
    cycle_weight: float = 10.0  # lambda
    identity_weight: float = 0.5  # identity loss weight as a fraction of lambda (0.5 -> 0.5 lambda)
    pool_size: int = 50  # generated images each discriminator's history pool keeps
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    direction: Literal["a2b", "b2a"] = "a2b"  # what `sample` translates (a sampling-time --set)
    test_scores: bool = True  # score cycle reconstruction on the test split at every sample grid; false skips it

    def check(self) -> None:
        if min(self.base_channels, self.d_base_channels) < 1 or self.n_blocks < 0 or self.pool_size < 0:
            raise ConfigError("base_channels, d_base_channels must be >= 1, n_blocks and pool_size >= 0")
        if self.patch_layers < -1:
            raise ConfigError(f"patch_layers must be >= 0, or -1 for the size-scaled default; got {self.patch_layers}")
        if self.cycle_weight < 0 or self.identity_weight < 0:
            raise ConfigError(
                f"cycle_weight and identity_weight must be >= 0, got {self.cycle_weight} and {self.identity_weight}"
            )
        if self.lr <= 0 or not (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0):
            raise ConfigError(f"need lr > 0 and betas in [0, 1), got lr={self.lr}, betas=({self.beta1}, {self.beta2})")
        if self.direction not in ("a2b", "b2a"):
            raise ConfigError(f"direction must be a2b or b2a, got {self.direction!r}")


@register(
    "cyclegan",
    config=CycleGANConfig,
    description="CycleGAN (Zhu et al. 2017): two ResNet generators, two PatchGANs, least squares, cycle 10, identity "
    "5, pool of 50",
    presets={"small": {"base_channels": 16, "n_blocks": 3, "d_base_channels": 16}},
    tiny={"base_channels": 2, "n_blocks": 1, "d_base_channels": 2, "pool_size": 4, "test_scores": False},
    dataset="digits-thickness",
    example_shape=(1, 28, 56),
    shapes=translation_shapes("unpaired", "digits-thickness"),
)
class CycleGAN(TranslationFamily):
    kind = "translation"
    pairing = "unpaired"
    monitor_losses = False  # least-squares losses: the BCE collapse/explosion thresholds do not apply

    def __init__(self, cfg: CycleGANConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        cfg.check()
        check_translation_set(cfg.domains, info, "cyclegan", "domains", "unpaired")
        c, h, w = info.channels, info.height, info.width // 2
        if h % 4 or w % 4:
            raise ConfigError(f"cyclegan's generators halve the image twice: need sides divisible by 4, got {h}x{w}")
        self.patch_layers = patch_layers_for(min(h, w)) if cfg.patch_layers == -1 else cfg.patch_layers
        self.nets = {
            "g_ab": ResnetGenerator(c, cfg.base_channels, cfg.n_blocks),
            "g_ba": ResnetGenerator(c, cfg.base_channels, cfg.n_blocks),
            "d_a": PatchDiscriminator(c, cfg.d_base_channels, self.patch_layers, norm="instance"),
            "d_b": PatchDiscriminator(c, cfg.d_base_channels, self.patch_layers, norm="instance"),
        }
        for net in self.nets.values():
            init_normal_(net)
        betas = (cfg.beta1, cfg.beta2)
        g_params = [*self.nets["g_ab"].parameters(), *self.nets["g_ba"].parameters()]
        d_params = [*self.nets["d_a"].parameters(), *self.nets["d_b"].parameters()]
        self.opts = {
            "generators": torch.optim.Adam(g_params, lr=cfg.lr, betas=betas),
            "discriminators": torch.optim.Adam(d_params, lr=cfg.lr, betas=betas),
        }
        self.pools = {"a": ImagePool(cfg.pool_size, (c, h, w)), "b": ImagePool(cfg.pool_size, (c, h, w))}

    def train_step(self, images, labels, generator):
        cfg, n = self.cfg, self.nets
        a, b = split_pair(images)  # (B, C, H, 2W) -> unrelated A and B images (B, C, H, W)
        lam, lam_id = cfg.cycle_weight, cfg.identity_weight * cfg.cycle_weight
        # 1. Generators, with both discriminators frozen.
        fake_b, fake_a = n["g_ab"](a), n["g_ba"](b)
        rec_a, rec_b = n["g_ba"](fake_b), n["g_ab"](fake_a)
        for d in (n["d_a"], n["d_b"]):
            d.requires_grad_(False)
        try:
            adv_ab = (n["d_b"](fake_b) - 1).square().mean()  # Zhu et al. 2017 use (D - 1)^2, without LSGAN's 1/2
            adv_ba = (n["d_a"](fake_a) - 1).square().mean()
        finally:
            for d in (n["d_a"], n["d_b"]):
                d.requires_grad_(True)
        cycle = (rec_a - a).abs().mean() + (rec_b - b).abs().mean()
        identity = (
            (n["g_ab"](b) - b).abs().mean() + (n["g_ba"](a) - a).abs().mean()
            if lam_id
            else torch.zeros((), device=a.device)
        )
        self.opts["generators"].zero_grad(set_to_none=True)
        (adv_ab + adv_ba + lam * cycle + lam_id * identity).backward()
        self.opts["generators"].step()
        # 2. Discriminators: reals against fakes drawn through each domain's history pool.
        pool_b, pool_a = (
            self.pools["b"].query(fake_b.detach(), generator),
            self.pools["a"].query(fake_a.detach(), generator),
        )
        loss_d_b = discriminator_loss(n["d_b"](b), n["d_b"](pool_b), kind="least-squares")
        loss_d_a = discriminator_loss(n["d_a"](a), n["d_a"](pool_a), kind="least-squares")
        self.opts["discriminators"].zero_grad(set_to_none=True)
        (loss_d_a + loss_d_b).backward()
        self.opts["discriminators"].step()
        self.step += 1
        return {
            "loss_g_ab": adv_ab.item(),
            "loss_g_ba": adv_ba.item(),
            "loss_cycle": cycle.item(),  # both directions, [-1, 1] scale
            "loss_identity": identity.item(),
            "loss_d_a": loss_d_a.item(),
            "loss_d_b": loss_d_b.item(),
        }

    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: Literal["a2b", "b2a"]) -> torch.Tensor:
        """G_AB(images) or G_BA(images). Shapes: (B, C, H, W) in [-1, 1] -> same."""
        g = self.nets["g_ab" if direction == "a2b" else "g_ba"]
        mode = g.training
        g.eval()
        try:
            return g(images)
        finally:
            g.train(mode)

    @torch.no_grad()
    def sample(self, n, *, labels=None, generator):
        """``n`` held-out images drawn with ``generator``, translated in ``direction``; A left, B right: (n, C, H,
        2W)."""
        if self.cfg.direction == "a2b":
            a = held_out_images(self.cfg.domains, "a", n, generator, self.info).to(self.device)
            return join_pair(a, self.translate(a, "a2b"))
        b = held_out_images(self.cfg.domains, "b", n, generator, self.info).to(self.device)
        return join_pair(self.translate(b, "b2a"), b)

    def translate_a(self, inputs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.translate(inputs, "a2b")

    @torch.no_grad()
    def evaluate(self, images, labels):
        """Summed per-image cycle reconstruction L1 on the [0, 1] scale: A -> B -> A and B -> A -> B."""
        if not self.cfg.test_scores:
            return {}
        a, b = split_pair(images)
        rec_a = self.translate(self.translate(a, "a2b"), "b2a")
        rec_b = self.translate(self.translate(b, "b2a"), "a2b")
        return {
            "cycle_l1_a": (unit(rec_a) - unit(a)).abs().flatten(1).mean(1).sum().item(),
            "cycle_l1_b": (unit(rec_b) - unit(b)).abs().flatten(1).mean(1).sum().item(),
        }

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "pools": {k: pool.state_dict() for k, pool in self.pools.items()}}

    def load_state_dict(self, state: dict[str, Any], *, weights_only: bool = False) -> None:
        super().load_state_dict(state, weights_only=weights_only)
        if not weights_only:  # the pools are training state; sampling does not need them
            for k, pool in self.pools.items():
                pool.load_state_dict(state["pools"][k])
