"""Measure one run on every axis of the comparison; the result is the run's eval JSON.

Quality and diversity come from the evaluation suite (:class:`genlab.eval.Evaluator`),
likelihood from :func:`genlab.report.run_scores.run_nll` (a VAE's IWAE bound, a diffusion
model's variational bound; None, shown as "n/a", elsewhere), latent structure from the family's latent codec
(:func:`genlab.models.latent.latent_codec`), compute from the run's metrics.jsonl plus
a timed sampling pass in a fresh process (:mod:`genlab.report.sampling`).
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from genlab.config import TrainConfig
from genlab.data import load_dataset, load_samples, save_grid, to_uint8
from genlab.errors import ConfigError
from genlab.eval.evaluate import Evaluator
from genlab.math.interpolate import slerp
from genlab.models.base import Family, LatentLikelihood, VariationalBound
from genlab.report.measures import (
    laplacian_variance,
    linear_probe_accuracy,
    majority_rate,
    mean_consecutive_step,
    path_length_ratio,
)
from genlab.report.sampling import measure_sampling
from genlab.runs.loading import load_family
from genlab.runs.rundir import read_metrics

Kind = Literal["gan", "vae", "diffusion", "other"]


@dataclass(frozen=True)
class MeasureConfig:
    """How much work each run's measurement does (the defaults take about a minute per small run)."""

    n_samples: int = 1000  # samples scored by the evaluation suite and timed
    seed: int = 0
    nll_k: int = 100  # importance samples per image for the VAE NLL
    nll_n: int = 1000  # test images for the NLL
    nll_timesteps: int = 50  # diffusion bound: KL terms per image, stratified over t (0 = all T)
    probe_n: int = 1000  # latents for the linear probe
    interp_paths: int = 8
    interp_frames: int = 10
    grid_images: int = 36  # images in the final-samples grid
    ref_n: int = 0  # reference images from the test split (0 = all of it); fewer only for quick looks and tests

    def check(self) -> None:
        if self.ref_n < 0 or 0 < self.ref_n < 10:
            raise ConfigError(f"ref_n must be 0 (the whole test split) or >= 10, got {self.ref_n}")
        if self.nll_timesteps < 0:
            raise ConfigError(f"nll_timesteps must be >= 0, got {self.nll_timesteps}")
        for name in ("n_samples", "nll_k", "nll_n", "probe_n", "interp_paths", "grid_images"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_samples < 10 or self.probe_n < 10:
            raise ConfigError("n_samples and probe_n must be >= 10 (the k-NN metrics and the probe need a few)")
        if self.interp_frames < 2:
            raise ConfigError(f"interp_frames must be >= 2, got {self.interp_frames}")


def family_kind(family: Family) -> Kind:
    """Which textbook family a registered family belongs to (for the textbook claims): its declared ``kind``."""
    return family.kind if family.kind in ("gan", "vae", "diffusion") else "other"


def training_compute(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Training wall time, steps and peak memory from metrics.jsonl rows.

    A run stopped by its budget logs ``train_seconds`` (all sessions); otherwise the last
    row's ``elapsed_s`` (one session) is the wall time. Peak RSS is the largest
    ``peak_rss_mb`` logged, None for runs from before the trainer logged it.
    """
    stopped = [r for r in records if "train_seconds" in r]
    timed = [r for r in records if "elapsed_s" in r]
    if stopped:
        seconds, source = float(stopped[-1]["train_seconds"]), "train_seconds (budget stop)"
    elif timed:
        seconds, source = float(timed[-1]["elapsed_s"]), "elapsed_s of the last row"
    else:
        seconds, source = None, "not logged"
    rss = [float(r["peak_rss_mb"]) for r in records if "peak_rss_mb" in r]
    steps = max((int(r["step"]) for r in records if "step" in r), default=0)
    return {
        "train_seconds": seconds,
        "train_seconds_source": source,
        "steps": steps,
        "stopped_by_budget": bool(stopped),
        "peak_rss_train_mb": max(rss) if rss else None,
    }


def run_likelihood(run_dir: Path, cfg: MeasureConfig, data_dir) -> dict[str, Any]:
    """``genlab eval nll`` on the first ``cfg.nll_n`` test images: a VAE's IWAE NLL at ``cfg.nll_k`` samples, a
    diffusion model's variational bound at ``cfg.nll_timesteps`` stratified steps; nats and bits/dim either way."""
    from genlab.report.run_scores import run_nll

    result, what = run_nll(
        run_dir, k=cfg.nll_k, timesteps=cfg.nll_timesteps, n=cfg.nll_n, seed=cfg.seed, data_dir=data_dir
    )
    keep = ("nll", "nll_se", "elbo_nll", "bits_per_dim", "k", "timesteps", "exact", "n", "active_units")
    keep += ("binarize_seed",)
    return {"what": what, **{k: v for k, v in dataclasses.asdict(result).items() if k in keep}}


@torch.no_grad()
def latent_structure(
    family: Family, kind: Kind, evaluator: Evaluator, cfg: MeasureConfig, train: TrainConfig, data_dir, strip: Path
) -> dict[str, Any]:
    """Interpolation smoothness and the linear probe; writes an interpolation strip to ``strip``.

    Paths are spherical interpolations between latents drawn from the prior (Gaussian
    latents: slerp keeps their norm), decoded and embedded with the evaluation extractor.
    """
    from genlab.models.latent import latent_codec

    try:
        codec = latent_codec(family)
    except ConfigError as e:
        return {"latent": None, "why": str(e)}
    g = torch.Generator().manual_seed(cfg.seed)
    p, s = cfg.interp_paths, cfg.interp_frames
    ends = codec.draw(2 * p, g)  # (2P, ...)
    t = torch.linspace(0, 1, s)
    paths = torch.cat([slerp(ends[2 * i], ends[2 * i + 1], t) for i in range(p)])  # (P*S, ...)
    labels = (torch.arange(p) % family.info.num_classes).repeat_interleave(s) if codec.needs_label else None
    frames = to_uint8(codec.decode(paths, labels))  # (P*S, C, H, W) uint8
    feats = evaluator.extractor.features(frames).reshape(p, s, -1)
    save_grid(strip, frames[: min(p, 4) * s], nrow=s)
    result: dict[str, Any] = {
        "latent": codec.what,
        "interp_mean_step": mean_consecutive_step(feats),
        "interp_path_ratio": path_length_ratio(feats),
        "interp_paths": p,
        "interp_frames": s,
        "extractor": evaluator.extractor.name,
    }
    result.update(_probe(family, kind, codec, evaluator, cfg, train, data_dir, g))
    return result


def _probe(family, kind, codec, evaluator, cfg, train: TrainConfig, data_dir, g) -> dict[str, Any]:
    n = cfg.probe_n
    if kind == "vae" and codec.encode is not None:
        images, labels, _ = load_dataset(train.dataset, "test", data_dir, train.data_options())
        images, labels = images[:n], labels[:n]
        cond = (
            (lambda a, b: torch.from_numpy(np.asarray(labels[a:b], dtype=np.int64)))
            if family.conditional
            else (lambda a, b: None)
        )
        z = torch.cat(
            [
                codec.encode(torch.from_numpy(np.array(images[i : i + 500])), cond(i, i + 500))
                for i in range(0, len(images), 500)
            ]
        )
        return _probe_result(
            z.numpy(), labels, f"encoder mean E[z|x] of {len(images)} test images vs their true labels", cfg.seed
        )
    if codec.needs_label or evaluator.classifier is None:
        why = "the class is the generator's input label" if codec.needs_label else "no classifier for these images"
        return {"probe_accuracy": None, "probe_what": f"not measured: {why}"}
    z = codec.draw(n, g)
    images = np.concatenate([to_uint8(codec.decode(z[i : i + 250], None)) for i in range(0, n, 250)])
    assigned = evaluator.classifier.probs(images).argmax(axis=1)
    what = (
        f"{n} prior latents ({codec.what}) vs the class the {evaluator.classifier.name} classifier assigns to the "
        "decoded image (unconditional)"
    )
    return _probe_result(z.numpy(), assigned, what, cfg.seed)


def _probe_result(latents: np.ndarray, labels: np.ndarray, what: str, seed: int) -> dict[str, Any]:
    """Probe accuracy, the majority-class rate it must beat, and their difference (None with one class)."""
    if len(np.unique(labels)) < 2:
        return {"probe_accuracy": None, "probe_what": f"not measured: every label is one class ({what})"}
    accuracy, majority = linear_probe_accuracy(latents, labels, seed=seed), majority_rate(labels)
    return {
        "probe_accuracy": accuracy,
        "probe_majority": majority,
        "probe_gain": accuracy - majority,
        "probe_what": what,
        "probe_n": len(labels),
    }


def training_grids(run_dir: Path, keep: int = 3) -> list[tuple[int, Path]]:
    """Up to ``keep`` of the run's ``samples/step_*.png`` grids, evenly spaced, the last included."""
    grids = sorted(
        (int(p.stem.split("_")[1]), p)
        for p in (run_dir / "samples").glob("step_*.png")
        if p.stem.split("_")[1].isdigit()
    )
    if len(grids) <= keep:
        return grids
    picks = sorted({round(i * (len(grids) - 1) / (keep - 1)) for i in range(keep)}) if keep > 1 else [len(grids) - 1]
    return [grids[i] for i in picks]


def measure_run(
    run_dir: Path,
    out_dir: Path,
    evaluator: Evaluator,
    cfg: MeasureConfig,
    *,
    reference_sharpness: float,
    data_dir=None,
    stage: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Every axis for one run. Assets (strip, final grid) go into ``out_dir``; returns the eval JSON's content.
    ``stage`` is told what it does next (the command's progress line)."""
    start = time.perf_counter()
    family, run, meta = load_family(run_dir)
    kind = family_kind(family)
    records = read_metrics(run_dir)
    stage(f"sampling {cfg.n_samples} images (timed, in a fresh process)")
    with tempfile.TemporaryDirectory() as tmp:
        sampling = measure_sampling(run_dir, cfg.n_samples, cfg.seed, Path(tmp) / "samples.npz")
        images, labels = load_samples(Path(tmp) / "samples.npz")
    stage("scoring the samples")
    quality = evaluator(images, labels)
    save_grid(out_dir / "final.png", images[: cfg.grid_images])
    sharp = laplacian_variance(images)
    likelihood = None
    if isinstance(family, (LatentLikelihood, VariationalBound)):
        stage(f"test NLL ({cfg.nll_n} images; k={cfg.nll_k} for a VAE, {cfg.nll_timesteps} steps for diffusion)")
        likelihood = run_likelihood(run_dir, cfg, data_dir)
    stage("latent structure: interpolations and the linear probe")
    latent = latent_structure(family, kind, evaluator, cfg, run.train, data_dir, out_dir / "interpolation.png")
    return {
        "run": str(run_dir),
        "family": run.family,
        "kind": kind,
        "seed": run.train.seed,
        "dataset": run.train.dataset,
        "step": int(meta["step"]),
        "config": run.to_dict(),
        "eval": quality,
        "sharpness": {
            "laplacian_var": sharp,
            "reference": reference_sharpness,
            "ratio": sharp / reference_sharpness if reference_sharpness else None,
        },
        "likelihood": likelihood,
        "latent": latent,
        # parameters = trainable weights; frozen copies and buffers apart (Family.parameter_counts)
        "compute": {**training_compute(records), **family.parameter_counts(), "sampling": sampling},
        "measure": {**dataclasses.asdict(cfg), "seconds": time.perf_counter() - start},
    }
