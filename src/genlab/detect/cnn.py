"""A small CNN that tells real from generated images, and its seeded training loop.

No pooling before the first stride, so pixel-level traces (checkerboards from
transposed convolutions, missing fine detail) reach the second layer; a global average
pool at the end makes the decision about texture everywhere, not about where a digit is.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import expit
from torch import nn

from genlab.detect.data import labelled
from genlab.errors import ConfigError


@dataclass(frozen=True)
class CNNConfig:
    """Width of the first layer, batch norm on or off, and the optimisation (Adam, cosine decay to 0)."""

    width: int = 16
    batch_norm: bool = True
    epochs: int = 4
    batch_size: int = 64
    lr: float = 2e-3

    def check(self) -> None:
        for name in ("width", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")


class DetectorCNN(nn.Module):
    """Three 3x3 conv layers with batch norm, global average pool, one logit.

    Shapes: (B, C, H, W) in [-1, 1] -> (B,). Batch norm rescales the faint pixel-level
    differences (a grey level or two in the background) the first layer sees; the
    benchmark trains the net without it too (docs/results/detector.md, "ablation").
    """

    def __init__(self, channels: int = 1, width: int = 16, batch_norm: bool = True) -> None:
        super().__init__()

        def block(a: int, b: int, stride: int) -> list[nn.Module]:
            if not batch_norm:
                return [nn.Conv2d(a, b, 3, stride=stride, padding=1), nn.LeakyReLU(0.2)]
            return [nn.Conv2d(a, b, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2)]

        self.convs = nn.Sequential(
            *block(channels, width, 1),  # -> (B, w, H, W)
            *block(width, 2 * width, 2),  # -> (B, 2w, H/2, W/2)
            *block(2 * width, 2 * width, 2),  # -> (B, 2w, H/4, W/4)
        )
        self.head = nn.Linear(2 * width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(x).mean(dim=(2, 3))).squeeze(1)  # (B, 2w) -> (B,)


def to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 (N, C, H, W) in [-1, 1]."""
    return (
        torch.from_numpy(np.array(images, dtype=np.float32)).div_(127.5).sub_(1.0)
    )  # a copy: the input may be read-only


@dataclass
class CNNDetector:
    """p(generated | x) = sigmoid(DetectorCNN(x))."""

    image_shape: tuple[int, int, int]
    cfg: CNNConfig
    net: DetectorCNN
    kind = "cnn"

    @torch.no_grad()
    def logits(self, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """log-odds of "generated". Shapes: uint8 (N, C, H, W) -> float64 (N,)."""
        self.net.eval()
        parts = [self.net(to_input(images[i : i + batch_size])) for i in range(0, images.shape[0], batch_size)]
        return torch.cat(parts).double().numpy()

    def score(self, images: np.ndarray) -> np.ndarray:
        """Probability that each image is generated. Shapes: uint8 (N, C, H, W) -> float64 (N,)."""
        return expit(self.logits(images))

    def state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    @classmethod
    def from_state(
        cls, image_shape: tuple[int, int, int], settings: dict, state: dict[str, torch.Tensor]
    ) -> "CNNDetector":
        """Inverse of :meth:`state`; ``settings`` are the CNNConfig fields it was trained with."""
        cfg = CNNConfig(**settings)
        net = DetectorCNN(image_shape[0], cfg.width, cfg.batch_norm)
        net.load_state_dict(state)
        return cls(image_shape, cfg, net.eval())


def fit_cnn(
    real: np.ndarray,
    fake: np.ndarray,
    cfg: CNNConfig = CNNConfig(),
    *,
    seed: int = 0,
    log: Callable[[str], None] = lambda _: None,
) -> CNNDetector:
    """Train on uint8 real and generated images (N, C, H, W); deterministic for a seed on CPU.

    Binary cross-entropy with the positive class weighted by N_real / N_fake, so unequal
    set sizes do not shift the decision.
    """
    cfg.check()
    images, labels = labelled(real, fake)
    x_all, y_all = to_input(images), torch.from_numpy(labels).float()
    pos_weight = torch.tensor(real.shape[0] / fake.shape[0])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = DetectorCNN(images.shape[1], cfg.width, cfg.batch_norm)
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = math.ceil(x_all.shape[0] / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    # Cosine decay to 0 over the run (Loshchilov & Hutter 2017).
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    start = time.perf_counter()
    net.train()
    for epoch in range(1, cfg.epochs + 1):
        order = torch.randperm(x_all.shape[0], generator=generator)
        for i in range(0, order.numel(), cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            loss = F.binary_cross_entropy_with_logits(net(x_all[idx]), y_all[idx], pos_weight=pos_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        log(f"epoch {epoch}/{cfg.epochs}: loss {loss.item():.4f}, {time.perf_counter() - start:.0f} s")
    return CNNDetector(tuple(int(s) for s in images.shape[1:]), cfg, net.eval())  # type: ignore[arg-type]
