"""Diffusion results on this CPU: speed of DDIM-50, quality, a grid per class, trajectories.

    genlab train ddpm --preset small --steps 5000 --out runs/ddpm-small   # the 25-minute run
    python benchmarks/diffusion.py --run runs/ddpm-small

Speed is measured in this process for our sampler (DDIM-50, inference mode, channels-last
U-Net) and for the textbook way of sampling the same network (DDPM ancestral, all 1000
steps, plain autograd-tracking mode), and the ratio is printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from genlab.data import load_dataset, save_grid, to_uint8
from genlab.eval.evaluate import Evaluator, format_metric, load_reference
from genlab.eval.features import DigitExtractor
from genlab.math.diffusion import q_sample
from genlab.runs import read_metrics
from genlab.runs.loading import load_family, sample_in_batches
from genlab.samplers import DDPMSampler, run_sampler

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"


def images_per_second(fn, n: int, repeats: int = 2) -> float:
    fn(min(n, 10))  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - start)
    return n / best


def textbook_ddpm_1000(family, n: int) -> torch.Tensor:
    """Ancestral sampling over all T steps without inference mode: how reference code samples."""
    sampler = DDPMSampler(family.betas)
    sampler.set_timesteps(family.cfg.diffusion_steps)
    net = family.nets["ema"].net.eval()
    labels = torch.arange(n) % 10
    with torch.no_grad():

        def eps(x, i):
            return net(x, torch.full((n,), i), labels)

        return run_sampler(sampler, eps, torch.randn(n, 1, 28, 28), torch.Generator().manual_seed(0))


SEE_ALSO = [
    "## See also",
    "",
    "- [diffusion-sweep.md](diffusion-sweep.md): quality and time per image against sampler, steps and "
    "guidance scale.",
    "- [ldm.md](ldm.md): latent diffusion in a trained VAE's latent space, compared with this model at equal steps.",
    "- [diffusion-vs-gan.md](diffusion-vs-gan.md): this model against the best GAN runs, scored the same way.",
    "",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=Path("runs/ddpm-small"))
    parser.add_argument("-n", type=int, default=2000, help="samples scored per setting")
    args = parser.parse_args()
    family, run, meta = load_family(args.run)
    records = read_metrics(args.run)
    wall = max(r["elapsed_s"] for r in records if "elapsed_s" in r)
    params = sum(p.numel() for p in family.nets["unet"].parameters())

    # 1. Speed: ours vs the textbook loop, same network, same process.
    ddim_rate = images_per_second(lambda k: family.sample(k, generator=torch.Generator().manual_seed(0)), 200)
    guided, _, _ = load_family(args.run, overrides={"guidance": 3.0})
    guided_rate = images_per_second(lambda k: guided.sample(k, generator=torch.Generator().manual_seed(0)), 200)
    ddpm_rate = images_per_second(lambda k: textbook_ddpm_1000(family, k), 20, repeats=1)
    print(
        f"DDIM-50 {ddim_rate:.1f} img/s, DDIM-50 guided (w=3) {guided_rate:.1f} img/s, textbook DDPM-1000 "
        f"{ddpm_rate:.2f} img/s, ratio {ddim_rate / ddpm_rate:.0f}x"
    )

    # 2. Quality with the evaluation suite (labels cycle through 0..9).
    evaluator = Evaluator(load_reference("mnist-test"))
    classifier = DigitExtractor()
    rows = {}
    for label, overrides in [
        ("DDIM-50, w=1 (conditional)", {}),
        ("DDIM-50, w=3 (guided)", {"guidance": 3.0}),
        ("DDIM-50, w=0 (unconditional)", {"guidance": 0.0}),
    ]:
        fam, _, _ = load_family(args.run, overrides=overrides)
        labels = torch.arange(args.n) % 10
        images = sample_in_batches(fam, args.n, labels=labels, seed=1)
        r = evaluator(images, labels.numpy() if overrides.get("guidance", 1.0) > 0 else None)
        probs = classifier.probs(images)
        r["confident"] = float((probs.max(1) > 0.9).mean())
        rows[label] = r
    real = evaluator(load_reference("mnist-train", n=args.n).images)
    real["confident"] = float((classifier.probs(load_reference("mnist-train", n=args.n).images).max(1) > 0.9).mean())
    rows[f"real data: MNIST train[:{args.n}]"] = real

    # 3. Figures: a grid with one row per class; forward and reverse trajectories.
    grid_labels = torch.arange(10).repeat_interleave(10)
    save_grid(
        RESULTS / "ddpm-small-per-class.png",
        to_uint8(family.sample(100, labels=grid_labels, generator=torch.Generator().manual_seed(2))),
        nrow=10,
    )
    test = torch.tensor(load_dataset("mnist", "test")[0][:5], dtype=torch.float32) / 127.5 - 1
    noise = torch.randn(test.shape, generator=torch.Generator().manual_seed(3))
    forward = [test] + [
        q_sample(test, torch.full((5,), t - 1), noise, family.alpha_bar) for t in (200, 500, 800, 1000)
    ]
    trajectory: list = []
    family.sample(5, labels=torch.arange(5), generator=torch.Generator().manual_seed(4), trajectory=trajectory)
    picks = [trajectory[int(k)][1] for k in np.linspace(0, len(trajectory) - 1, 6).round()]  # x_T ... x_0
    rows_fwd = torch.stack(forward, 1).flatten(0, 1)  # (5 images x 5 levels)
    rows_rev = torch.stack(picks, 1).flatten(0, 1)
    save_grid(RESULTS / "ddpm-forward.png", to_uint8(rows_fwd.clamp(-1, 1)), nrow=5)
    save_grid(RESULTS / "ddpm-reverse.png", to_uint8(rows_rev.clamp(-1, 1)), nrow=len(picks))

    machine = (
        f"{os.cpu_count()} CPU cores, torch {torch.__version__} ({torch.get_num_threads()} threads), Python "
        f"{platform.python_version()}"
    )
    metric_names = [
        "fid",
        "kid",
        "inception_score",
        "modes_covered",
        "precision",
        "recall",
        "coverage",
        "conditional_accuracy",
        "confident",
    ]
    lines = [
        "# Diffusion on a 2-core CPU: the 25-minute DDPM",
        "",
        f"Made by `python benchmarks/diffusion.py --run {args.run}` on {machine}.",
        "",
        f"Training command: `genlab train ddpm --preset small --steps {run.train.steps}` (U-Net base 16 "
        "channels, "
        "levels 28/14/7",
        f"with 16/32/64 channels, self-attention at 7x7, {params:,} parameters; linear schedule, T = 1000, "
        "eps-prediction,",
        f"class-conditional with label dropout 0.1, EMA 0.999, Adam lr {run.model.lr}, batch {run.train.batch_size}).",
        f"Training wall time: **{wall / 60:.1f} min** for {meta['step']} steps ({meta['epoch']:.1f} epochs), "
        "sample "
        "grids and checkpoints included.",
        "",
        "## Sampling speed (ours vs the textbook loop, same network, measured in one run)",
        "",
        "| sampler | images/s |",
        "|---|---|",
        f"| DDIM-50, w = 1, batch 200, inference mode, channels-last | **{ddim_rate:.1f}** |",
        f"| DDIM-50, w = 3 (two predictions per step, one batched call) | {guided_rate:.1f} |",
        f"| DDPM ancestral, 1000 steps, plain `no_grad` loop, batch 20 | {ddpm_rate:.2f} |",
        "",
        f"Ratio DDIM-50 / DDPM-1000: **{ddim_rate / ddpm_rate:.0f}x**. Target: DDIM-50 at >= 20 images/s.",
        "",
        f"## Quality ({args.n} samples each, labels cycling 0..9, reference: the 10 000 MNIST test images, "
        "digits "
        "extractor)",
        "",
        "`confident` = share of samples the classifier assigns to some class with probability > 0.9. KID x 1000.",
        "FID and KID are biased upwards at small n: compare these rows with the real-data row at the same n,",
        "not with the 10 000-sample numbers in foundation.md.",
        "",
        "| samples | " + " | ".join(metric_names) + " |",
        "|---|" + "---|" * len(metric_names),
    ]
    for label, r in rows.items():
        cells = [format_metric(m, r) for m in metric_names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Class histograms (digit classifier): " + "; ".join(f"{k}: {r['class_histogram']}" for k, r in rows.items()),
        "",
        "One row per class (DDIM-50, w = 1, seed 2):",
        "",
        "![samples per class](ddpm-small-per-class.png)",
        "",
        "Forward process q(x_t | x_0) on five test digits, columns t = 0, 200, 500, 800, 1000 (t counted from 1):",
        "",
        "![forward](ddpm-forward.png)",
        "",
        "Reverse DDIM-50 chains for labels 0..4, columns from x_T (left) to x_0 (right):",
        "",
        "![reverse](ddpm-reverse.png)",
        "",
        *SEE_ALSO,
    ]
    (RESULTS / "diffusion.md").write_text("\n".join(lines))
    print(f"wrote {RESULTS / 'diffusion.md'}")


if __name__ == "__main__":
    main()
