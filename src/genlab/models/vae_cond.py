"""``cvae``: the conditional VAE (Sohn et al. 2015; Kingma et al. 2014's M2 decoder without its classifier).

The encoder q(z | x, y) sees the image and the one-hot label, the decoder p(x | z, y) sees
the latent and the one-hot label, and the prior stays N(0, I). Since the label carries the
class, z is free to carry style: ``sample(n, labels=...)`` draws digits of the given
classes. ``arch=mlp`` uses the MLP networks of ``vae``, ``arch=conv`` those of ``conv-vae``
(the label joins at their fully connected layers). ``--set sample_prior=class-gmm`` draws
z for label y from a mixture fitted to the posterior means of training images of y
(``models/vae_prior.py``), so z and the label agree even where z has learned part of the class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import nn

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.models.registry import register
from genlab.models.shapes import SIZES, ShapeSupport
from genlab.models.vae import MLPDecoder, MLPEncoder, VAEFamily, VAEOptions
from genlab.models.vae_conv import ConvDecoder, ConvEncoder


@dataclass(frozen=True)
class CVAEConfig(VAEOptions):
    arch: Literal["mlp", "conv"] = "mlp"
    hidden: int = 400  # MLP hidden units, or the conv nets' fully connected units
    hidden_layers: int = 1  # arch=mlp: hidden layers in the encoder and in the decoder
    width: int = 32  # arch=conv: channels after the first convolution

    def check(self) -> None:
        super().check()
        if self.hidden < 1 or self.hidden_layers < 1 or self.width < 1:
            raise ConfigError(
                f"hidden, hidden_layers and width must be >= 1, got {self.hidden}, {self.hidden_layers} and "
                f"{self.width}"
            )


@register(
    "cvae",
    config=CVAEConfig,
    description="Conditional VAE: encoder and decoder both get the one-hot label; --set arch=mlp|conv; sample "
    "--labels 7",
    presets={
        "small": {"hidden": 256},
        "binarized": {"hidden": 500, "hidden_layers": 2, "latent_dim": 20, "binarize": "dynamic"},
    },
    tiny={"hidden": 8, "latent_dim": 2},
    shapes=ShapeSupport(SIZES),
)
class CVAE(VAEFamily):
    def __init__(self, cfg: CVAEConfig, info: DataInfo) -> None:
        super().__init__(cfg, info, conditional=True)

    def make_networks(self, cfg: CVAEConfig, info: DataInfo, cond_dim: int) -> tuple[nn.Module, nn.Module]:
        if cfg.arch == "conv":
            return ConvEncoder(info, cfg.width, cfg.hidden, cfg.latent_dim, cond_dim), ConvDecoder(
                info, cfg.width, cfg.hidden, cfg.latent_dim, cond_dim
            )
        d_in = info.channels * info.height * info.width
        encoder = MLPEncoder(d_in, cfg.hidden, cfg.latent_dim, cfg.hidden_layers, cond_dim)
        decoder = MLPDecoder(cfg.latent_dim, cfg.hidden, self.image_shape, cfg.hidden_layers, cond_dim)
        return encoder, decoder

    def likelihood_classes(self) -> int:
        """K: ``encode`` and ``log_px_given_z`` take any label 0..K-1 (genlab.models.base.ClassLikelihood)."""
        return self.info.num_classes
