"""``genlab eval RUN`` for a translation run on the user's own image pairs (pix2pix, cyclegan).

A translation model is scored on the test split it was trained beside (``DataInfo.pairs_source``),
translating every test A image (at most ``n``) A -> B:

- aligned pairs (``ab``, ``side-by-side``): the test split's B is the ground truth. Reported:
  mean per-image L1, PSNR and SSIM of G(A) against B on the [0, 1] scale, beside the
  *copy-the-input* baseline (A itself scored against B), which a model must beat to have
  learnt anything -- the same comparison ``benchmarks/translation.py`` makes for the built-in sets;
- ``unpaired`` domains: there is no ground truth (no A has a true B). Reported: FID of G(A)
  against the B test images, beside the copy-the-input FID of A against B, with the run's
  default extractor (random projection for own data) -- a distribution match only.

FID is given for aligned pairs too. With fewer than two test images (or rows) FID is left out
and said so: a covariance needs two. All scores are from one fixed dropout seed (``seed``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from genlab.data.datasets import load_pairs
from genlab.data.images import to_uint8
from genlab.data.translation import split_pair
from genlab.errors import ConfigError
from genlab.eval.extractors import get_extractor
from genlab.eval.metrics import feature_statistics, frechet_distance
from genlab.eval.sources import features_of
from genlab.math.image_metrics import mean_absolute_error, psnr, ssim
from genlab.models.translate_parts import TranslationFamily

BATCH = 64
ALIGNED = ("ab", "side-by-side")
NO_TRUTH = (
    "unpaired data: no test image of A has a true counterpart in B, so there is no ground truth to compare a "
    "translation with; scored: FID of the translated A test images against the B test images (a distribution match)"
)


def translate_all(family: TranslationFamily, a: np.ndarray, seed: int) -> np.ndarray:
    """G(A) for uint8 (N, C, H, W) images in batches, dropout (pix2pix) from ``seed``: uint8 (N, C, H, W)."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for start in range(0, a.shape[0], BATCH):
        x = torch.from_numpy(np.ascontiguousarray(a[start : start + BATCH])).float() / 127.5 - 1.0
        out.append(to_uint8(family.translate_a(x.to(family.device), generator)))
    return np.concatenate(out)


def distinct(images: np.ndarray) -> np.ndarray:
    """The distinct images of uint8 (N, C, H, W), in order of first appearance."""
    _, first = np.unique(images.reshape(images.shape[0], -1), axis=0, return_index=True)
    return images[np.sort(first)]


def image_scores(output: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Mean per-image L1, PSNR (dB, identical images count as 100) and SSIM on [0, 1]; uint8 (N, C, H, W) twice."""
    o, t = (torch.from_numpy(np.ascontiguousarray(x)).float() / 255.0 for x in (output, target))
    return {
        "l1": mean_absolute_error(o, t).mean().item(),
        "psnr": psnr(o, t).clamp(max=100.0).mean().item(),
        "ssim": ssim(o, t).mean().item(),
    }


def fid(images: np.ndarray, reference: np.ndarray, extractor: Any) -> float:
    """FID of two uint8 (N, C, H, W) sets under ``extractor``."""
    mu1, s1 = feature_statistics(features_of(images, extractor))
    mu2, s2 = feature_statistics(features_of(reference, extractor))
    return float(frechet_distance(mu1, s1, mu2, s2))


def score_translation(family: Any, dataset: str, n: int, seed: int, extractor_name: str) -> dict[str, Any]:
    """The scores of the module docstring for a translation family trained on own image pairs."""
    if not isinstance(family, TranslationFamily) or not family.info.pairs_source:
        raise ConfigError(f"{dataset}: translation scoring needs a pix2pix or cyclegan run on your own image pairs")
    rows, layout = load_pairs(family.info.pairs_source, "test")
    rows = np.asarray(rows[:n])  # (N, C, S, 2S)
    a, b = split_pair(rows)  # (N, C, S, S) twice
    if layout not in ALIGNED:  # rows repeat the smaller domain (genlab.data.sources.pairs.unpaired_rows): each once
        a, b = distinct(a), distinct(b)
    translated = translate_all(family, a, seed)
    result: dict[str, Any] = {
        "what": f"{family.registry_name} on {dataset}: A -> B on the test split ({a.shape[0]} A, {b.shape[0]} B "
        f"images, {layout})",
        "layout": layout,
        "n": int(a.shape[0]),
        "ground_truth": layout in ALIGNED,
    }
    if layout in ALIGNED:
        result["vs_truth"] = image_scores(translated, b)
        result["copy_vs_truth"] = image_scores(a, b)
    else:
        result["note"] = NO_TRUTH
    if min(a.shape[0], b.shape[0]) >= 2:
        extractor = get_extractor(extractor_name)
        result["extractor"] = extractor_name
        result["fid"] = fid(translated, b, extractor)
        result["fid_copy"] = fid(a, b, extractor)
    else:
        result["fid_note"] = (
            f"FID left out: the test split holds {a.shape[0]} A and {b.shape[0]} B image(s); a covariance needs 2"
        )
    return result


def translation_lines(result: dict[str, Any]) -> list[str]:
    """The scores as lines for a terminal."""
    lines = [result["what"]]
    if result["ground_truth"]:
        lines.append("ground truth: the test split's aligned B images; copy = the input A itself scored as the output")
        for key, better in (("l1", "lower"), ("psnr", "higher"), ("ssim", "higher")):
            model, copy = result["vs_truth"][key], result["copy_vs_truth"][key]
            lines.append(f"  {key:<5} {model:9.4f}   copy {copy:9.4f}   ({better} is better)")
    else:
        lines.append(f"note: {result['note']}")
    if "fid" in result:
        lines.append(
            f"  fid   {result['fid']:9.4f}   copy {result['fid_copy']:9.4f}   (lower is better; G(A) vs B test, "
            f"extractor {result['extractor']}, n = {result['n']})"
        )
    else:
        lines.append(f"note: {result['fid_note']}")
    return lines
