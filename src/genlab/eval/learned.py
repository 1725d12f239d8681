"""A feature network trained on the reference data itself: FID without any external pre-trained network.

``genlab eval train-extractor --data PATH`` fits a small CNN (sized to the images: 28, 32 or 64
px and more, 1 or 3 channels) to the images of PATH:

- supervised (cross entropy) when the data has class labels;
- self-supervised otherwise (or with ``--self-supervised``): SimCLR (Chen et al. 2020). Two
  augmented views of each image (``genlab.eval.learned_augment``) go through the encoder and a
  small projection head; NT-Xent with temperature 0.5 pulls the two views together and pushes
  the other 2B - 2 images of the batch away. The projection head is discarded after training
  (its output throws away what the augmentations vary; the encoder's keeps more). Why SimCLR:
  it is the best-known contrastive method, and its in-batch negatives prevent collapse by
  themselves, so it needs none of the tricks (momentum encoders, predictors, stop-gradients,
  centring) that negative-free methods such as BYOL, SimSiam or DINO rely on and that are
  fragile at this tiny size and budget.

The features are the encoder's 128-d output (a linear layer, before any ReLU), standardised
per dimension by their mean and std over the training images (as the digit classifier's), so FID
reads in units of "training-set standard deviations squared". Seeded and deterministic on CPU.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genlab.data import Batcher, iterate_batches
from genlab.errors import ConfigError, DataError
from genlab.eval.features import random_shift
from genlab.eval.learned_augment import for_images, nt_xent, two_views

METHODS = ("supervised", "simclr")
STATS_IMAGES = 10_000  # the feature mean/std are measured on the first 10 000 training images
MIN_SIDE = 8


def data_hash(images: np.ndarray) -> str:
    """SHA-256 of a uint8 image array: its shape (as JSON) then its bytes in C order."""
    digest = hashlib.sha256(json.dumps([int(s) for s in images.shape]).encode())
    digest.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    return digest.hexdigest()


def downsamplings(height: int, width: int) -> int:
    """How many 2x max-pools bring the smaller side to at most 8 px: 28 -> 2 (7 px), 32 -> 2, 64 -> 3."""
    if min(height, width) < MIN_SIDE:
        raise DataError(f"images of {height}x{width} px are too small for a learned extractor (>= {MIN_SIDE} px)")
    steps, side = 0, min(height, width)
    while side > MIN_SIDE:
        side, steps = side // 2, steps + 1
    return steps


class FeatureNet(nn.Module):
    """Conv blocks (3x3 conv, batch norm, ReLU; max-pool per stage, width doubling up to 4x), then a linear
    layer to the features. Shapes: (B, C, H, W) in [-1, 1] -> (B, feature_dim)."""

    def __init__(self, input_shape: tuple[int, int, int], width: int = 32, feature_dim: int = 128) -> None:
        super().__init__()
        channels, height, width_px = input_shape
        self.input_shape, self.feature_dim = tuple(input_shape), feature_dim
        layers: list[nn.Module] = []
        c_in, c_out = channels, width
        for stage in range(downsamplings(height, width_px)):
            c_out = width * min(2**stage, 4)
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
            layers += [nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
            layers.append(nn.MaxPool2d(2))  # halves H and W (floor)
            c_in = c_out
        self.convs = nn.Sequential(*layers)
        side_h, side_w = height, width_px
        for _ in range(downsamplings(height, width_px)):
            side_h, side_w = side_h // 2, side_w // 2
        self.fc = nn.Linear(c_out * side_h * side_w, feature_dim)
        self.register_buffer("feature_mean", torch.zeros(feature_dim))
        self.register_buffer("feature_std", torch.ones(feature_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convs(x).flatten(1))  # (B, C', h, w) -> (B, C'*h*w) -> (B, feature_dim)

    def standardised(self, x: torch.Tensor) -> torch.Tensor:
        return (self(x) - self.feature_mean) / self.feature_std


def projection_head(feature_dim: int, out_dim: int = 64) -> nn.Module:
    """SimCLR's g(h): ReLU, linear, ReLU, linear (on the encoder's pre-activation output)."""
    return nn.Sequential(nn.ReLU(), nn.Linear(feature_dim, feature_dim), nn.ReLU(), nn.Linear(feature_dim, out_dim))


def classifier_head(feature_dim: int, num_classes: int) -> nn.Module:
    return nn.Sequential(nn.ReLU(), nn.Dropout(0.3), nn.Linear(feature_dim, num_classes))


@dataclass(frozen=True)
class LearnedTraining:
    method: str = "simclr"  # supervised | simclr
    epochs: int = 10
    steps: int = 0  # stop after this many steps instead (0 = all epochs)
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0
    temperature: float = 0.5  # NT-Xent's (SimCLR's CIFAR-10 setting)
    width: int = 16  # channels of the first stage, doubled per stage up to 4x
    feature_dim: int = 128
    max_shift: int = 2  # supervised augmentation: random shifts of up to this many px


def choose_method(labels: np.ndarray | None, self_supervised: bool) -> str:
    return "simclr" if self_supervised or labels is None else "supervised"


def check_training(opts: LearnedTraining, images: np.ndarray, labels: np.ndarray | None) -> None:
    """ConfigError/DataError for settings or data training cannot start from."""
    if opts.method not in METHODS:
        raise ConfigError(f"unknown method {opts.method!r}; use {' or '.join(METHODS)}")
    if opts.epochs < 1 or opts.steps < 0 or opts.batch_size < 2:
        raise ConfigError(
            f"need epochs >= 1, steps >= 0, batch size >= 2; got {opts.epochs}, {opts.steps}, {opts.batch_size}"
        )
    if images.ndim != 4 or images.dtype != np.uint8 or images.shape[1] not in (1, 3):
        raise DataError(
            f"a learned extractor trains on uint8 (N, 1 or 3, H, W) images, got {images.dtype} {images.shape}"
        )
    if images.shape[0] < opts.batch_size:
        raise DataError(f"the data holds {images.shape[0]} images, fewer than one batch of {opts.batch_size}")
    if opts.method == "supervised" and (labels is None or len(np.unique(labels)) < 2):
        raise DataError("supervised training needs labels of at least two classes; use --self-supervised")


def fit(
    opts: LearnedTraining,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    log: Callable[[str], None] = print,
) -> tuple[FeatureNet, list[float]]:
    """The optimisation alone: Adam with cosine decay, seeded (init, batches, augmentations), deterministic on
    CPU. Returns the encoder in eval mode (heads dropped) and the loss of every step."""
    check_training(opts, images, labels)
    shape = tuple(int(s) for s in images.shape[1:])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(opts.seed)
        net = FeatureNet(shape, opts.width, opts.feature_dim)  # type: ignore[arg-type]
        if opts.method == "supervised":
            num_classes = int(labels.max()) + 1  # type: ignore[union-attr]
            head = classifier_head(opts.feature_dim, num_classes)
        else:
            head = projection_head(opts.feature_dim)
        sup = labels if opts.method == "supervised" else None
        batcher = Batcher(images, sup, batch_size=opts.batch_size, seed=opts.seed, scale="-1,1")
        generator = torch.Generator().manual_seed(opts.seed)
        augment = for_images(shape[0])
        total = opts.steps or opts.epochs * batcher.steps_per_epoch
        params = list(net.parameters()) + list(head.parameters())
        opt = torch.optim.Adam(params, lr=opts.lr)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
        net.train(), head.train()
        losses: list[float] = []
        start = time.perf_counter()
        for step in range(1, total + 1):
            x, y = batcher.next_batch()
            if opts.method == "supervised":
                loss = F.cross_entropy(head(net(random_shift(x, opts.max_shift, generator))), y)
            else:
                v1, v2 = two_views(x, augment, generator)
                z = head(net(torch.cat([v1, v2])))  # (2B, 64)
                loss = nt_xent(z[: x.shape[0]], z[x.shape[0] :], opts.temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            if step % batcher.steps_per_epoch == 0 or step == total:
                log(f"step {step}/{total}: loss {loss.item():.4f}, {time.perf_counter() - start:.0f} s")
    return net.eval(), losses


@torch.no_grad()
def set_feature_statistics(net: FeatureNet, images: np.ndarray) -> None:
    """Store the per-dimension mean and std of the raw features over ``images`` in the network."""
    feats = torch.cat([net(x).double() for x, _ in iterate_batches(images, None, 500, scale="-1,1")])
    net.feature_mean.copy_(feats.mean(0).float())
    net.feature_std.copy_(feats.std(0).clamp_min(1e-6).float())


def train_learned(
    opts: LearnedTraining,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    description: str = "",
    log: Callable[[str], None] = print,
) -> tuple[FeatureNet, dict]:
    """:func:`fit`, then the feature statistics; returns the encoder and its manifest (without the weights hash,
    which saving adds)."""
    start = time.perf_counter()
    net, losses = fit(opts, images, labels, log)
    set_feature_statistics(net, images[:STATS_IMAGES])
    manifest = {
        "format": "genlab-learned-extractor",
        "version": 1,
        "data_sha256": data_hash(images),
        "data": description,
        "n_images": int(images.shape[0]),
        "input_shape": [int(s) for s in images.shape[1:]],
        "num_classes": int(labels.max()) + 1 if opts.method == "supervised" else 0,  # type: ignore[union-attr]
        **dataclasses.asdict(opts),
        "augmentation": dataclasses.asdict(for_images(images.shape[1])) if opts.method == "simclr" else {},
        "steps_run": len(losses),
        "first_loss": losses[0],
        "final_loss": float(np.mean(losses[-10:])),
        "train_seconds": time.perf_counter() - start,
        "threads": torch.get_num_threads(),
        "feature_mean": [round(float(v), 6) for v in net.feature_mean],
        "feature_std": [round(float(v), 6) for v in net.feature_std],
    }
    return net, manifest
