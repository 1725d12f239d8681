"""Scores of a run directory: the run plumbing (load the family, its test split) around the
pure evaluation functions of :mod:`genlab.eval.nll`, :mod:`genlab.eval.diffusion_nll` and :mod:`genlab.eval.anomaly`.

``genlab eval nll``, ``genlab anomaly score`` and the comparison report call these.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from genlab.data import load_dataset
from genlab.errors import ConfigError
from genlab.eval.anomaly import SCORES, class_means, detection, model_input, score_images
from genlab.eval.diffusion_nll import BoundResult, as_model_range, estimate_bound
from genlab.eval.nll import NLLResult, as_unit_interval, binarize, estimate_nll
from genlab.models.base import LatentLikelihood, VariationalBound
from genlab.runs import load_family

NO_LIKELIHOOD = (
    "genlab eval nll needs a run with a likelihood: a VAE (vae, conv-vae, cvae: IWAE bound) or a diffusion model "
    "(ddpm: variational bound); {run_dir} is a {family} run"
)


def prepare_run(
    run_dir: str | Path,
    *,
    n: int | None = None,
    binarize_seed: int = 0,
    checkpoint: str = "latest",
    data_dir: str | Path | None = None,
):
    """A VAE run's family and test images as ``genlab eval nll`` scores them: the first ``n`` test images in [0, 1],
    binarised once with ``binarize_seed`` for a Bernoulli model. Returns (family, images, labels or None,
    description)."""
    if n is not None and n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    family, run, meta = load_family(run_dir, checkpoint)
    if not isinstance(family, LatentLikelihood):
        raise ConfigError(NO_LIKELIHOOD.format(run_dir=run_dir, family=run.family))
    return _vae_inputs(family, run, meta, run_dir, n, binarize_seed, data_dir)


def _vae_inputs(family, run, meta, run_dir, n, binarize_seed, data_dir):
    images, labels, _ = load_dataset(run.train.dataset, "test", data_dir, run.train.data_options())
    x = as_unit_interval(images[:n])
    bernoulli = family.cfg.likelihood == "bernoulli"
    if bernoulli:
        x = binarize(x, binarize_seed)
    y = torch.from_numpy(labels[:n]) if family.conditional else None
    data = f"{x.shape[0]} {run.train.dataset} test images " + (
        f"binarised once with seed {binarize_seed}" if bernoulli else "as grey levels in [0, 1] (Gaussian density)"
    )
    what = f"{run.family} run {run_dir}, step {meta['step']}: {data}" + (
        ", log p(x | y)" if family.conditional else ""
    )
    return family, x, y, what


def run_nll(
    run_dir: str | Path,
    *,
    k: int = 5000,
    timesteps: int = 0,
    n: int | None = None,
    binarize_seed: int = 0,
    seed: int = 0,
    checkpoint: str = "latest",
    batch_size: int = 100,
    data_dir: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[NLLResult | BoundResult, str]:
    """The protocol of ``genlab eval nll``. A VAE run (see :func:`prepare_run`): the IWAE bound with k importance
    samples, an :class:`NLLResult`. A diffusion run: its variational bound on the first ``n`` test images on the
    256 levels of [-1, 1], all T steps (``timesteps`` 0) or a stratified sample of ``timesteps`` of them, a
    :class:`BoundResult`. Returns (result, description)."""
    if k < 1 or batch_size < 1 or timesteps < 0:
        raise ConfigError(
            f"--k and --batch-size must be >= 1 and --timesteps >= 0, got {k}, {batch_size} and {timesteps}"
        )
    if n is not None and n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    family, run, meta = load_family(run_dir, checkpoint)
    if isinstance(family, VariationalBound):
        images, labels, _ = load_dataset(run.train.dataset, "test", data_dir, run.train.data_options())
        x = as_model_range(images[:n])
        y = torch.from_numpy(labels[:n]) if family.conditional else None
        bound = estimate_bound(family, x, y, timesteps=timesteps, seed=seed, batch_size=batch_size, progress=progress)
        how = "all T - 1 KL terms" if bound.exact else f"a stratified sample of {bound.timesteps} KL terms per image"
        what = (
            f"{run.family} run {run_dir}, step {meta['step']}: {x.shape[0]} {run.train.dataset} test images on the "
            f"256 levels of [-1, 1]" + (", log p(x | y)" if family.conditional else "") + f"; T = {bound.steps}, "
            f"{how}, sample seed {seed}"
        )
        return bound, what
    if not isinstance(family, LatentLikelihood):
        raise ConfigError(NO_LIKELIHOOD.format(run_dir=run_dir, family=run.family))
    family, x, y, what = _vae_inputs(family, run, meta, run_dir, n, binarize_seed, data_dir)
    result = estimate_nll(family, x, y, k=k, seed=seed, batch_size=batch_size, progress=progress)
    bernoulli = family.cfg.likelihood == "bernoulli"
    return dataclasses.replace(
        result, binarize_seed=binarize_seed if bernoulli else None
    ), f"{what}, k = {k}, sample seed {seed}"


def score_run(
    run_dir,
    *,
    k: int = 10,
    n: int | None = None,
    seed: int = 0,
    binarize_seed: int = 0,
    images: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    source: str | None = None,
    checkpoint: str = "latest",
    data_dir=None,
) -> tuple[dict, dict[str, np.ndarray]]:
    """What ``genlab anomaly score`` reports: (summary, per-image arrays).

    Scores ``images`` (uint8 (N, C, H, W), from ``source``) or, by default, the test split of
    the run's data set; the first ``n`` only when given. The summary holds the settings, the
    mean scores and, when there are labels, the per-class means and — when the run excluded
    classes from training and the images hold both those and others — the AUROC and AP of
    each score with the excluded classes positive.
    The arrays are ``nelbo``, ``recon`` and ``labels`` (when known), (N,) each.
    """
    if n is not None and n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    family, run, meta = load_family(run_dir, checkpoint)
    if not isinstance(family, LatentLikelihood) or family.conditional:
        raise ConfigError(
            f"anomaly scores need an unconditional VAE run (vae, conv-vae); {run_dir} is a {run.family} run"
        )
    if images is None:
        images, labels, _ = load_dataset(run.train.dataset, "test", data_dir, run.train.data_options())
        source = f"{run.train.dataset} test split"
    images, labels = images[:n], None if labels is None else labels[:n]
    x, binarised = model_input(family, images, binarize_seed)
    scores = score_images(family, x, k=k, seed=seed)
    excluded = list(run.train.exclude_classes)
    summary: dict = {
        "run": str(run_dir),
        "family": run.family,
        "step": int(meta["step"]),
        "images": f"{len(x)} images of {source}",
        "excluded_classes": excluded,
        "k": k,
        "seed": seed,
        "binarize_seed": binarize_seed if binarised else None,
        "recon_at": "posterior mean",
        "mean": {name: float(scores[name].mean()) for name in SCORES},
    }
    if labels is not None:
        summary["class_means"] = {
            name: {str(c): v for c, v in class_means(scores[name], labels).items()} for name in SCORES
        }
        held_out = np.isin(labels, excluded)
        if held_out.any() and not held_out.all():  # AUROC needs images of both kinds
            summary["detection"] = {
                name: dataclasses.asdict(detection(scores[name], labels, excluded)) for name in SCORES
            }
        scores = {**scores, "labels": np.asarray(labels, dtype=np.int64)}
    return summary, scores
