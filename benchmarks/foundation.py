"""Foundation results: the textbook DCGAN for 5 epochs and the MLP VAE, on this CPU.

Trains (or reuses finished runs of) the two acceptance runs, then writes
docs/results/foundation.md and the final sample grids beside it. Every number in that
page comes from the runs' metrics.jsonl; the page names the commands.

    python benchmarks/foundation.py                      # trains both (about 30 min on 2 cores)
    python benchmarks/foundation.py --dcgan-run DIR      # reuse a finished `genlab train dcgan --epochs 5` run
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

from genlab.eval.evaluate import METRICS, Evaluator, format_metric, load_reference
from genlab.runs import read_config, read_metrics
from genlab.runs.loading import load_family, sample_in_batches
from genlab.runs.rundir import find_checkpoint

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
RUNS = {
    "dcgan": ["genlab", "train", "dcgan", "--epochs", "5"],
    "vae": ["genlab", "train", "vae", "--epochs", "20"],
}


def ensure_run(name: str, reuse: Path | None, out_root: Path) -> Path:
    """A finished run of RUNS[name]: ``reuse`` if given (checked), else train one now."""
    argv = RUNS[name]
    if reuse is not None:
        run = read_config(reuse)
        expected_epochs = int(argv[argv.index("--epochs") + 1])
        if run.family != name or run.train.epochs != expected_epochs or run.train.steps != 0:
            sys.exit(f"{reuse} is not a run of `{' '.join(argv)}`")
        return reuse
    run_dir = out_root / name
    if run_dir.exists():
        shutil.rmtree(run_dir)
    subprocess.run([*argv, "--out", str(run_dir), "--quiet"], check=True)
    return run_dir


def seconds_per_step(family: str, steps: int = 20, batch_size: int = 128) -> float:
    """Median wall time of one training step of ``family`` at its default size, after warm-up."""
    from genlab.data import DataInfo
    from genlab.models.registry import get_family

    spec = get_family(family)
    model = spec.family_cls(spec.config_cls(), DataInfo(1, 28, 28, 10))
    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch_size, 1, 28, 28, generator=g) * 2 - 1
    times = []
    for _ in range(steps + 3):
        start = time.perf_counter()
        model.train_step(x, None, g)
        times.append(time.perf_counter() - start)
    return sorted(times[3:])[len(times[3:]) // 2]


def summarise(run_dir: Path) -> dict:
    records = read_metrics(run_dir)
    train_records = [r for r in records if "elapsed_s" in r]
    test_records = [r for r in records if any(k.startswith("test_") for k in r)]
    last = train_records[-1]
    return {
        "steps": last["step"],
        "epochs": last["epoch"],
        "wall_min": last["elapsed_s"] / 60,
        "images_per_s": last["step"] * read_config(run_dir).train.batch_size / last["elapsed_s"],
        "last": {k: v for k, v in last.items() if k not in ("step", "epoch", "elapsed_s", "images_per_s")},
        "test": test_records,
        "warnings": [r["warning"] for r in records if "warning" in r],
        "final_grid": sorted((run_dir / "samples").glob("step_*.png"))[-1],
        "checkpoint": find_checkpoint(run_dir).name,
        "run_dir": run_dir,
    }


def score(run_dir: Path, evaluator: Evaluator, n: int = 10_000) -> dict:
    """The suite's numbers for ``n`` samples of a run's final model (what `genlab eval RUN` prints)."""
    family, _, _ = load_family(run_dir)
    return evaluator(sample_in_batches(family, n, seed=0))


def score_table(rows: dict[str, dict]) -> list[str]:
    names = [m for m in METRICS if any(m in r for r in rows.values())]
    out = ["| run | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, r in rows.items():
        cells = [format_metric(m, r) for m in names]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dcgan-run", type=Path, help="reuse this finished `genlab train dcgan --epochs 5` run")
    parser.add_argument("--vae-run", type=Path, help="reuse this finished `genlab train vae --epochs 20` run")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-foundation", help="where new runs go")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    dcgan_step = seconds_per_step("dcgan")  # measured first, on an otherwise idle machine
    dcgan = summarise(ensure_run("dcgan", args.dcgan_run, args.out))
    vae = summarise(ensure_run("vae", args.vae_run, args.out))
    evaluator = Evaluator(load_reference("mnist-test"))
    scores = {
        "DCGAN, 5 epochs": score(dcgan["run_dir"], evaluator),
        "VAE, 20 epochs": score(vae["run_dir"], evaluator),
    }
    baseline = evaluator(load_reference("mnist-train", n=10_000).images)
    RESULTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(dcgan["final_grid"], RESULTS / "dcgan-textbook-5ep.png")
    shutil.copyfile(vae["final_grid"], RESULTS / "vae-mlp-20ep.png")
    test_losses = [(r["step"], r["test_loss"], r["test_recon"], r["test_kl"]) for r in vae["test"]]
    lines = [
        "# Foundation results: textbook DCGAN and MLP VAE on MNIST, on a 2-core CPU",
        "",
        f"Made by `python benchmarks/foundation.py` (finished {started}); every number below is read from the",
        "runs' `metrics.jsonl`. Machine: "
        f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, Python {platform.python_version()}.",
        "",
        "## DCGAN (Radford et al. 2016), textbook size, 5 epochs",
        "",
        f"Command: `{' '.join(RUNS['dcgan'])}` (z=100 -> 7x7x256 -> 14x14x128 -> 28x28x64 -> 28x28x1, batch 128, Adam "
        "2e-4, beta1 0.5, seed 0).",
        "",
        "| steps | epochs | wall time | images/s | final loss_d | final loss_g | D(x) | D(G(z)) |",
        "|---|---|---|---|---|---|---|---|",
        f"| {dcgan['steps']} | {dcgan['epochs']:.2f} | {dcgan['wall_min']:.1f} min | {dcgan['images_per_s']:.0f} | "
        f"{dcgan['last']['loss_d']:.3f} | {dcgan['last']['loss_g']:.3f} | {dcgan['last']['d_real']:.3f} | "
        f"{dcgan['last']['d_fake']:.3f} |",
        "",
        "The wall time above is the run's own (other jobs may have shared the 2 cores). Timed alone just now,",
        f"one training step of this DCGAN takes {dcgan_step:.3f} s (median of 20, batch 128), i.e. "
        f"{dcgan_step * 468 / 60:.1f} min per 468-step epoch and {128 / dcgan_step:.0f} images/s.",
        "",
        "Final fixed-noise grid (64 samples, the same z as every earlier grid of the run):",
        "",
        "![DCGAN samples after 5 epochs](dcgan-textbook-5ep.png)",
        "",
        f"Monitor warnings during the run: {'; '.join(dcgan['warnings']) or 'none'}.",
        "",
        "## MLP VAE (Kingma & Welling 2014), 784 -> 400 -> z=20, Bernoulli likelihood, 20 epochs",
        "",
        f"Command: `{' '.join(RUNS['vae'])}` (batch 128, Adam 1e-3, seed 0). Loss per image in nats = BCE",
        "reconstruction + KL, on the 10 000 MNIST test images (grey levels as Bernoulli means, as in the",
        "PyTorch VAE example; not the binarised-MNIST likelihood of the literature).",
        "",
        "| step | epoch | test loss (nats) | recon | KL |",
        "|---|---|---|---|---|",
    ]
    spe = vae["steps"] / vae["epochs"]
    lines += [f"| {s} | {s / spe:.0f} | {loss:.2f} | {rec:.2f} | {kl:.2f} |" for s, loss, rec, kl in test_losses]
    lines += [
        "",
        f"Wall time {vae['wall_min']:.1f} min ({vae['images_per_s']:.0f} images/s, test evaluation included).",
        "",
        "![VAE samples after 20 epochs](vae-mlp-20ep.png)",
        "",
    ]
    lines += [
        "## Scored by the evaluation suite",
        "",
        "10 000 samples of each final model (seed 0) against the 10 000 MNIST test images, with the shipped",
        "digit classifier as extractor: what `genlab eval RUN_DIR` prints. KID x 1000. Real data (MNIST",
        "train[:10000]) is the floor; see `baselines.md`.",
        "",
        *score_table({**scores, "real data (floor)": baseline}),
        "",
        "Class histograms of the samples (digit classifier, classes 0-9):",
        "",
        *[f"- {label}: {r['class_histogram']}" for label, r in scores.items()],
        "",
    ]
    (RESULTS / "foundation.md").write_text("\n".join(lines))
    print(f"wrote {RESULTS / 'foundation.md'}")


if __name__ == "__main__":
    main()
