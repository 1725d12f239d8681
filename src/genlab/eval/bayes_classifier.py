"""A generative classifier: Bayes' rule over a class-conditional model's likelihood (``genlab classify``).

For each image x and each class y the model's log p(x | y), or a lower bound on it, is estimated with
the label set to y; :func:`genlab.math.bayes.log_posterior` turns the K numbers and the priors into
log P(y | x). Two estimators, chosen by what the family declares (``genlab.models.base``):

- a :class:`LatentLikelihood` (``cvae``): the IWAE bound L_k with k importance samples of q(z | x, y)
  (Burda et al. 2016; k = 1 is a one-sample ELBO). Cost per image: K encoder passes and K * k decoder
  passes. Images stay on [0, 1]; a Bernoulli decoder then scores a grey level g as the expected
  log-likelihood of the pixel binarised with p = g (the cross-entropy the model was trained on), so no
  binarisation noise enters the comparison.
- a :class:`VariationalBound` (class-conditional ``ddpm``): minus the bound L_T + sum L_i + L_0 (Ho et al.
  2020, eq. 5) on the 256 levels of [-1, 1], all T - 1 KL terms or a stratified sample of ``timesteps`` of
  them (``genlab.eval.diffusion_nll``). Cost per image: K * (timesteps + 1) U-Net passes (K * T when exact).

Every class of a batch uses the same random numbers (the same z draws, steps and x_t noise: common random
numbers), so the Monte-Carlo noise largely cancels in the differences between classes that decide the
posterior. Each batch draws from its own generator (seed * stride + batch index).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from genlab.data import load_dataset
from genlab.errors import ConfigError
from genlab.eval.diffusion_nll import image_bounds
from genlab.eval.nll import importance_log_likelihood
from genlab.math.bayes import (
    ECE_BINS,
    accuracy,
    expected_calibration_error,
    label_nll,
    log_posterior,
    log_prior_from_counts,
    per_class_accuracy,
    uniform_log_prior,
)
from genlab.models.base import ClassLikelihood, Family, LatentLikelihood, VariationalBound
from genlab.runs import load_family

Prior = Literal["train", "uniform"]
PRIORS = ("train", "uniform")
BATCH_SEED_STRIDE = 1_000_003
NOISE_BATCH = BATCH_SEED_STRIDE - 1  # the noise draws use the generator of a batch index no batch reaches
NO_CLASS_LIKELIHOOD = (
    "{what} has no class-conditional likelihood: genlab classify needs a class-conditional model with a likelihood "
    "or bound (cvae, or ddpm with class_conditional=true)"
)


def check_classifier(family: Family, what: str = "this model") -> int:
    """K, the number of classes, for a family that can classify by Bayes' rule; else a one-line ConfigError."""
    if not isinstance(family, ClassLikelihood) or family.likelihood_classes() < 2:
        raise ConfigError(NO_CLASS_LIKELIHOOD.format(what=what))
    if not isinstance(family, (VariationalBound, LatentLikelihood)):
        raise ConfigError(f"{what} declares a class likelihood but neither an IWAE nor a variational-bound estimator")
    return family.likelihood_classes()


def describe_estimator(family: Family, *, iwae_k: int, timesteps: int) -> tuple[str, int]:
    """(what log p(x | y) is estimated by, network passes per image over all classes)."""
    k = check_classifier(family)
    if isinstance(family, VariationalBound):
        steps = family.bound_steps()
        exact = timesteps == 0 or timesteps >= steps - 1
        used = steps - 1 if exact else timesteps
        how = "all T - 1 KL terms" if exact else f"a stratified sample of {timesteps} of the T - 1 KL terms"
        return f"-(variational bound), T = {steps}, {how}, on the 256 levels of [-1, 1]", k * (used + 1)
    name = "one-sample ELBO" if iwae_k == 1 else f"IWAE bound L_k, k = {iwae_k}"
    return f"{name} on [0, 1] pixels", k * (1 + iwae_k)


def as_levels(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] images -> the nearest of the 256 levels k / 127.5 - 1 of [-1, 1] (what the diffusion bound scores)."""
    return torch.round(images.clamp(0, 1) * 255.0) / 127.5 - 1.0


@torch.inference_mode()
def class_log_likelihoods(
    family: Family,
    images: torch.Tensor,
    *,
    iwae_k: int = 1,
    timesteps: int = 0,
    seed: int = 0,
    batch_size: int = 100,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """log p(x | y) (a lower bound) of every image for every class, float64 in nats.

    Shapes: images (N, C, H, W) in [0, 1] -> (N, K)."""
    k = check_classifier(family)
    if iwae_k < 1 or timesteps < 0 or batch_size < 1:
        raise ConfigError(
            f"--iwae-k and batch size must be >= 1, --timesteps >= 0; got {iwae_k}, {batch_size}, {timesteps}"
        )
    n = images.shape[0]
    out = torch.empty((n, k), dtype=torch.float64)
    family.train(False)
    try:
        for b, start in enumerate(range(0, n, batch_size)):
            x = images[start : start + batch_size].float()
            for c in range(k):
                # The same generator state for every class: common random numbers (see the module docstring).
                generator = torch.Generator().manual_seed(seed * BATCH_SEED_STRIDE + b)
                y = torch.full((x.shape[0],), c, dtype=torch.long)
                out[start : start + x.shape[0], c] = _log_likelihood(family, x, y, iwae_k, timesteps, generator)
            if progress is not None:
                progress(min(n, start + batch_size), n)
    finally:
        family.train(True)
    return out


def _log_likelihood(family, x, y, iwae_k, timesteps, generator) -> torch.Tensor:
    if isinstance(family, VariationalBound):
        return -image_bounds(family, as_levels(x), y, timesteps=timesteps, generator=generator)["total"]
    mu, logvar = family.encode(x, y)  # (B, Z) each
    iwae, _ = importance_log_likelihood(
        x,
        lambda _x: (mu, logvar),
        lambda xx, z: family.log_px_given_z(xx, z, y),
        k=iwae_k,
        generator=generator,
        chunk=max(1, 20_000 // x.shape[0]),
    )
    return iwae.cpu()


def prior_log_probs(prior: str, num_classes: int, train_labels: np.ndarray | None = None) -> torch.Tensor:
    """log P(y): the label frequencies of ``train_labels`` (``"train"``) or uniform. Shapes: -> (K,) float64."""
    if prior not in PRIORS:
        raise ConfigError(f"--prior must be train or uniform, got {prior!r}")
    if prior == "uniform":
        return uniform_log_prior(num_classes)
    counts = np.bincount(np.asarray(train_labels, dtype=np.int64), minlength=num_classes)[:num_classes]
    missing = [c for c in range(num_classes) if counts[c] == 0]
    if missing:
        raise ConfigError(f"classes {missing} have no training images, so their prior is 0; use --prior uniform")
    return log_prior_from_counts(torch.from_numpy(counts))


def add_noise(images: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """x + sigma * N(0, I), clipped to [0, 1] (robustness to additive Gaussian noise). Same shape."""
    if not sigma >= 0 or math.isinf(sigma):
        raise ConfigError(f"--noise must be a finite number >= 0, got {sigma}")
    if sigma == 0:
        return images
    return (images + sigma * torch.randn(images.shape, generator=generator)).clamp(0, 1)


def scores(
    log_likelihoods: torch.Tensor, labels: torch.Tensor, log_prior: torch.Tensor, bins: int = ECE_BINS
) -> dict[str, object]:
    """Accuracy, ECE (``bins`` equal-width bins), label NLL and per-class accuracy of the Bayes-rule posterior.

    Shapes: log_likelihoods (N, K), labels (N,), log_prior (K,)."""
    post = log_posterior(log_likelihoods, log_prior)
    return {
        "accuracy": accuracy(post, labels),
        "ece": expected_calibration_error(post, labels, bins),
        "ece_bins": bins,
        "nll": label_nll(post, labels),
        "per_class_accuracy": per_class_accuracy(post, labels, log_likelihoods.shape[1]),
    }


def classify_run(
    run_dir: str | Path,
    *,
    data: str | None = None,
    split: str = "test",
    n: int | None = None,
    prior: str = "train",
    iwae_k: int = 10,
    timesteps: int = 20,
    noise: float = 0.0,
    seed: int = 0,
    checkpoint: str = "latest",
    data_dir: str | Path | None = None,
    batch_size: int = 100,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, object]:
    """What ``genlab classify`` reports: the Bayes-rule classifier of a run on the first ``n`` images of
    ``split`` of ``data`` (default: the run's data set), with Gaussian noise ``noise`` on [0, 1] pixels."""
    if n is not None and n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    if prior not in PRIORS:
        raise ConfigError(f"--prior must be train or uniform, got {prior!r}")
    if not noise >= 0 or math.isinf(noise):
        raise ConfigError(f"--noise must be a finite number >= 0, got {noise}")
    if iwae_k < 1 or timesteps < 0 or batch_size < 1:
        raise ConfigError(
            f"--iwae-k and --batch-size must be >= 1 and --timesteps >= 0, got {iwae_k}, {batch_size} and {timesteps}"
        )
    if split not in ("train", "test"):
        raise ConfigError(f"--split must be train or test, got {split!r}")
    family, run, meta = load_family(run_dir, checkpoint)
    k = check_classifier(family, f"{run.family} run {run_dir}")
    dataset = data or run.train.dataset
    options = run.train.data_options() if dataset == run.train.dataset else None
    images, labels, info = load_dataset(dataset, split, data_dir, options)
    if (info.channels, info.height, info.width) != family.image_shape or info.num_classes != k:
        raise ConfigError(
            f"{dataset} has {info.num_classes} classes of {info.channels}x{info.height}x{info.width} images; the run "
            f"models {k} classes of {'x'.join(map(str, family.image_shape))}"
        )
    train_labels = load_dataset(dataset, "train", data_dir, options)[1] if prior == "train" else None
    if train_labels is not None and dataset == run.train.dataset and run.train.exclude_classes:
        train_labels = train_labels[~np.isin(train_labels, list(run.train.exclude_classes))]
    log_prior = prior_log_probs(prior, k, train_labels)
    x = torch.from_numpy(np.asarray(images[:n], dtype=np.float32) / 255.0)  # (N, C, H, W) in [0, 1]
    y = torch.from_numpy(np.asarray(labels[:n], dtype=np.int64))
    x = add_noise(x, noise, torch.Generator().manual_seed(seed * BATCH_SEED_STRIDE + NOISE_BATCH))
    log_lik = class_log_likelihoods(
        family, x, iwae_k=iwae_k, timesteps=timesteps, seed=seed, batch_size=batch_size, progress=progress
    )
    estimator, passes = describe_estimator(family, iwae_k=iwae_k, timesteps=timesteps)
    return {
        "run": str(run_dir),
        "family": run.family,
        "step": meta.get("step"),
        "data": dataset,
        "split": split,
        "n": int(x.shape[0]),
        "prior": prior,
        "log_prior": log_prior.tolist(),
        "noise": noise,
        "seed": seed,
        "estimator": estimator,
        "network_passes_per_image": passes,
        **scores(log_lik, y, log_prior),
    }
