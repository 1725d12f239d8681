"""The digit classifier we own: features for FID/KID/PRDC, class probabilities for IS.

No metric may need the network (Inception weights cannot be downloaded here), so genlab
ships a small CNN trained on MNIST by ``genlab eval train-extractor``. Its 128-d
penultimate layer (before the ReLU), standardised with the per-dimension mean and std of
the MNIST training images, gives the features; its softmax gives p(y | x). The
standardisation puts features on the scale KID's kernel (x.y/d + 1)^3 assumes, and makes
FID read in units of "training-set standard deviations squared".
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

from genlab.data import Batcher, iterate_batches, load_dataset
from genlab.errors import DataError
from genlab.eval.extractors import ClassifierExtractor, load_classifier, save_classifier

WEIGHTS = Path(__file__).parent / "weights" / "digits_cnn.safetensors"
STATS_IMAGES = 10_000  # feature mean/std are measured on the first 10 000 MNIST training images


class DigitCNN(nn.Module):
    """Two conv blocks and two linear layers. Shapes: (B, 1, 28, 28) -> features (B, 128), logits (B, 10)."""

    feature_dim = 128

    def __init__(self, width: int = 32, num_classes: int = 10) -> None:
        super().__init__()

        def block(a: int, b: int) -> list[nn.Module]:
            return [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU()]

        self.convs = nn.Sequential(
            *block(1, width),
            *block(width, width),
            nn.MaxPool2d(2),  # -> (B, w, 14, 14)
            *block(width, 2 * width),
            *block(2 * width, 2 * width),
            nn.MaxPool2d(2),  # -> (B, 2w, 7, 7)
        )
        self.fc = nn.Linear(2 * width * 7 * 7, self.feature_dim)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(self.feature_dim, num_classes)
        # Per-dimension statistics of the features on MNIST train, set after training.
        self.register_buffer("feature_mean", torch.zeros(self.feature_dim))
        self.register_buffer("feature_std", torch.ones(self.feature_dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns raw penultimate features (B, 128) and logits (B, 10)."""
        features = self.fc(self.convs(x).flatten(1))  # (B, 128), pre-activation
        return features, self.head(self.dropout(F.relu(features)))

    def standardise(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.feature_mean) / self.feature_std


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by up to ``max_shift`` pixels (zero fill), for augmentation."""
    b, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, value=float(x.min()))
    dy = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (b,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None]).view(b, 1, h, 1).expand(b, x.shape[1], h, w + 2 * max_shift)
    cropped = padded.gather(2, rows)  # (B, C, H, W + 2s)
    cols = (dx[:, None] + torch.arange(w)[None]).view(b, 1, 1, w).expand(b, x.shape[1], h, w)
    return cropped.gather(3, cols)  # (B, C, H, W)


@dataclass(frozen=True)
class ExtractorTraining:
    epochs: int = 4
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0
    max_shift: int = 2
    steps: int = 0  # stop after this many steps (0 = all epochs); for smoke tests


def train_digit_cnn(opts: ExtractorTraining, data_dir: str | Path | None = None, log=print) -> tuple[DigitCNN, dict]:
    """Train the classifier on MNIST train, then :func:`finish_digit_cnn`; returns it and its report."""
    start = time.perf_counter()
    model = fit_digit_cnn(opts, data_dir, log)
    set_feature_statistics(model, load_dataset("mnist", "train", data_dir)[0][:STATS_IMAGES])
    report = {
        "test_accuracy": classifier_accuracy(model, data_dir),
        "train_seconds": time.perf_counter() - start,
        **dataclasses.asdict(opts),
    }
    return model, report


def fit_digit_cnn(opts: ExtractorTraining, data_dir: str | Path | None = None, log=print) -> DigitCNN:
    """The optimisation alone (seeded, deterministic on CPU); returns the model in eval mode."""
    images, labels, _ = load_dataset("mnist", "train", data_dir)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(opts.seed)
        model = DigitCNN()
        batcher = Batcher(images, labels, batch_size=opts.batch_size, seed=opts.seed, scale="-1,1")
        generator = torch.Generator().manual_seed(opts.seed)
        total = opts.steps or opts.epochs * batcher.steps_per_epoch
        opt = torch.optim.Adam(model.parameters(), lr=opts.lr)
        # Cosine decay to 0 over the run (Loshchilov & Hutter 2017).
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
        start = time.perf_counter()
        for step in range(1, total + 1):
            x, y = batcher.next_batch()
            _, logits = model(random_shift(x, opts.max_shift, generator))
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if step % batcher.steps_per_epoch == 0:
                log(
                    f"epoch {step // batcher.steps_per_epoch}/{opts.epochs}: loss {loss.item():.4f}, "
                    f"{time.perf_counter() - start:.0f} s"
                )
    return model.eval()


@torch.no_grad()
def set_feature_statistics(model: DigitCNN, images: np.ndarray) -> None:
    """Store the per-dimension mean and std of the raw features over ``images`` in the model."""
    feats = torch.cat([model(x)[0].double() for x, _ in iterate_batches(images, None, 1000, scale="-1,1")])
    model.feature_mean.copy_(feats.mean(0).float())
    model.feature_std.copy_(feats.std(0).clamp_min(1e-6).float())


@torch.no_grad()
def classifier_accuracy(model: DigitCNN, data_dir: str | Path | None = None) -> float:
    images, labels, _ = load_dataset("mnist", "test", data_dir)
    correct = 0
    for x, y in iterate_batches(images, labels, 1000, scale="-1,1"):
        correct += int((model(x)[1].argmax(1) == y).sum())
    return correct / images.shape[0]


def save_digit_cnn(model: DigitCNN, report: dict, path: Path = WEIGHTS) -> None:
    """Weights as safetensors, the training report as JSON beside them (both atomic)."""
    save_classifier(model, report, path)


def load_digit_cnn(path: Path = WEIGHTS) -> DigitCNN:
    """The shipped (or a given) classifier, in eval mode."""
    return load_classifier(DigitCNN(), path, "classifier", "genlab eval train-extractor")  # type: ignore[return-value]


class DigitExtractor(ClassifierExtractor):
    """Features and class probabilities of 28x28 grey images from the shipped classifier."""

    name = "digits"
    feature_dim = DigitCNN.feature_dim

    def __init__(self, path: Path = WEIGHTS, batch_size: int = 1000) -> None:
        self.model = load_digit_cnn(path)
        self.batch_size = batch_size

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[1:] != (1, 28, 28):
            raise DataError(f"the digits extractor needs 28x28 grey images, got {tuple(x.shape[1:])}")
        f, logits = self.model(x)
        return self.model.standardise(f), logits
