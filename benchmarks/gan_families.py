"""Every GAN family under the same CPU budget, scored by one evaluation suite.

    python benchmarks/gan_families.py --minutes 4          # writes docs/results/gan.md

Each family trains from scratch (preset ``small``, seed 0, batch 64) for as many steps as
fit in the budget on this machine: the time per step is measured on 20 steps first, and
the wall time actually spent is reported. Every run evaluates itself during training
(FID, coverage and the class histogram with the digit classifier, 1 000 samples) so
the W-estimate-vs-FID and collapse figures come from the same runs. Final numbers use
5 000 samples against the MNIST test set (shapes64 test set and the shapes classifier
for ``dcgan64``). Conditional families are sampled with labels cycling 0..9.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

import torch

from genlab.config import TrainConfig
from genlab.data import Batcher, load_dataset, save_grid
from genlab.eval.evaluate import Evaluator, format_metric, load_reference
from genlab.eval.extractors import get_extractor
from genlab.models.registry import family_names, get_family
from genlab.train import RunConfig, train
from genlab.train.loading import load_family, sample_in_batches
from genlab.train.trainer import grid_labels

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
FAMILIES = ["gan", "cgan", "dcgan", "cdcgan", "wgan", "wgan-gp", "numpy-gan", "dcgan64"]
COLUMNS = ["fid", "kid", "precision", "recall", "coverage", "modes_covered", "conditional_accuracy"]


def seconds_per_step(name: str, model_cfg, dataset: str, batch_size: int) -> float:
    """Median-free estimate: 5 warm-up steps, then the mean of 20 timed ones."""
    spec = get_family(name)
    images, labels, info = load_dataset(dataset, "train")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        family = spec.family_cls(model_cfg, info)
        k = family.batches_per_step
        batcher = Batcher(images, labels, batch_size=batch_size * k, seed=0, scale=family.data_scale)
        g = torch.Generator().manual_seed(0)
        for i in range(25):
            if i == 5:
                start = time.perf_counter()
            x, y = batcher.next_batch()
            family.train_step(x, y, g)
    return (time.perf_counter() - start) / 20


def evaluator_for(dataset: str) -> Evaluator:
    if dataset == "shapes64":
        return Evaluator(load_reference("shapes64-test"), get_extractor("shapes"))
    return Evaluator(load_reference("mnist-test"))


def run_family(name: str, minutes: float, out: Path, n_eval: int, batch_size: int) -> dict:
    spec = get_family(name)
    model_cfg = spec.config_cls(**spec.presets.get("small", {}))
    per_step = seconds_per_step(name, model_cfg, spec.dataset, batch_size)
    steps = max(50, int(minutes * 60 / per_step))
    eval_every = max(25, steps // 6)
    tc = TrainConfig(dataset=spec.dataset, seed=0, batch_size=batch_size, steps=steps, log_every=max(10, steps // 60),
                     sample_every=steps, checkpoint_every=steps, eval_every=eval_every, eval_samples=1000, grid_size=100)
    run_dir = out / name
    shutil.rmtree(run_dir, ignore_errors=True)
    evaluator = evaluator_for(spec.dataset)
    start = time.perf_counter()
    result = train(RunConfig(name, model_cfg, tc), run_dir, quiet=True, evaluate=evaluator)
    wall = time.perf_counter() - start
    family, _, _ = load_family(run_dir)
    labels = torch.arange(n_eval) % family.info.num_classes if family.conditional else None
    images = sample_in_batches(family, n_eval, labels=labels, seed=1)
    scores = evaluator(images, None if labels is None else labels.numpy())
    grid_lab = grid_labels(100, family.info.num_classes) if family.conditional else None
    grid = sample_in_batches(family, 100, labels=grid_lab, seed=2)
    save_grid(RESULTS / f"gan-{name}.png", grid)
    return {"family": name, "dataset": spec.dataset, "steps": steps, "train_s": result.wall_seconds, "wall_s": wall,
            "params": result.num_parameters, "s_per_step": per_step, "scores": scores,
            "config": {k: v for k, v in spec.presets.get("small", {}).items()}}


def write_doc(rows: list[dict], minutes: float, batch_size: int, n_eval: int, command: str) -> None:
    lines = [
        "# GAN families under one CPU budget",
        "",
        f"Produced by `{command}` on {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads. Each family: preset `small`, seed 0, batch {batch_size}, {minutes:g} minutes of training "
        "(steps = budget / measured seconds per step; the table gives the wall time actually spent, which includes the in-training "
        f"evaluations). Scores: {n_eval} samples vs the MNIST test set with the digits extractor (FID, KID x 1000, precision/recall/coverage k=5), "
        "`dcgan64` vs the shapes64 test set with the shapes classifier. Conditional families sample labels 0..9 in turn; conditional "
        "accuracy is the share the classifier assigns to the requested label. Compare FID only within one data set.",
        "",
        "| family | data | params | steps | train wall (s) | FID | KID x1000 | precision | recall | coverage | classes covered | cond. acc. |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        s = r["scores"]
        cells = [format_metric(k, s) for k in COLUMNS]
        lines.append(f"| `{r['family']}` | {r['dataset']} | {r['params']:,} | {r['steps']} | {r['train_s']:.0f} | " + " | ".join(cells) + " |")
    lines += ["", "Final samples (10x10; conditional families one class per row):", ""]
    lines += [f"- `{r['family']}`: ![{r['family']}](gan-{r['family']}.png)" for r in rows]
    lines += ["", "Raw numbers: `gan-families.json` beside this file.", ""]
    (RESULTS / "gan.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=4.0, help="training budget per family")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("-n", type=int, default=5000, help="samples scored per family")
    parser.add_argument("--out", type=Path, default=Path("runs/gan-bench"))
    args = parser.parse_args()
    names = [f for f in args.families.split(",") if f in family_names()]
    rows = []
    for name in names:
        row = run_family(name, args.minutes, args.out, args.n, args.batch_size)
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "scores"} | {k: row["scores"].get(k) for k in COLUMNS}), flush=True)
    (RESULTS / "gan-families.json").write_text(json.dumps(rows, indent=1, default=str))
    write_doc(rows, args.minutes, args.batch_size, args.n, f"python benchmarks/gan_families.py --minutes {args.minutes:g}")


if __name__ == "__main__":
    main()
