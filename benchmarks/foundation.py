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

from genlab.train import read_config, read_metrics
from genlab.train.rundir import find_checkpoint

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
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dcgan-run", type=Path, help="reuse this finished `genlab train dcgan --epochs 5` run")
    parser.add_argument("--vae-run", type=Path, help="reuse this finished `genlab train vae --epochs 20` run")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench-foundation", help="where new runs go")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    dcgan = summarise(ensure_run("dcgan", args.dcgan_run, args.out))
    vae = summarise(ensure_run("vae", args.vae_run, args.out))
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
        f"Command: `{' '.join(RUNS['dcgan'])}` (z=100 -> 7x7x256 -> 14x14x128 -> 28x28x64 -> 28x28x1, batch 128, Adam 2e-4, beta1 0.5, seed 0).",
        "",
        "| steps | epochs | wall time | images/s | final loss_d | final loss_g | D(x) | D(G(z)) |",
        "|---|---|---|---|---|---|---|---|",
        f"| {dcgan['steps']} | {dcgan['epochs']:.2f} | {dcgan['wall_min']:.1f} min | {dcgan['images_per_s']:.0f} | "
        f"{dcgan['last']['loss_d']:.3f} | {dcgan['last']['loss_g']:.3f} | {dcgan['last']['d_real']:.3f} | {dcgan['last']['d_fake']:.3f} |",
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
    (RESULTS / "foundation.md").write_text("\n".join(lines))
    print(f"wrote {RESULTS / 'foundation.md'}")


if __name__ == "__main__":
    main()
