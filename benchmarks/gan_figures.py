"""Figures from GAN runs: the WGAN-GP critic's Wasserstein estimate against FID, and a
collapsing run beside a healthy one (class histogram and coverage over training).

    python benchmarks/gan_families.py --steps 1000 -n 1000      # first: trains runs/gan-bench/*
    python benchmarks/gan_figures.py                   # trains the collapsing run, draws both figures

Every number plotted is read from the runs' metrics.jsonl, where the trainer's in-training
evaluations (genlab's evaluation suite: FID, coverage, class histogram from the digit
classifier) and the logged losses land.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from genlab.config import TrainConfig
from genlab.eval.evaluate import Evaluator, load_reference
from genlab.models.registry import get_family
from genlab.plots import figure, save_figure
from genlab.runs import RunConfig, read_metrics
from genlab.training import train

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
# A generator that learns ten times faster than its discriminator (TTUR turned the wrong way
# round), without dropout in D: G can hop to whichever digit D currently accepts, the
# "Helvetica scenario" of mode collapse (Goodfellow 2016, section 5.1.1).
COLLAPSE = {"family": "gan", "model": {"hidden": 128, "dropout": 0.0, "lr": 2e-3, "lr_d": 2e-4}}


def wasserstein_vs_fid(run_dir: Path) -> Path:
    records = read_metrics(run_dir)
    w = [(r["step"], r["w_estimate"]) for r in records if "w_estimate" in r]
    fid = [(r["step"], r["eval_fid"]) for r in records if "eval_fid" in r]
    fig, ax = figure(size=(5.5, 3.5))
    ax.plot(*zip(*w), color="tab:blue", label="critic's W estimate  E D(x) - E D(G(z))")
    ax.set_xlabel("generator step")
    ax.set_ylabel("W estimate", color="tab:blue")
    right = ax.twinx()
    right.plot(*zip(*fid), "o-", color="tab:red", label="FID (in-training evaluations)")
    right.set_ylabel("FID (digits extractor)", color="tab:red")
    # Rank correlation between FID and the W estimate logged nearest each evaluation.
    w_steps = np.array([s for s, _ in w])
    w_at = [w[int(np.argmin(np.abs(w_steps - s)))][1] for s, _ in fid]
    rho = spearmanr(w_at, [f for _, f in fid]).statistic if len(fid) > 2 else float("nan")
    ax.set_title(
        f"wgan-gp ({run_dir.name}): W estimate vs FID, Spearman rho = {rho:.2f} over {len(fid)} evaluations",
        fontsize=8,
    )
    return save_figure(fig, RESULTS / "gan-wgan-gp-w-vs-fid.png")


def class_fractions(run_dir: Path) -> tuple[list[int], np.ndarray, list[float]]:
    evals = [r for r in read_metrics(run_dir) if "eval_class_histogram" in r]
    steps = [r["step"] for r in evals]
    hist = np.array([r["eval_class_histogram"] for r in evals], dtype=float)
    return steps, hist / hist.sum(axis=1, keepdims=True), [r["eval_coverage"] for r in evals]


def collapse_figure(collapsing: Path, healthy: Path) -> Path:
    fig, axes = figure(1, 3, size=(13, 3.6))
    for ax, run_dir, title in ((axes[0], collapsing, "collapsing"), (axes[1], healthy, "healthy")):
        steps, frac, _ = class_fractions(run_dir)
        im = ax.imshow(
            frac.T,
            aspect="auto",
            origin="lower",
            cmap="viridis",
            vmin=0,
            vmax=0.5,
            extent=(steps[0], steps[-1], -0.5, 9.5),
        )
        ax.set(xlabel="step", ylabel="digit (classifier)", yticks=range(10), title=f"{title}: {run_dir.name}")
        fig.colorbar(im, ax=ax, label="share of samples")
    for run_dir, style in ((collapsing, "o-"), (healthy, "s-")):
        steps, _, cov = class_fractions(run_dir)
        axes[2].plot(steps, cov, style, label=run_dir.name)
    axes[2].set(xlabel="step", ylabel="coverage (k=5)", title="coverage over training (share of test images)")
    axes[2].legend(fontsize=8)
    return save_figure(fig, RESULTS / "gan-collapse.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=Path("runs/gan-bench"))
    parser.add_argument("--healthy", default="dcgan", help="a run of the families benchmark to compare with")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--only", choices=["wgan", "collapse"], help="draw one of the two figures")
    args = parser.parse_args()
    if args.only != "collapse":
        print("wrote", wasserstein_vs_fid(args.bench / "wgan-gp"))
    if args.only == "wgan":
        return
    spec = get_family(COLLAPSE["family"])
    run_dir = args.bench / "collapse"
    if not (run_dir / "card.md").is_file():  # the trainer writes the card when a run completes
        shutil.rmtree(run_dir, ignore_errors=True)
        tc = TrainConfig(
            seed=0,
            batch_size=64,
            steps=args.steps,
            eval_every=args.steps // 6,
            eval_samples=1000,
            sample_every=args.steps,
            checkpoint_every=args.steps,
            grid_size=100,
        )
        train(
            RunConfig(spec.name, spec.config_cls(**COLLAPSE["model"]), tc),
            run_dir,
            quiet=True,
            evaluate=Evaluator(load_reference("mnist-test")),
        )
    if (args.bench / args.healthy / "metrics.jsonl").is_file():
        print("wrote", collapse_figure(run_dir, args.bench / args.healthy))


if __name__ == "__main__":
    main()
