"""``pix2pix``: paired image-to-image translation with a conditional GAN (Isola et al. 2017).

Generator: the U-Net of :mod:`genlab.nn.unet_translate` (skip connections, dropout as its
only noise, on at training and test time). Discriminator: the PatchGAN of
:mod:`genlab.nn.patchgan`, conditioned on the input by stacking input and output on
channels; by default its depth is scaled so the patch covers the fraction of the image
the paper's 70 x 70 patch covers of 256 x 256 (28 x 28 -> a 7 x 7 patch, ``patch_layers=0``).
Loss (eq. 4): G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G), lambda = 100, the
non-saturating G loss, D's objective halved (section 3.3); Adam 2e-4, betas (0.5, 0.999).
``adversarial=false`` is the paper's L1-only ablation: the same U-Net and no D at all.
``arch=mobile`` swaps the generator for a depthwise-separable U-Net sized for a real-time
filter on two CPU cores (:class:`~genlab.nn.unet_translate.MobileTranslationUNet`, no dropout;
``base_channels`` 8 and ``depth`` 6 on the 256 x 256 ``shapes-edges256`` set: docs/results/deploy.md).

Data: a paired translation set (:mod:`genlab.data.translation`), or your own aligned pairs
(``--data PATH``: A/ and B/ folders, or side-by-side images): input A left, target B right.
``sample`` translates held-out inputs and returns them side by side with the
outputs, [input | output], in the layout of the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from genlab.data import DataInfo
from genlab.data.translation import join_pair, split_pair
from genlab.errors import ConfigError
from genlab.math.gan import discriminator_loss, generator_loss
from genlab.models.registry import register
from genlab.models.translate_parts import (
    TranslationFamily,
    check_translation_set,
    held_out_images,
    translation_scores,
    translation_shapes,
)
from genlab.nn.patchgan import PatchDiscriminator, init_normal_, patch_layers_for
from genlab.nn.unet_translate import MobileTranslationUNet, TranslationUNet

EVAL_DROPOUT_SEED = 0  # evaluate() draws its dropout masks from this fixed seed: same model, same scores


@dataclass(frozen=True)
class Pix2PixConfig:
    pairs: str = "digits-outline"  # paired set whose held-out inputs `sample` translates (own data: not used)
    arch: Literal["unet", "mobile"] = "unet"  # mobile: depthwise-separable U-Net for a real-time filter, no dropout
    base_channels: int = 32  # U-Net widths b, 2b, 4b, 8b, 8b, ...
    depth: int = 5  # U-Net levels; the image is padded to a multiple of 2^depth (28 -> 32 -> 1 x 1)
    dropout: float = 0.5  # on the innermost three decoder layers
    sample_dropout: bool = True  # keep dropout on when translating (the paper's test-time noise)
    d_base_channels: int = 32  # PatchGAN widths b, 2b, 4b, ...
    patch_layers: int = -1  # PatchGAN stride-2 layers; -1 scales the paper's 70/256 patch to the image size
    l1_weight: float = 100.0  # lambda
    adversarial: bool = True  # false: L1 only (the ablation), no discriminator
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    test_scores: bool = True  # score the test split (L1, PSNR, SSIM) at every sample grid; false skips it (fast tests)

    def check(self) -> None:
        if self.base_channels < 1 or self.d_base_channels < 1 or self.depth < 1:
            raise ConfigError(
                f"base_channels, d_base_channels and depth must be >= 1, got {self.base_channels}, "
                f"{self.d_base_channels}, {self.depth}"
            )
        if self.arch not in ("unet", "mobile"):
            raise ConfigError(f"arch must be unet or mobile, got {self.arch!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.patch_layers < -1:
            raise ConfigError(f"patch_layers must be >= 0, or -1 for the size-scaled default; got {self.patch_layers}")
        if self.l1_weight < 0 or (not self.adversarial and self.l1_weight == 0):
            raise ConfigError(f"l1_weight must be >= 0 (and > 0 without the adversarial loss), got {self.l1_weight}")
        if self.lr <= 0 or not (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0):
            raise ConfigError(f"need lr > 0 and betas in [0, 1), got lr={self.lr}, betas=({self.beta1}, {self.beta2})")


@register(
    "pix2pix",
    config=Pix2PixConfig,
    description="Pix2Pix (Isola et al. 2017): U-Net + input-conditioned PatchGAN, cGAN + 100 L1, on paired sets "
    "(adversarial=false: L1 only)",
    presets={
        "small": {"base_channels": 16, "d_base_channels": 16},
        # the real-time filter of docs/results/deploy.md: --dataset shapes-edges256 --preset mobile
        "mobile": {"arch": "mobile", "pairs": "shapes-edges256", "base_channels": 8, "depth": 6, "d_base_channels": 8},
    },
    tiny={"base_channels": 4, "depth": 2, "d_base_channels": 4, "test_scores": False},
    dataset="digits-outline",
    example_shape=(1, 28, 56),
    shapes=translation_shapes("paired", "digits-outline"),
)
class Pix2Pix(TranslationFamily):
    kind = "translation"
    pairing = "paired"

    def __init__(self, cfg: Pix2PixConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        cfg.check()
        check_translation_set(cfg.pairs, info, "pix2pix", "pairs", "paired")
        c, h = info.channels, info.height
        self.patch_layers = patch_layers_for(min(h, info.width // 2)) if cfg.patch_layers == -1 else cfg.patch_layers
        if cfg.arch == "mobile":
            g: torch.nn.Module = MobileTranslationUNet(c, c, cfg.base_channels, cfg.depth)
        else:
            g = TranslationUNet(c, c, cfg.base_channels, cfg.depth, cfg.dropout)
        init_normal_(g)
        self.nets = {"generator": g}
        self.opts = {"generator": self._adam(g)}
        if cfg.adversarial:
            d = PatchDiscriminator(2 * c, cfg.d_base_channels, self.patch_layers, norm="batch")  # sees [input, output]
            init_normal_(d)
            self.nets["discriminator"] = d
            self.opts["discriminator"] = self._adam(d)
        self.monitor_losses = cfg.adversarial

    def _adam(self, net: torch.nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(net.parameters(), lr=self.cfg.lr, betas=(self.cfg.beta1, self.cfg.beta2))

    @property
    def receptive_field(self) -> int:
        """Side in pixels of the patch each of D's logits judges (0 without a discriminator)."""
        d = self.nets.get("discriminator")
        return d.receptive_field if d is not None else 0

    def train_step(self, images, labels, generator):
        cfg, g = self.cfg, self.nets["generator"]
        x, y = split_pair(images)  # (B, C, H, 2W) -> input, target (B, C, H, W)
        fake = g(x, generator)  # dropout masks from the trainer's generator
        metrics: dict[str, float] = {}
        loss_g = torch.zeros((), device=x.device)
        if cfg.adversarial:
            d = self.nets["discriminator"]
            # 1. D step on (input, target) vs (input, G(input)), objective halved (section 3.3).
            real_s, fake_s = d(torch.cat([x, y], 1)), d(torch.cat([x, fake.detach()], 1))
            loss_d = 0.5 * discriminator_loss(real_s, fake_s, kind="non-saturating")
            self.opts["discriminator"].zero_grad(set_to_none=True)
            loss_d.backward()
            self.opts["discriminator"].step()
            # 2. G's adversarial term against the updated D (only the images need gradients).
            d.requires_grad_(False)
            try:
                loss_g = generator_loss(d(torch.cat([x, fake], 1)), "non-saturating")
            finally:
                d.requires_grad_(True)
            metrics.update(
                loss_d=loss_d.item(),
                loss_g=loss_g.item(),
                d_real=torch.sigmoid(real_s).mean().item(),
                d_fake=torch.sigmoid(fake_s).mean().item(),
            )
        # 3. G step on L_cGAN + lambda * L1 (eq. 4).
        loss_l1 = (fake - y).abs().mean()
        self.opts["generator"].zero_grad(set_to_none=True)
        (loss_g + cfg.l1_weight * loss_l1).backward()
        self.opts["generator"].step()
        metrics["loss_l1"] = loss_l1.item()  # on the [-1, 1] scale of training
        self.step += 1
        return metrics

    @torch.no_grad()
    def translate(self, inputs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """G(inputs) in eval mode (BatchNorm running statistics); dropout masks from ``generator``
        when ``sample_dropout`` (None: no dropout). Shapes: (B, C, H, W) -> (B, C, H, W) in [-1, 1]."""
        g = self.nets["generator"]
        mode = g.training
        g.eval()
        try:
            return g(inputs, generator if self.cfg.sample_dropout else None)
        finally:
            g.train(mode)

    @torch.no_grad()
    def sample(self, n, *, labels=None, generator):
        """``n`` held-out inputs drawn with ``generator``, translated: [input | output], (n, C, H, 2W)."""
        inputs = held_out_images(self.cfg.pairs, "a", n, generator, self.info).to(self.device)
        return join_pair(inputs, self.translate(inputs, generator))

    def translate_a(self, inputs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.translate(inputs, generator)

    @torch.no_grad()
    def evaluate(self, images, labels):
        """Summed per-image L1, PSNR and SSIM of the translations against the true targets ([0, 1] scale)."""
        if not self.cfg.test_scores:
            return {}
        x, y = split_pair(images)
        return translation_scores(self.translate(x, torch.Generator().manual_seed(EVAL_DROPOUT_SEED)), y)
