"""FID, KID and IS from genlab against pytorch-fid 0.3.0 and torch-fidelity 0.4.0 on the same PNG folders.

    pip install --no-deps -e ".[parity]"
    python benchmarks/fid_parity.py                  # writes docs/results/fid-parity.md

Both reference tools run their own pipelines (their file lists, decoding, resizing, network
code and metric code) with the weights genlab uses: the standard FID Inception weights when
``genlab eval fetch-weights`` has put them in the cache, otherwise a randomly initialised FID
Inception (seed 0) saved as safetensors for genlab and as a .pth state dict for the tools.
Random weights test the pipelines, not the numbers' meaning: the page says which were used.

Part 1 compares whole pipelines at ``--dims`` (default 64, pytorch-fid's block-0 features,
cheap enough for a CPU run) on two folders of ``--n`` images (more than the feature
dimensions, so the covariances are regular): FID with pytorch-fid's resize rule against
``calculate_fid_given_paths``; FID and KID with torch-fidelity's rule against
``calculate_metrics``. Part 2 compares pool3 (2048-d) features and the Inception Score on
``--pool3-n`` images against torch-fidelity (and pool3 features against pytorch-fid).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genlab.atomic import atomic_write_text
from genlab.eval.evaluate import Evaluator, Reference
from genlab.eval.extractors import get_extractor
from genlab.eval.inputs import images_of
from genlab.eval.metrics import inception_score
from genlab.eval.parity import (
    pytorch_fid_features,
    pytorch_fid_fid,
    random_fid_inception,
    save_both_formats,
    torch_fidelity_features,
    torch_fidelity_metrics,
)
from genlab.eval.weights import cached_weights

DOC = Path(__file__).resolve().parent.parent / "docs" / "results" / "fid-parity.md"


def write_folder(folder: Path, n: int, seed: int, shift: int) -> Path:
    """n RGB 32x32 PNGs: a random flat colour per image plus noise; ``shift`` moves the colours."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for i in range(n):
        base = rng.integers(0, 160, (1, 1, 3)) + shift
        image = np.clip(base + rng.integers(0, 96, (32, 32, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(folder / f"{i:04d}.png")
    return folder


def weights(root: Path) -> tuple[Path, Path, str]:
    """(safetensors for genlab, .pth for the tools, which weights): the cached standard ones, else random."""
    cached = cached_weights()
    if cached is not None:
        from safetensors.torch import load_file

        pth = root / "standard.pth"
        torch.save(load_file(str(cached)), pth)
        return cached, pth, "the standard FID Inception weights (from `genlab eval fetch-weights`)"
    st, pth = save_both_formats(random_fid_inception(0), root / "random")
    return st, pth, "a randomly initialised FID Inception (seed 0): the standard weights were not in the cache"


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=70, help="images per folder in part 1")
    parser.add_argument("--dims", type=int, default=64, choices=(64, 192, 768, 2048))
    parser.add_argument("--pool3-n", type=int, default=4, help="images in part 2 (pool3 and IS)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_start, started = os.getloadavg(), time.perf_counter()
    rows: list[tuple[str, str, float, float]] = []  # (metric, tool, genlab, tool's)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        st, pth, which = weights(root)
        a, b = write_folder(root / "a", args.n, 0, 0), write_folder(root / "b", args.n, 1, 60)
        ref, sample = Reference("b", images_of(b)), images_of(a)
        seed = 7
        ours = Evaluator(ref, get_extractor("inception", st, resize="pytorch-fid", dims=args.dims), seed=seed)(sample)
        rows.append((f"FID ({args.dims}-d)", "pytorch-fid", ours["fid"], pytorch_fid_fid(pth, a, b, dims=args.dims)))
        ours = Evaluator(ref, get_extractor("inception", st, resize="torch-fidelity", dims=args.dims), seed=seed)(
            sample
        )
        layer = str(args.dims)
        theirs = torch_fidelity_metrics(
            pth, a, b, fid=True, kid=True, feature_layer_fid=layer, feature_layer_kid=layer,
            kid_subset_size=args.n, rng_seed=seed,
        )  # fmt: skip
        rows.append((f"FID ({args.dims}-d)", "torch-fidelity", ours["fid"], theirs["frechet_inception_distance"]))
        rows.append((f"KID ({args.dims}-d)", "torch-fidelity", ours["kid"], theirs["kernel_inception_distance_mean"]))
        clean = Evaluator(ref, get_extractor("inception", st, resize="clean", dims=args.dims), seed=seed)(sample)

        few = root / "few"
        few.mkdir()
        for f in sorted(a.iterdir())[: args.pool3_n]:
            (few / f.name).write_bytes(f.read_bytes())
        images = images_of(few)
        pf = get_extractor("inception", st, resize="pytorch-fid").features(images)
        pool3_pf = float(np.abs(pf - pytorch_fid_features(pth, few)).max() / np.abs(pf).max())
        feats, probs = get_extractor("inception", st, resize="torch-fidelity").features_and_probs(images)
        tf = torch_fidelity_features(pth, torch.from_numpy(images), ("2048",))["2048"].double().numpy()
        pool3_tf = float(np.abs(feats - tf).max() / np.abs(feats).max())
        splits = 2
        isc = torch_fidelity_metrics(pth, few, isc=True, isc_splits=splits, rng_seed=seed)["inception_score_mean"]
        rows.append((f"IS ({args.pool3_n} images, {splits} splits)", "torch-fidelity",
                     inception_score(probs, splits=splits, seed=seed)[0], isc))  # fmt: skip
    seconds, load_end = time.perf_counter() - started, os.getloadavg()

    lines = [
        "# FID / KID / IS parity with pytorch-fid and torch-fidelity",
        "",
        "Produced by `python benchmarks/fid_parity.py` (defaults) on "
        f"{datetime.now(timezone.utc):%Y-%m-%d} ({platform.machine()}, {args.threads} threads, torch "
        f"{torch.__version__}); {seconds:.0f} s. The machine is shared by several engineers: load average "
        f"{load_start[0]:.1f} at the start and {load_end[0]:.1f} at the end (`uptime`).",
        "",
        f"**Weights: {which}.** The tools load the same weights through their own code "
        "(pytorch-fid's `fid_inception_v3`, torch-fidelity's `FeatureExtractorInceptionV3`). With random weights "
        "the numbers have no meaning as image quality; they check that every step of the pipelines (file list, "
        "decoding, resize, network, statistics, metric) agrees. The same script uses the standard weights once "
        "they are in the cache.",
        "",
        f"Part 1: two folders of {args.n} RGB 32x32 PNG files (random colours plus noise), {args.dims}-d features "
        "(pytorch-fid's `--dims`; the covariances are regular since each folder has more images than dimensions), "
        f"KID over 100 subsets of {args.n}, seed {seed}. genlab's `--resize` rule is the tool's. Part 2: "
        f"{args.pool3_n} images through the whole network.",
        "",
        "| metric | compared with | genlab | the tool | relative difference |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    lines += [f"| {m} | {tool} | {g:.9g} | {t:.9g} | {rel(g, t):.1e} |" for m, tool, g, t in rows]
    lines += [
        "",
        f"Pool3 (2048-d) features, largest difference / largest value: {pool3_pf:.1e} against pytorch-fid "
        f"(`--resize pytorch-fid`), {pool3_tf:.1e} against torch-fidelity (`--resize torch-fidelity`).",
        "",
        f"The rule matters: the same folders give FID {clean['fid']:.6g} with `--resize clean` (clean-fid's PIL "
        "bicubic, not compared here: clean-fid's network file is another download), against the two rows above. "
        "Compare FIDs only when they were measured with the same rule.",
        "",
        "The IS row is close to 1 because random weights barely tell images apart; the class probabilities behind "
        "it (softmax of the bias-free logits) are compared element by element in the slow test "
        "`tests/eval/test_parity.py::test_pool3_features_logits_and_inception_score`.",
        "",
        "Where the small differences come from: torch-fidelity computes KID in float32 and FID through "
        "eigenvalues rather than pytorch-fid's `sqrtm`; genlab computes both in float64 with pytorch-fid's "
        "algorithm. Both are far inside the 1e-3 target. Covariances from fewer images than feature dimensions are "
        "singular: genlab flags such FIDs (`fid_warning`) and claims no parity there.",
        "",
    ]
    atomic_write_text(args.doc, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
