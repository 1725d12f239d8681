"""One reading of every argument ``genlab eval A --ref B`` accepts, for either side.

In order: a statistics .npz (``mu``/``sigma``, from ``genlab eval stats`` or pytorch-fid); a
run directory (it holds config.yaml: sampled now); a named set (mnist-test, ...); a prepared data
folder (``genlab data prepare``: its test split, ``FOLDER:train`` its train split); image files
(a folder of PNG/JPEG, a samples .npz, a .npy; ``genlab.eval.inputs``). A folder of images
is never taken for a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.errors import DataError
from genlab.eval.evaluate import NAMED_REFERENCES, input_shape, load_reference, prepared_reference, singular_warning
from genlab.eval.extractors import Extractor
from genlab.eval.inputs import ImageSet, read_images
from genlab.eval.metrics import frechet_distance
from genlab.eval.resize import conform
from genlab.eval.stats import FeatureStats, describe, is_stats_file, load_stats, settings_of, stats_of
from genlab.runs.loading import load_family, sample_in_batches

Source = ImageSet | FeatureStats


def is_run_dir(path: Path) -> bool:
    return path.is_dir() and (path / "config.yaml").is_file()


def sample_run(run_dir: Path, n: int, checkpoint: str, seed: int, device: str, progress=None) -> ImageSet:
    """``n`` fresh samples of a run (labels cycling through the classes for a conditional one); ``progress``
    (a :class:`genlab.console.Progress`) shows the sampling."""
    family, run, meta = load_family(run_dir, checkpoint, device=device)
    labels = torch.arange(n) % family.info.num_classes if family.conditional else None
    if progress is not None:
        progress.stage(f"eval: sampling {n} images from {run_dir}", n)
    images = sample_in_batches(family, n, labels=labels, seed=seed, progress=progress and progress.update)
    return ImageSet(
        images,
        None if labels is None else labels.numpy(),
        f"{run.family} run {run_dir}, step {meta['step']}, {n} samples (seed {seed})",
        family.parameter_counts(),
    )


def resolve(
    spec: str | Path,
    *,
    n: int | None = None,
    checkpoint: str = "latest",
    seed: int = 0,
    device: str = "cpu",
    data_dir: str | Path | None = None,
    run_n: int = 10_000,
    progress=None,
) -> Source:
    """What ``spec`` names, as images (the first ``n``) or statistics. A run draws ``n or run_n`` samples."""
    text = str(spec)
    path = Path(spec)
    if is_stats_file(path):
        return load_stats(path)
    if is_run_dir(path):
        return sample_run(path, n or run_n, checkpoint, seed, device, progress)
    if text in NAMED_REFERENCES:
        ref = load_reference(text, data_dir, n=n)
        return ImageSet(ref.images, None, ref.description)
    if (prepared := prepared_reference(text, n)) is not None:  # genlab data prepare's folder, or FOLDER:train
        return ImageSet(prepared.images, None, prepared.description)
    if not path.exists():
        raise DataError(
            f"{text} does not exist; give a run directory, a folder of PNG/JPEG images, a .npz or .npy of images, "
            f"a statistics .npz, or one of {', '.join(NAMED_REFERENCES)}"
        )
    images, labels, note = read_images(path)
    total = images.shape[0]
    if n is not None and total > n:
        images, labels = images[:n], None if labels is None else labels[:n]
    kind = "folder" if path.is_dir() else "samples"
    shown = f"{images.shape[0]} of {total}" if images.shape[0] < total else f"{total}"
    note = f"; {note}" if note else ""
    return ImageSet(np.ascontiguousarray(images), labels, f"{kind} {path} ({shown} images{note})")


def features_of(images: np.ndarray, extractor: Extractor) -> np.ndarray:
    """Features of one image set alone, after the extractor's resize rule (its own image size for pixels)."""
    shape = input_shape(extractor, images.shape[1:])
    return extractor.features(images if shape is None else conform(images, shape))


def stats_fid(a: FeatureStats, b: Source, extractor: Extractor | None) -> dict[str, Any]:
    """FID of statistics ``a`` against ``b``: statistics, or images whose features ``extractor`` computes."""
    if isinstance(b, ImageSet):
        if extractor is None:
            raise DataError("comparing statistics with images needs the extractor the statistics were measured with")
        settings = settings_of(extractor)
        a.check_compatible(settings, a.description)
        b = stats_of(features_of(b.images, extractor), settings, b.description)
    elif a.checked and b.checked and a.settings != b.settings:
        raise DataError(
            f"{a.description} and {b.description} were measured with different settings; recompute one of them"
        )
    elif a.mu.shape != b.mu.shape:
        raise DataError(f"{a.description} and {b.description} have different feature dimensions")
    result: dict[str, Any] = {"what": a.description, "reference": b.description, "extractor": describe(a.settings)}
    result["fid"] = frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
    warning = singular_warning(a.n, b.n, int(a.mu.shape[0])) if a.n else None
    return result | ({"fid_warning": warning} if warning else {})
