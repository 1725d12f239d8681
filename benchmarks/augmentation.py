"""Does generated data help a rare class? MNIST with one digit cut to 1 % and 0.1 %, six ways to make up for it.

    OMP_NUM_THREADS=1 python benchmarks/augmentation.py        # writes docs/results/augmentation.md (+ .json)
    python benchmarks/augmentation.py --render                 # the page again from the JSON, no training
    python benchmarks/augmentation.py --tiny --out /tmp/aug    # a few hundred images, a few steps: the test path

One digit (``--rare``, default 5) of the MNIST training set is cut to each ``--fractions`` share of
its images (seeded, data seed 0); the other classes stay whole. A small CNN
(genlab.bench.augmentation.SmallCNN) is trained for the same number of Adam steps on each arm:
(a) the reduced set as is, (b) the rare class oversampled to the median class count, (c) the rare
class topped up to that count with random affine copies (rotation, shift, zoom), (d)-(f) topped up
with samples of that class from a conditional GAN (cdcgan), a class-conditional DDPM and a CVAE,
each trained by genlab's trainer on the same reduced set (written to ``--work`` as an ``.npz`` and
read as own data). Scores on the 10 000 MNIST test images: the rare class's recall and precision,
overall accuracy, the mean recall of the other classes; mean and sd over ``--seeds`` classifier
seeds. Generators: one training seed per cut rate; their runs and samples are cached in ``--work``.
The shipped digit classifier says what share of each generator's rare-class samples it reads as the
rare digit. One torch thread throughout.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from augmentation_page import render_page

from genlab.atomic import atomic_write_text
from genlab.bench.augmentation import (
    ClassifierSettings,
    SmallCNN,
    augment_affine,
    label_following,
    median_count,
    oversample_indices,
    reduce_class,
    score_classifier,
    train_classifier,
)
from genlab.bench.augmentation_models import DONE, GeneratorSpec, sample_class, train_generator, write_reduced_npz
from genlab.bench.machine import machine_info
from genlab.data import load_dataset, load_samples, save_grid, save_samples
from genlab.errors import ConfigError, GenlabError
from genlab.eval.extractors import get_extractor
from genlab.files import MAX_JSON_BYTES, read_json

ROOT = Path(__file__).resolve().parent.parent
ARMS = ("none", "oversample", "affine", "cdcgan", "ddpm", "cvae")
TINY_PER_CLASS, TINY_TEST = 40, 200


def generators(args: argparse.Namespace) -> list[GeneratorSpec]:
    """The three generative arms and their budgets (DDPM: DDIM, ``--ddim-steps`` steps, bfloat16 autocast)."""
    return [
        GeneratorSpec("cdcgan", steps=args.gan_steps),
        GeneratorSpec(
            "ddpm",
            steps=args.ddpm_steps,
            sampling={"sampler": "ddim", "sample_steps": args.ddim_steps, "sample_dtype": "bfloat16"},
        ),
        GeneratorSpec("cvae", steps=args.cvae_steps),
    ]


def parse_fractions(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"--fractions must be comma-separated numbers in (0, 1], got {text!r}") from None
    bad = [v for v in values if not 0.0 < v <= 1.0]
    if bad:
        raise ConfigError(f"a rare fraction must be in (0, 1], got {bad[0]:g}")
    return values


def load_data(tiny: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST train and test (``tiny``: the first 40 training images of each class and 200 test images)."""
    x, y, _ = load_dataset("mnist", "train")
    xt, yt, _ = load_dataset("mnist", "test")
    if tiny:
        keep = np.concatenate([np.flatnonzero(y == k)[:TINY_PER_CLASS] for k in range(10)])
        x, y, xt, yt = x[np.sort(keep)], y[np.sort(keep)], xt[:TINY_TEST], yt[:TINY_TEST]
    return np.asarray(x), np.asarray(y), np.asarray(xt), np.asarray(yt)


def generated(gen, args, data: Path, work: Path, n: int) -> tuple[dict, np.ndarray]:
    """Train (or reuse) one generator on ``data`` and its ``n`` rare-class samples (cached)."""
    run_dir = work / gen.family
    record = train_generator(
        gen, data, run_dir, seed=0, batch_size=args.gen_batch, max_minutes=args.gen_minutes, tiny=args.tiny
    )
    cache = run_dir / f"rare-{args.rare}-n{n}.npz"
    if record["reused"] and cache.is_file() and "sample_s" in record:
        images, _ = load_samples(cache)
        return record, images
    images, seconds = sample_class(gen, run_dir, n, args.rare, seed=0)
    save_samples(cache, images)
    record = {k: v for k, v in record.items() if k != "reused"} | {"sample_s": seconds}
    atomic_write_text(run_dir / DONE, json.dumps(record, indent=1, default=str))
    return record | {"reused": False}, images


def shown(path: Path) -> str:
    """A path as the results file shows it: relative to the repository when inside it."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run_fraction(args, fraction: float, data, digits) -> dict:
    """Every arm at one cut rate: the reduced set, the generators, the classifiers."""
    x, y, xt, yt = data
    xr, yr = reduce_class(x, y, args.rare, fraction, seed=0)
    rare = xr[yr == args.rare]
    target = median_count(yr, args.rare)
    n_gen = target - len(rare)
    work = args.work / f"rare{args.rare}-f{fraction:g}"
    npz = write_reduced_npz(work / "reduced.npz", xr, yr, xt[:1000], yt[:1000])
    out = {"fraction": fraction, "rare_count": len(rare), "rare_count_full": int((y == args.rare).sum())}
    out |= {"target": target, "train_size": len(yr), "generators": []}
    extra: dict[str, np.ndarray] = {}
    for gen in generators(args):
        record, images = generated(gen, args, npz, work, n_gen)
        record["follows_label"] = label_following(digits.probs(images), args.rare)
        out["generators"].append(record | {"data": shown(npz)})
        extra[gen.family] = images
        print(json.dumps({"fraction": fraction} | {k: record[k] for k in ("family", "steps", "train_s")}), flush=True)
    affine_probe = augment_affine(rare, n_gen, torch.Generator().manual_seed(0))
    out["follows_label_affine"] = label_following(digits.probs(affine_probe), args.rare)
    out["follows_label_real"] = label_following(digits.probs(rare), args.rare)
    noise = np.random.default_rng(0).integers(0, 256, (500, *rare.shape[1:]), dtype=np.uint8)
    out["follows_label_noise"] = label_following(digits.probs(noise), args.rare)  # what a failed generator scores
    grid = [rare[np.arange(10) % len(rare)], affine_probe[:10]] + [extra[g][:10] for g in extra]
    save_grid(args.out / f"augmentation-rare{args.rare}-f{fraction:g}.png", np.concatenate(grid), nrow=10)
    settings = ClassifierSettings(steps=args.clf_steps, batch_size=args.clf_batch)
    out["arms"] = {arm: [] for arm in ARMS}
    for seed in range(args.seeds):
        g = torch.Generator().manual_seed(1000 + seed)
        made = {
            "none": (xr, yr),
            "oversample": (rare[oversample_indices(len(rare), target, g).numpy()], None),
            "affine": (augment_affine(rare, n_gen, g), None),
        } | {name: (images, None) for name, images in extra.items()}
        for arm in ARMS:
            images, labels = made[arm]
            if labels is None:  # the rare class's extra images, appended to the other classes (and, but for
                # oversampling, which already holds them, the real rare images)
                base = yr != args.rare if arm == "oversample" else np.ones(len(yr), bool)
                images = np.concatenate([xr[base], images])
                labels = np.concatenate([yr[base], np.full(len(images) - int(base.sum()), args.rare)])
            start = time.perf_counter()
            model = train_classifier(images, labels, 10, settings, seed)
            scores = score_classifier(model, xt, yt, args.rare)
            scores |= {"train_s": time.perf_counter() - start, "seed": seed, "train_size": len(labels)}
            out["arms"][arm].append(scores)
            print(json.dumps({"fraction": fraction, "arm": arm} | scores), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rare", type=int, default=5, help="the digit cut to a small share (not 8: see the page)")
    parser.add_argument("--fractions", default=None, help="shares of the rare class kept (default 0.01,0.001)")
    parser.add_argument("--seeds", type=int, default=3, help="classifier seeds per arm")
    parser.add_argument("--clf-steps", type=int, default=800)
    parser.add_argument("--clf-batch", type=int, default=64)
    parser.add_argument("--gan-steps", type=int, default=3000)
    parser.add_argument("--ddpm-steps", type=int, default=1000)
    parser.add_argument("--cvae-steps", type=int, default=6000)
    parser.add_argument("--ddim-steps", type=int, default=20)
    parser.add_argument("--gen-batch", type=int, default=64)
    parser.add_argument("--gen-minutes", type=float, default=4.5, help="wall-time cap of each generator's training")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "augmentation")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results")
    parser.add_argument("--tiny", action="store_true", help="a few hundred images and a few steps (the test path)")
    parser.add_argument("--render", action="store_true", help="rewrite the page from the JSON, train nothing")
    args = parser.parse_args(argv)
    try:
        return run(args, argv if argv is not None else sys.argv[1:])
    except GenlabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace, argv: list[str]) -> int:
    json_path, page = args.out / "augmentation.json", args.out / "augmentation.md"
    if args.render:
        atomic_write_text(page, render_page(read_json(json_path, MAX_JSON_BYTES, "results file", ConfigError)))
        return 0
    fractions = parse_fractions(args.fractions or ("0.1" if args.tiny else "0.01,0.001"))
    if not 0 <= args.rare <= 9:
        raise ConfigError(f"--rare must be an MNIST class 0..9, got {args.rare}")
    for name in ("seeds", "clf_steps", "clf_batch", "gan_steps", "ddpm_steps", "cvae_steps", "ddim_steps"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.tiny:
        args.gan_steps, args.ddpm_steps, args.cvae_steps, args.clf_steps = 4, 4, 4, 5
        args.ddim_steps, args.seeds = min(args.ddim_steps, 4), min(args.seeds, 2)
        args.work = args.work if "--work" in argv else args.out / "work"
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    data, digits = load_data(args.tiny), get_extractor("digits")
    start = time.perf_counter()
    result = {
        "command": "python benchmarks/augmentation.py " + shlex.join(argv),
        "machine": machine_info(),
        "threads": 1,
        "tiny": args.tiny,
        "rare": args.rare,
        "seeds": args.seeds,
        "classifier": {
            "steps": args.clf_steps,
            "batch_size": args.clf_batch,
            "lr": ClassifierSettings().lr,
            "params": sum(p.numel() for p in SmallCNN(1, 28, 10).parameters()),
        },
        "generator_budget": {
            "gen_batch": args.gen_batch,
            "gen_minutes_cap": args.gen_minutes,
            "ddim_steps": args.ddim_steps,
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS", ""),
        },
        "fractions": [],
    }
    for fraction in fractions:
        result["fractions"].append(run_fraction(args, fraction, data, digits))
        result["wall_s"] = time.perf_counter() - start
        result["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
        atomic_write_text(json_path, json.dumps(result, indent=1, default=str))
        atomic_write_text(page, render_page(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
