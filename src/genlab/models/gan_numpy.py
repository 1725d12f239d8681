"""``numpy-gan``: an MLP GAN in NumPy with hand-written backprop and Adam, for teaching.

G: z -> hidden -> ... -> C*H*W, LeakyReLU 0.2, tanh.  D: C*H*W -> hidden -> ... -> 1 logit,
LeakyReLU 0.2 (``layers`` hidden layers of width ``hidden`` in each). D minimises BCE on
logits, G the non-saturating -log D(G(z)) (Goodfellow et al. 2014); both use Adam with
beta1 = 0.5 (Radford et al. 2016). The maths is in :mod:`genlab.models.gan_numpy_layers`;
this module holds the config, the alternating step, a trainer for toy arrays and the
registered family.

Torch is only the envelope: the weights are NumPy float32 arrays that share their memory
with frozen ``nn.Parameter`` tensors, so the trainer, checkpoints and tests see the same
numbers; all noise is drawn with torch from the generator the trainer passes in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.models.base import Family
from genlab.models.gan_numpy_layers import (
    adam_init,
    adam_step,
    discriminator_loss_and_grads,
    generator_loss_and_grads,
    init_mlp,
    mlp_forward,
    sigmoid,
)
from genlab.models.gan_parts import ema_update_
from genlab.models.registry import register
from genlab.models.shapes import ShapeSupport

PLAYERS = ("generator", "discriminator")
DTYPE = np.float32  # training precision; the gradient checks run the same functions in float64


@dataclass(frozen=True)
class NumpyGANConfig:
    z_dim: int = 64
    hidden: int = 256  # width of every hidden layer of G and D
    layers: int = 2  # hidden layers in each player
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    ema: float = 0.0  # decay of an EMA copy of G's weights that sampling uses (e.g. 0.999); 0 off

    def check(self) -> None:
        if self.z_dim < 1 or self.hidden < 1 or self.layers < 1:
            raise ConfigError(
                f"z_dim, hidden and layers must be >= 1, got {self.z_dim}, {self.hidden} and {self.layers}"
            )
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}; try 2e-4")
        if not (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0):
            raise ConfigError(f"beta1 and beta2 must be in [0, 1), got {self.beta1} and {self.beta2}")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"ema must be in [0, 1) (0 = off), got {self.ema}")


def player_widths(cfg: NumpyGANConfig, data_dim: int) -> dict[str, list[int]]:
    """Layer widths of G (z_dim -> data_dim) and D (data_dim -> 1)."""
    hidden = [cfg.hidden] * cfg.layers
    return {"generator": [cfg.z_dim, *hidden, data_dim], "discriminator": [data_dim, *hidden, 1]}


def init_players(
    cfg: NumpyGANConfig, data_dim: int, rng: np.random.Generator, dtype: type = DTYPE
) -> dict[str, dict[str, np.ndarray]]:
    """Glorot-initialised parameters of both players, G first."""
    widths = player_widths(cfg, data_dim)
    return {name: init_mlp(widths[name], rng, dtype) for name in PLAYERS}


def gan_step(
    players: dict, adam: dict, real: np.ndarray, z: np.ndarray, cfg: NumpyGANConfig, lr: float | None = None
) -> dict[str, float]:
    """One alternating update, in place: D on (real, G(z)), then G on the same z through the updated D.

    Shapes: real (B, D) in [-1, 1], z (B, z_dim). ``players`` and ``adam`` map "generator" /
    "discriminator" to parameter dicts / Adam states; arrays are overwritten, never rebound,
    so views of them (the family's torch parameters) stay in sync. ``lr`` overrides ``cfg.lr``.
    """
    lr = cfg.lr if lr is None else lr
    g, d = players["generator"], players["discriminator"]
    fake, g_cache = mlp_forward(g, z, "tanh")  # (B, D)
    # 1. Discriminator: descend BCE(D(x), 1) + BCE(D(G(z)), 0).
    loss_d, d_grads, real_logits, fake_logits = discriminator_loss_and_grads(d, real, fake)
    _adam_in_place(d, d_grads, adam, "discriminator", cfg, lr)
    # 2. Generator: descend -log D(G(z)) through the updated D; G's forward pass is unchanged.
    loss_g, g_grads = generator_loss_and_grads(g, d, z, (fake, g_cache))
    _adam_in_place(g, g_grads, adam, "generator", cfg, lr)
    return {
        "loss_d": loss_d,
        "loss_g": loss_g,
        "d_real": float(sigmoid(real_logits).mean()),
        "d_fake": float(sigmoid(fake_logits).mean()),
    }


def _adam_in_place(
    params: dict[str, np.ndarray], grads: dict[str, np.ndarray], adam: dict, name: str, cfg: NumpyGANConfig, lr: float
) -> None:
    new, adam[name] = adam_step(params, grads, adam[name], lr, cfg.beta1, cfg.beta2)
    for k, p in params.items():
        p[...] = new[k]


def fit_samples(
    data: np.ndarray,
    cfg: NumpyGANConfig,
    *,
    steps: int,
    batch_size: int = 128,
    seed: int = 0,
    cosine_decay: bool = True,
    dtype: type = DTYPE,
) -> tuple[dict[str, dict[str, np.ndarray]], np.ndarray]:
    """Train a GAN on the rows of ``data`` (N, D), scaled to about [-1, 1]; for toy data such as 1-D mixtures.

    All randomness (init, minibatch indices, z) comes from ``np.random.default_rng(seed)``.
    ``cosine_decay`` anneals lr from ``cfg.lr`` to 0 (Loshchilov & Hutter 2017): at a constant
    lr the two players keep circling the equilibrium and the modes drift.
    Returns (players, losses (steps, 2) with columns loss_d, loss_g).
    """
    cfg.check()
    data = np.asarray(data, dtype=dtype)
    if data.ndim != 2 or data.shape[0] < 1:
        raise ConfigError(f"data must have shape (N, D) with N >= 1, got {data.shape}")
    if steps < 1 or batch_size < 1:
        raise ConfigError(f"steps and batch_size must be >= 1, got {steps} and {batch_size}")
    rng = np.random.default_rng(seed)
    players = init_players(cfg, data.shape[1], rng, dtype)
    adam = {name: adam_init(players[name]) for name in PLAYERS}
    losses = np.empty((steps, 2))
    for i in range(steps):
        real = data[rng.integers(0, data.shape[0], size=batch_size)]  # (B, D)
        z = rng.standard_normal((batch_size, cfg.z_dim)).astype(dtype)  # (B, z_dim)
        lr = cfg.lr * 0.5 * (1.0 + math.cos(math.pi * i / steps)) if cosine_decay else cfg.lr
        m = gan_step(players, adam, real, z, cfg, lr)
        losses[i] = m["loss_d"], m["loss_g"]
    return players, losses


def generate(g_params: dict[str, np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """n samples of G with z ~ N(0, I) drawn from ``rng``. Shapes: -> (n, D), in [-1, 1]."""
    z = rng.standard_normal((n, g_params["W1"].shape[0])).astype(g_params["W1"].dtype)
    return mlp_forward(g_params, z, "tanh")[0]


class ArrayParams(nn.Module):
    """NumPy arrays shown to torch as frozen ``nn.Parameter`` s that share their memory."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        super().__init__()
        for name, a in arrays.items():
            self.register_parameter(name, nn.Parameter(torch.from_numpy(a), requires_grad=False))

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """Writable NumPy views of the parameters (the same memory)."""
        return {name: p.data.numpy() for name, p in self.named_parameters()}


@register(
    "numpy-gan",
    config=NumpyGANConfig,
    description="MLP GAN in NumPy with hand-written backprop and Adam (teaching); --set hidden=, layers=, ema=",
    presets={"small": {"z_dim": 64, "hidden": 256, "layers": 2}},
    tiny={"z_dim": 4, "hidden": 8, "layers": 1},
    shapes=ShapeSupport((28,), (1,), task="the NumPy teaching GAN on MNIST, --dataset mnist; gan takes other sizes"),
)
class NumpyGAN(Family):
    """The NumPy GAN as a genlab family; ``self.opts`` stays empty, Adam's state is in ``self.adam``."""

    kind = "gan"

    device_types = ("cpu",)  # NumPy arrays share the parameters' memory: CPU by design
    trains_in_torch = False

    def __init__(self, cfg: NumpyGANConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        cfg.check()
        # The build draws from torch's global RNG (seeded by the trainer) and nothing else.
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))
        players = init_players(cfg, math.prod(self.image_shape), rng)
        self.nets = {name: ArrayParams(players[name]) for name in PLAYERS}
        if cfg.ema:  # its own memory: ema <- decay * ema + (1 - decay) * G after every step, as in the torch GANs
            self.nets["generator_ema"] = ArrayParams({k: a.copy() for k, a in players["generator"].items()})
        self.adam = {name: adam_init(players[name]) for name in PLAYERS}

    def players(self) -> dict[str, dict[str, np.ndarray]]:
        return {name: self.nets[name].arrays for name in PLAYERS}

    def train_step(self, images, labels, generator):
        b = images.shape[0]
        real = images.reshape(b, -1).numpy().astype(DTYPE, copy=False)  # (B, C, H, W) -> (B, C*H*W)
        z = torch.randn(b, self.cfg.z_dim, generator=generator).numpy()  # (B, z_dim) float32
        metrics = gan_step(self.players(), self.adam, real, z, self.cfg)
        if self.cfg.ema:
            ema_update_(self.nets["generator_ema"], self.nets["generator"], self.cfg.ema)
        return metrics

    def sample(self, n, *, labels=None, generator):
        z = torch.randn(n, self.cfg.z_dim, generator=generator).numpy()  # (n, z_dim)
        g = self.nets["generator_ema" if self.cfg.ema else "generator"]
        x, _ = mlp_forward(g.arrays, z, "tanh")  # (n, C*H*W)
        return torch.from_numpy(x.reshape(n, *self.image_shape)).clamp_(-1, 1)

    def state_dict(self):
        adam = {
            name: {"step": s["step"], "m": _to_torch(s["m"]), "v": _to_torch(s["v"])} for name, s in self.adam.items()
        }
        return {"nets": {k: net.state_dict() for k, net in self.nets.items()}, "adam": adam}

    def load_state_dict(self, state, *, weights_only=False):
        for k, net in self.nets.items():
            net.load_state_dict(state["nets"][k])  # copies into the shared memory
        if not weights_only:
            for name in PLAYERS:
                s = state["adam"][name]
                self.adam[name] = {"step": int(s["step"]), "m": _to_numpy(s["m"]), "v": _to_numpy(s["v"])}


def _to_torch(arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(a.copy()) for k, a in arrays.items()}


def _to_numpy(tensors: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {k: t.numpy().astype(DTYPE, copy=True) for k, t in tensors.items()}
