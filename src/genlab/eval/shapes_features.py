"""The shapes64 classifier we own: features for FID/KID/PRDC on 64x64 RGB ornament images.

The ``digits`` extractor's twin for :mod:`genlab.data.shapes64`. One small CNN predicts all
seven factors (motif, hue, background, x, y, size, count), one softmax head each, so its
128-d penultimate layer (before the ReLU) has to encode every factor, not only the motif:
a generator that gets the colours or the positions wrong moves the features, and FID sees
it. As for the digits, the features are standardised with their per-dimension mean and std
over the first 10 000 training images; the motif head's softmax gives p(class | x).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genlab.data import Batcher, iterate_batches
from genlab.data.shapes64 import FACTOR_NAMES, FACTOR_SIZES, load_shapes64, shapes64_factors
from genlab.errors import ConfigError, DataError
from genlab.eval.extractors import ClassifierExtractor, load_classifier, save_classifier
from genlab.eval.features import STATS_IMAGES, set_feature_statistics

WEIGHTS = Path(__file__).parent / "weights" / "shapes_cnn.safetensors"
RETRAIN = "python benchmarks/train_shapes_extractor.py"


class ShapesCNN(nn.Module):
    """Four strided conv blocks, a linear layer and one head per factor.

    Shapes: (B, 3, 64, 64) in [-1, 1] -> features (B, 128), logits (B, 45): the seven
    factors' logits side by side in :data:`FACTOR_NAMES` order (:meth:`split_logits`).
    """

    feature_dim = 128

    def __init__(self, width: int = 24) -> None:
        super().__init__()

        def block(a: int, b: int) -> list[nn.Module]:  # halves H and W
            return [nn.Conv2d(a, b, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU()]

        self.convs = nn.Sequential(
            *block(3, width),  # -> (B, w, 32, 32)
            *block(width, 2 * width),  # -> (B, 2w, 16, 16)
            *block(2 * width, 3 * width),  # -> (B, 3w, 8, 8)
            *block(3 * width, 3 * width),  # -> (B, 3w, 4, 4)
        )
        # Flatten, not global pooling: position and size are factors the features must keep.
        self.fc = nn.Linear(3 * width * 4 * 4, self.feature_dim)
        self.head = nn.Linear(self.feature_dim, sum(FACTOR_SIZES))
        # Per-dimension statistics of the features on shapes64 train, set after training.
        self.register_buffer("feature_mean", torch.zeros(self.feature_dim))
        self.register_buffer("feature_std", torch.ones(self.feature_dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns raw penultimate features (B, 128) and every factor's logits (B, 45)."""
        features = self.fc(self.convs(x).flatten(1))  # (B, 128), pre-activation
        return features, self.head(F.relu(features))

    @staticmethod
    def split_logits(logits: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(B, 45) -> seven tensors (B, size_j), one per factor, motif first."""
        return torch.split(logits, FACTOR_SIZES, dim=1)

    def standardise(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.feature_mean) / self.feature_std


@dataclass(frozen=True)
class ShapesTraining:
    """How the shipped weights are trained (Adam, cosine decay to 0, no augmentation)."""

    epochs: int = 3
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0
    steps: int = 0  # stop after this many steps (0 = all epochs); for smoke tests

    def check(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.steps < 0 or not self.lr > 0:
            raise ConfigError(f"need epochs >= 1, batch_size >= 1, steps >= 0 and lr > 0; got {self}")


def train_shapes_cnn(opts: ShapesTraining, log=print) -> tuple[ShapesCNN, dict]:
    """Train on shapes64 train, set the feature statistics, measure test accuracy per factor.

    Returns the model (eval mode) and its report: ``test_accuracy`` (motif), ``factor_accuracy``
    (every factor), ``train_seconds`` and the options.
    """
    start = time.perf_counter()
    model = fit_shapes_cnn(opts, log)
    set_feature_statistics(model, load_shapes64("train")[0][:STATS_IMAGES])
    train_seconds = time.perf_counter() - start
    accuracy = factor_accuracy(model, load_shapes64("test")[0], shapes64_factors("test")[0])
    report = {
        "test_accuracy": accuracy["motif"],
        "factor_accuracy": accuracy,
        "train_seconds": train_seconds,
        "torch_threads": torch.get_num_threads(),
        **dataclasses.asdict(opts),
    }
    return model, report


def fit_shapes_cnn(opts: ShapesTraining, log=print) -> ShapesCNN:
    """The optimisation alone (seeded, deterministic on CPU); returns the model in eval mode."""
    opts.check()
    images = load_shapes64("train")[0]
    factors = shapes64_factors("train")[0]
    # One index per image; the batcher's "labels" pick the factor rows of each batch.
    rows = np.arange(images.shape[0], dtype=np.int64)
    targets = torch.from_numpy(factors.copy())  # (N, 7)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(opts.seed)
        model = ShapesCNN()
        batcher = Batcher(images, rows, batch_size=opts.batch_size, seed=opts.seed, scale="-1,1")
        total = opts.steps or opts.epochs * batcher.steps_per_epoch
        opt = torch.optim.Adam(model.parameters(), lr=opts.lr)
        # Cosine decay to 0 over the run (Loshchilov & Hutter 2017).
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
        start = time.perf_counter()
        for step in range(1, total + 1):
            x, index = batcher.next_batch()
            y = targets[index]  # (B, 7)
            logits = ShapesCNN.split_logits(model(x)[1])
            loss = sum(F.cross_entropy(logits[j], y[:, j]) for j in range(len(FACTOR_NAMES))) / len(FACTOR_NAMES)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if step % batcher.steps_per_epoch == 0 or step == total:
                log(
                    f"step {step}/{total} (epoch {step / batcher.steps_per_epoch:.2f}): loss {loss.item():.4f}, "
                    f"{time.perf_counter() - start:.0f} s"
                )
    return model.eval()


@torch.no_grad()
def predict_factors(model: ShapesCNN, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """The most likely value of every factor. Shapes: uint8 (N, 3, 64, 64) -> int64 (N, 7)."""
    preds = [
        torch.stack([lg.argmax(1) for lg in ShapesCNN.split_logits(model(x)[1])], 1)
        for x, _ in iterate_batches(images, None, batch_size, scale="-1,1")
    ]
    return torch.cat(preds).numpy()


def factor_accuracy(model: ShapesCNN, images: np.ndarray, factors: np.ndarray) -> dict[str, float]:
    """Share of images whose factor is predicted exactly, per factor name."""
    hits = predict_factors(model, images) == factors  # (N, 7)
    return {name: float(hits[:, j].mean()) for j, name in enumerate(FACTOR_NAMES)}


def save_shapes_cnn(model: ShapesCNN, report: dict, path: Path = WEIGHTS) -> None:
    """Weights as safetensors, the training report as JSON beside them (both atomic)."""
    save_classifier(model, report, path)


def load_shapes_cnn(path: Path = WEIGHTS) -> ShapesCNN:
    """The shipped (or a given) shapes64 classifier, in eval mode."""
    return load_classifier(ShapesCNN(), path, "shapes classifier", RETRAIN)  # type: ignore[return-value]


class ShapesExtractor(ClassifierExtractor):
    """Standardised features and motif probabilities of 64x64 RGB images from the shipped classifier."""

    name = "shapes"
    feature_dim = ShapesCNN.feature_dim

    def __init__(self, path: Path = WEIGHTS, batch_size: int = 500) -> None:
        self.model = load_shapes_cnn(path)
        self.batch_size = batch_size

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[1:] != (3, 64, 64):
            raise DataError(f"the shapes extractor needs 64x64 RGB images, got {tuple(x.shape[1:])}")
        features, logits = self.model(x)
        return self.model.standardise(features), ShapesCNN.split_logits(logits)[0]
