"""Is the learned extractor (``genlab eval train-extractor --data``) trustworthy? Writes
docs/results/extractor-trust.md and .json.

On MNIST, three SimCLR extractors (seeds 0, 1, 2; self-supervised, so they cannot copy the digit
classifier) are trained on the 60 000 training images for a fixed number of steps (a few CPU
minutes each on 1 thread). Then, against a reference of 2 000 MNIST test images:

(a) degradation families, each starting from real held-out test images: Gaussian noise of rising
    sigma, Gaussian blur of rising radius, classes dropped (10, 8, 5, 2, 1 kept), a collapsed set
    (k distinct images repeated): FID per level (mean and sd over the seeds), monotonicity
    checked per seed; precision/recall on the noise and collapse families;
(b) ranking of trained generators (every checkpoint of the few-step runs, read-only, and of any
    run under runs/): Spearman's rho between the learned extractor's FID and the digit
    classifier's (and Inception's when `genlab eval fetch-weights` has been run);
(c) seed-to-seed sd of FID on the same sets.

    PYTHONPATH=src python benchmarks/extractor_trust.py [--steps 300] [--n 2000]

Trained extractors and generator samples are kept in runs/extractor-trust/ and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter
from scipy.stats import spearmanr

from genlab.atomic import atomic_write_text
from genlab.bench.machine import machine_info
from genlab.data import load_dataset
from genlab.eval.extractors import get_extractor
from genlab.eval.learned import LearnedTraining, train_learned
from genlab.eval.learned_extractor import save_learned
from genlab.eval.metrics import feature_statistics, frechet_distance, precision_recall_density_coverage
from genlab.eval.sources import sample_run
from genlab.eval.weights import cached_weights
from genlab.runs import read_config

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
WORK = ROOT / "runs" / "extractor-trust"
SEEDS = (0, 1, 2)
GENERATOR_DIRS = (Path("/work/wt/distill/runs/few-step"), ROOT / "runs", Path("/work/main/runs"))
NOISE = (8, 16, 32, 64, 128)  # sigma in grey levels of 255
BLUR = (0.5, 1.0, 1.5, 2.0, 3.0)  # PIL GaussianBlur radius (its sigma), px
CLASSES = (8, 5, 2, 1)  # 10 kept is the held-out real set itself
COLLAPSE = (1000, 100, 10, 1)
SLOW_FAMILIES = ("ddpm", "ldm")  # distinct images, repeated to n


def train_extractors(steps: int, log) -> list[Path]:
    """The three SimCLR extractors (reused when present)."""
    images = load_dataset("mnist", "train")[0]
    paths = []
    for seed in SEEDS:
        path = WORK / f"learned-simclr-seed{seed}-{steps}steps.safetensors"
        if not path.is_file():
            opts = LearnedTraining(method="simclr", steps=steps, seed=seed)
            net, manifest = train_learned(opts, images, None, "mnist-train (60000 images)", log=log)
            save_learned(net, manifest, path)
            log(f"trained seed {seed}: {manifest['train_seconds']:.0f} s, loss {manifest['final_loss']:.3f}")
        paths.append(path)
    return paths


def noisy(images: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(images + rng.normal(0, sigma, images.shape), 0, 255).round().astype(np.uint8)


def blurred(images: np.ndarray, radius: float) -> np.ndarray:
    out = [np.asarray(Image.fromarray(im[0]).filter(ImageFilter.GaussianBlur(radius))) for im in images]
    return np.stack(out)[:, None]


def degradation_sets(n: int) -> tuple[np.ndarray, dict[str, list[tuple[str, np.ndarray]]]]:
    """The reference (test[:n]) and the families; every family's first level is the held-out real set test[n:2n]."""
    images, labels, _ = load_dataset("mnist", "test")
    reference, real = images[:n], images[n : 2 * n]
    pool, pool_labels = images[n:], labels[n:]
    rng = np.random.default_rng(0)

    def classes(k: int) -> np.ndarray:
        index = np.flatnonzero(pool_labels < k)
        return pool[rng.choice(index, n, replace=index.size < n)]

    held_out = ("real held-out", real)
    families = {
        "noise (sigma, grey levels)": [held_out] + [(f"{s}", noisy(real, s)) for s in NOISE],
        "blur (radius, px)": [held_out] + [(f"{r}", blurred(real, r)) for r in BLUR],
        "classes kept": [held_out] + [(f"{k}", classes(k)) for k in CLASSES],
        "collapse (distinct images)": [held_out] + [(f"{k}", np.resize(real[:k], real.shape)) for k in COLLAPSE],
    }
    return reference, families


def generator_runs() -> list[tuple[str, Path, str]]:
    """(name, run dir, checkpoint step) of every checkpoint of every run found, but multi-step diffusion runs
    (family ``ddpm`` or ``ldm``: 50 DDIM steps; 2 000 samples of the teacher took over 15 min on this shared
    machine, so they are left out)."""
    found = []
    for root in GENERATOR_DIRS:
        for config in sorted(root.rglob("config.yaml")) if root.is_dir() else []:
            run_dir = config.parent
            if "extractor-trust" in str(run_dir):
                continue
            ckpts = sorted((run_dir / "checkpoints").glob("step_*.json"))
            if read_config(run_dir).family in SLOW_FAMILIES:
                continue
            for ckpt in ckpts:
                step = str(int(ckpt.stem.split("_")[1]))
                found.append((f"{run_dir.relative_to(root)}@{step}", run_dir, step))
    return found


def generator_samples(n: int, log) -> dict[str, np.ndarray]:
    samples = {}
    for name, run_dir, step in generator_runs():
        cache = WORK / "samples" / (name.replace("/", "_").replace("@", "-") + f"-{n}.npy")
        if not cache.is_file():
            start = time.perf_counter()
            try:
                images = sample_run(run_dir, n, step, seed=0, device="cpu").images
            except Exception as e:  # a run this checkout cannot load is left out, and said so
                log(f"skipped {name}: {str(e).splitlines()[0]}")
                continue
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.save(cache, images)
            log(f"sampled {name} in {time.perf_counter() - start:.0f} s")
        samples[name] = np.load(cache)
    return samples


def fid_and_prd(ref_feats: np.ndarray, feats: np.ndarray, prd: bool) -> dict[str, float]:
    result = {"fid": frechet_distance(*feature_statistics(feats), *feature_statistics(ref_feats))}
    if prd:
        p = precision_recall_density_coverage(ref_feats, feats, nearest_k=5)
        result.update(precision=p["precision"], recall=p["recall"])
    return result


def score_all(extractors: dict[str, Any], reference, families, samples) -> dict[str, Any]:
    """FID (and precision/recall for two families) of every set with every extractor."""
    out: dict[str, Any] = {"families": {}, "generators": {}}
    for ex_name, extractor in extractors.items():
        ref_feats = extractor.features(reference)
        for family, levels in families.items():
            prd = family.startswith(("noise", "collapse"))
            rows = out["families"].setdefault(family, {})
            for level, images in levels:
                rows.setdefault(level, {})[ex_name] = fid_and_prd(ref_feats, extractor.features(images), prd)
        for name, images in samples.items():
            out["generators"].setdefault(name, {})[ex_name] = fid_and_prd(ref_feats, extractor.features(images), False)
    return out


def monotone(values: list[float]) -> bool:
    return all(b > a for a, b in zip(values, values[1:], strict=False))


def analyse(scores: dict[str, Any], learned: list[str], others: list[str]) -> dict[str, Any]:
    """Monotonicity per family and seed, seed sd per set, Spearman's rho of the rankings."""
    checks: dict[str, Any] = {"monotone": {}, "real_lowest": {}, "rho": {}, "seed_sd": {}}
    all_sets: dict[str, dict[str, float]] = {}
    for family, rows in scores["families"].items():
        for ex in learned + others:
            fids = [rows[level][ex]["fid"] for level in rows]
            checks["monotone"][f"{family} / {ex}"] = monotone(fids)
        for level, row in rows.items():
            all_sets[f"{family}: {level}"] = {ex: row[ex]["fid"] for ex in row}
    for ex in learned + others:
        real = min(v[ex] for k, v in all_sets.items() if k.endswith("real held-out"))
        best_degraded = min(v[ex] for k, v in all_sets.items() if not k.endswith("real held-out"))
        checks["real_lowest"][ex] = bool(real < best_degraded)
    for set_name, row in {**all_sets, **scores["generators"]}.items():
        values = [row[ex] if isinstance(row[ex], float) else row[ex]["fid"] for ex in learned]
        checks["seed_sd"][set_name] = {"mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1))}
    gens = scores["generators"]
    for what, table in (
        ("generators", {k: {e: v[e]["fid"] for e in v} for k, v in gens.items()}),
        ("all degradation sets", all_sets),
    ):
        if len(table) < 3:
            continue
        names = sorted(table)
        for other in others:
            ref = [table[k][other] for k in names]
            per_seed = [float(spearmanr([table[k][ex] for k in names], ref).statistic) for ex in learned]
            mean_rank = float(spearmanr([np.mean([table[k][ex] for ex in learned]) for k in names], ref).statistic)
            checks["rho"][f"{what}: learned vs {other}"] = {"per_seed": per_seed, "mean_fid": mean_rank}
    return checks


def fmt(values: list[float]) -> str:
    return f"{np.mean(values):.2f} ± {np.std(values, ddof=1):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def page(scores, checks, learned, others, meta) -> str:
    lines = [
        "# Is the learned extractor trustworthy? (MNIST)",
        "",
        f"Made by `{meta['command']}` on {meta['machine']['cores']} CPU cores (shared with other engineers' jobs; "
        f"load average {meta['machine']['load_average']} at the start, {meta['load_end']} at the end), torch "
        f"{meta['machine']['torch']}, 1 thread, {meta['machine']['date']}; this run took {meta['minutes']:.0f} min "
        "(the extractors and generator samples are kept in runs/extractor-trust/ and reused when present).",
        "",
        f"- Extractors: `learned` = SimCLR (self-supervised: it never saw a label, so it cannot copy the digit "
        f"classifier) trained on the 60 000 MNIST training images for {meta['steps']} steps of batch 128 "
        f"(about {meta['train_minutes']:.1f} min each, wall clock on 1 thread of the shared machine), seeds "
        f"{', '.join(map(str, SEEDS))}; "
        "`digits` = the shipped digit classifier (supervised).",
        f"- Reference: the first {meta['n']} MNIST test images. Every set has n = {meta['n']} images. Each family "
        f"starts at the real held-out set (test images {meta['n']}..{2 * meta['n'] - 1}; it holds all 10 classes).",
        "- FID of the learned extractor: mean ± sd over the 3 seeds; digits: one number.",
        "",
        "## (a) Degradation families",
        "",
    ]
    for family, rows in scores["families"].items():
        prd = "precision" in next(iter(rows.values()))[learned[0]]
        head = (
            "| " + family + " | learned FID | digits FID |" + (" learned precision | learned recall |" if prd else "")
        )
        lines += [head, "|---|---|---|" + ("---|---|" if prd else "")]
        for level, row in rows.items():
            cells = [fmt([row[ex]["fid"] for ex in learned])] + [f"{row[o]['fid']:.2f}" for o in others]
            if prd:
                cells += [fmt([row[ex][m] for ex in learned]) for m in ("precision", "recall")]
            lines.append(f"| {level} | " + " | ".join(cells) + " |")
        lines.append("")
    bad = [k for k, ok in checks["monotone"].items() if not ok]
    lines += [
        "Monotone (FID strictly rising with the degradation, checked per extractor and per seed): "
        + (
            "**all** " + str(len(checks["monotone"])) + " family/extractor pairs."
            if not bad
            else f"{len(checks['monotone']) - len(bad)} of {len(checks['monotone'])}; **not monotone: "
            + "; ".join(bad)
            + "**."
        ),
        "Real held-out data scores lowest of all sets: "
        + ", ".join(f"{ex} {'yes' if ok else '**no**'}" for ex, ok in checks["real_lowest"].items())
        + ".",
        "",
    ]
    collapse = scores["families"].get("collapse (distinct images)", {})
    if "1000" in collapse and any(not ok for k, ok in checks["monotone"].items() if k.startswith("collapse")):
        real_fid = fmt([collapse["real held-out"][ex]["fid"] for ex in learned])
        dup_fid = fmt([collapse["1000"][ex]["fid"] for ex in learned])
        dup_recall = fmt([collapse["1000"][ex]["recall"] for ex in learned])
        real_recall = fmt([collapse["real held-out"][ex]["recall"] for ex in learned])
        lines += [
            f"Where the collapse family breaks: 1 000 distinct images each shown twice score FID {dup_fid} against "
            f"{real_fid} for the real held-out set, a tie within the seed spread. Duplicating every image barely "
            "moves a mean and a covariance, so FID (with any extractor) hardly sees a mild collapse; recall does "
            f"({dup_recall} against {real_recall}). Read FID with recall/coverage.",
            "",
        ]
    lines += [
        "## (b) Ranking agreement (Spearman's rho)",
        "",
        "| sets | rho per seed | rho of the seed-mean FID |",
        "|---|---|---|",
    ]
    for what, r in checks["rho"].items():
        lines.append(f"| {what} | {', '.join(f'{v:.3f}' for v in r['per_seed'])} | {r['mean_fid']:.3f} |")
    lines += [""]
    if "inception" not in others:
        lines += [
            "The Inception ranking could not be computed here: the standard FID Inception weights are not in the "
            "cache on this machine (no internet). After `genlab eval fetch-weights` this benchmark computes it too "
            "(rows `learned vs inception`).",
            "",
        ]
    lines += [
        f"Generators ({len(scores['generators'])}: every checkpoint of the few-step runs and any run under runs/, "
        f"{meta['n']} samples each, seed 0; the 50-step DDPM teacher is left out, too slow to sample here):",
        "",
        "| generator checkpoint | learned FID | " + " | ".join(f"{o} FID" for o in others) + " |",
        "|---|---|" + "---|" * len(others),
    ]
    for name, row in sorted(scores["generators"].items(), key=lambda kv: kv[1][others[0]]["fid"]):
        cells = [fmt([row[ex]["fid"] for ex in learned])] + [f"{row[o]['fid']:.2f}" for o in others]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    sds = checks["seed_sd"]
    rel = [v["sd"] / v["mean"] for v in sds.values() if v["mean"] > 0]
    lines += [
        "",
        "## (c) Seed-to-seed spread",
        "",
        f"Over the {len(sds)} sets above, the sd of the learned FID over the 3 extractor seeds is "
        f"{np.median(rel) * 100:.1f} % of its mean (median; max {np.max(rel) * 100:.1f} %). The sd is in every "
        "table beside the mean. FID values of different extractors (or different seeds) are on different scales: "
        "compare rankings, not raw numbers, across extractors.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="SimCLR steps per extractor seed")
    parser.add_argument("--n", type=int, default=2000, help="images per set")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start, machine = time.perf_counter(), machine_info()
    log = print
    WORK.mkdir(parents=True, exist_ok=True)
    paths = train_extractors(args.steps, log)
    train_minutes = float(np.mean([json.loads(p.with_suffix(".json").read_text())["train_seconds"] for p in paths]))
    extractors: dict[str, Any] = {f"learned-seed{s}": get_extractor("learned", p) for s, p in zip(SEEDS, paths)}
    extractors["digits"] = get_extractor("digits")
    if cached_weights() is not None:
        extractors["inception"] = get_extractor("inception")
    learned = [k for k in extractors if k.startswith("learned")]
    others = [k for k in extractors if k not in learned]
    reference, families = degradation_sets(args.n)
    samples = generator_samples(args.n, log)
    scores = score_all(extractors, reference, families, samples)
    checks = analyse(scores, learned, others)
    meta = {
        "command": f"PYTHONPATH=src python benchmarks/extractor_trust.py --steps {args.steps} --n {args.n}",
        "machine": machine,
        "load_end": [round(v, 2) for v in os.getloadavg()],
        "minutes": (time.perf_counter() - start) / 60,
        "steps": args.steps,
        "n": args.n,
        "train_minutes": train_minutes / 60,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS / "extractor-trust.md", page(scores, checks, learned, others, meta))
    atomic_write_text(
        RESULTS / "extractor-trust.json", json.dumps({"meta": meta, "scores": scores, "checks": checks}, indent=1)
    )
    print(f"wrote {RESULTS / 'extractor-trust.md'}")


if __name__ == "__main__":
    main()
