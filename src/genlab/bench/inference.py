"""Sampling throughput (DDIM-50 vs DDPM-1000, GAN and VAE) and evaluation throughput (features + FID).

Sampling cost does not depend on the weights, so freshly initialised networks at the
benchmark preset are timed; the FID of each diffusion sampler needs a trained run
(``ddpm_run``), whose checkpoint is then loaded and sampled with both samplers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.bench.training import build_family
from genlab.data import DataInfo
from genlab.eval.extractors import get_extractor
from genlab.eval.metrics import feature_statistics, frechet_distance
from genlab.runs.loading import load_family, sample_in_batches


def _images_per_s(family, n: int, seed: int = 0) -> tuple[float, float]:
    """(images/s, seconds) of ``family.sample(n)`` in one batch, under inference mode."""
    labels = torch.arange(n) % family.info.num_classes if family.conditional else None
    with torch.inference_mode():
        family.sample(
            min(n, 4), labels=None if labels is None else labels[:4], generator=torch.Generator().manual_seed(seed)
        )  # warm-up
        start = time.perf_counter()
        family.sample(n, labels=labels, generator=torch.Generator().manual_seed(seed))
        seconds = time.perf_counter() - start
    return n / seconds, seconds


def sampling_throughput(
    info: DataInfo, *, n_fast: int = 500, n_diffusion: int = 16, preset: str | None = "small"
) -> list[dict[str, Any]]:
    """Images/s of batched sampling: gan, dcgan, vae, conv-vae (n_fast images) and ddpm with
    DDIM at 50 steps and ancestral DDPM at all 1000 (n_diffusion images each)."""
    rows = []
    for name in ("gan", "dcgan", "vae", "conv-vae"):
        rate, seconds = _images_per_s(build_family(name, preset, info), n_fast)
        rows.append(
            {"model": name, "sampler": "one forward pass", "n": n_fast, "images_per_s": rate, "seconds": seconds}
        )
    for sampler, steps in (("ddim", 50), ("ddpm", 1000)):
        family = build_family("ddpm", preset, info, sampler=sampler, sample_steps=steps)
        rate, seconds = _images_per_s(family, n_diffusion)
        rows.append(
            {
                "model": "ddpm",
                "sampler": f"{sampler.upper()}-{steps}",
                "n": n_diffusion,
                "images_per_s": rate,
                "seconds": seconds,
            }
        )
    return rows


def sampler_fids(run_dir: str | Path, reference: np.ndarray, *, n: int = 500, seed: int = 0) -> list[dict[str, Any]]:
    """FID (digits features, against ``reference``) of a trained diffusion run's samples with
    DDIM-50 and with DDPM-1000, with the images/s of each. Shapes: reference uint8 (M, C, H, W)."""
    extractor = get_extractor("digits")
    ref_stats = feature_statistics(extractor.features(reference))
    rows = []
    for sampler, steps in (("ddim", 50), ("ddpm", 1000)):
        overrides = {"sampler": sampler} if sampler == "ddpm" else {"sampler": sampler, "sample_steps": steps}
        family, _, _ = load_family(run_dir, "latest", overrides)
        labels = torch.arange(n) % family.info.num_classes if family.conditional else None
        start = time.perf_counter()
        with torch.inference_mode():
            images = sample_in_batches(family, n, labels=labels, seed=seed)
        seconds = time.perf_counter() - start
        fid = frechet_distance(*feature_statistics(extractor.features(images)), *ref_stats)
        rows.append({"sampler": f"{sampler.upper()}-{steps}", "n": n, "images_per_s": n / seconds, "fid": fid})
    return rows


def evaluation_throughput(images: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    """Seconds for digit-classifier features of ``images`` and for the FID against ``reference``'s
    features (statistics + Frechet distance). Shapes: uint8 (N, C, H, W) and (M, C, H, W)."""
    extractor = get_extractor("digits")
    ref_features = extractor.features(reference)
    start = time.perf_counter()
    with torch.inference_mode():
        features = extractor.features(images)
    extract = time.perf_counter() - start
    start = time.perf_counter()
    fid = frechet_distance(*feature_statistics(features), *feature_statistics(ref_features))
    fid_seconds = time.perf_counter() - start
    n = images.shape[0]
    return {
        "n": n,
        "reference_n": reference.shape[0],
        "feature_seconds": extract,
        "images_per_s": n / extract,
        "fid_seconds": fid_seconds,
        "fid": fid,
    }
