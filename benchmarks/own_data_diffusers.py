"""A 32x32 RGB DDPM trained from a folder: genlab against diffusers' train_unconditional.py loop, same CPU minutes.

    pip install --target /tmp/dsite diffusers==0.42.1      # benchmark-only; it does not pull torch
    python benchmarks/own_data_diffusers.py --work /tmp/odd --diffusers-site /tmp/dsite --minutes 10

The two trainings can run side by side (``--only genlab`` and ``--only diffusers`` in two processes, one core
each), so that both see the same machine load. Stages (``--only``): ``folder`` writes the procedural shapes64
set, resized to 32x32 (area), as PNG files (train 6 000, test 1 000); ``genlab`` runs ``genlab train ddpm
--data FOLDER --labels none --preset small`` with the wall-clock budget ``--set max_minutes``; ``diffusers``
runs the training loop of diffusers' examples/unconditional_image_generation/train_unconditional.py on the
same pixels (genlab's prepared cache of the same folder, read as arrays): UNet2DModel + DDPMScheduler (1 000
linear steps, epsilon), AdamW lr 1e-4 (betas 0.95/0.999, weight decay 1e-6), cosine schedule with 500 warm-up
steps, batch 16, no EMA (the script's defaults), for the same minutes of training steps; ``score`` samples
``-n`` images from checkpoints along each run with DDIM-50 (eta 0) and scores them against the folder's test
split with genlab's default extractor for a user's data (the training-free random projection); ``page`` writes
docs/results/own-data-diffusers.md. The diffusers U-Net is sized to genlab's parameter count.

Time to an equal FID: the worse of the two final FIDs is reached by both runs; each run's training
seconds to first reach it are interpolated linearly between its scored checkpoints; the ratio is
diffusers' time over genlab's. Everything runs on 1 torch thread.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genlab.atomic import atomic_write_text
from genlab.bench.machine import machine_info
from genlab.data import DataInfo, load_dataset, save_grid
from genlab.data.options import DataOptions
from genlab.eval.evaluate import Evaluator, Reference
from genlab.eval.extractors import get_extractor
from genlab.models.registry import get_family
from genlab.runs import load_family, sample_in_batches

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs/results/own-data-diffusers.md"
TRAIN, TEST, SIZE, BATCH = 6000, 1000, 32, 16
CHECKPOINTS = 4  # scored points along each run (evenly spaced in training time)
# The shapes64 classifier (it knows this data; images are resized 32 -> 64 by genlab's rule, both sides alike), then
# the training-free random projection genlab uses by default for a user's own data.
EXTRACTORS = ("shapes", "random-projection")


def write_folder(work: Path) -> Path:
    """shapes64 at 32x32 (area resize) as PNGs in motif folders: train/ and test/."""
    folder = work / "shapes32"
    for split, n in (("train", TRAIN), ("test", TEST)):
        images, labels, _ = load_dataset("shapes64", split, options=DataOptions(image_size=SIZE))
        for i in range(min(n, len(images))):
            path = folder / split / str(int(labels[i])) / f"{i:05d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.ascontiguousarray(images[i].transpose(1, 2, 0))).save(path)
    return folder


def options() -> DataOptions:
    return DataOptions(image_size=SIZE, channels=3, labels="none")


def train_genlab(work: Path, minutes: float) -> Path:
    out = work / "genlab"
    cmd = [sys.executable, "-m", "genlab", "train", "ddpm", "--data", str(work / "shapes32"), "--labels", "none"]
    cmd += ["--preset", "small", "--steps", "1000000", "--batch-size", str(BATCH), "--out", str(out), "--quiet"]
    cmd += ["--set", f"max_minutes={minutes}", "--set", "checkpoint_every=200", "--set", "keep_last=1000"]
    cmd += ["--set", "sample_every=1000000", "--set", "class_conditional=false", "--data-license", "generated"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(cmd, check=True, env=env)
    return out


def diffusers_unet(diffusers, channels: int):
    return diffusers.UNet2DModel(
        sample_size=SIZE,
        in_channels=3,
        out_channels=3,
        layers_per_block=2,
        block_out_channels=(channels, 2 * channels, 4 * channels),
        down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        norm_num_groups=4,  # the script's 32 groups need widths of 32+; genlab's small U-Net is narrower
    )


def genlab_parameters() -> int:
    """Trainable weights of ``genlab train ddpm --preset small`` on unlabelled 3x32x32 data (built, not trained)."""
    spec = get_family("ddpm")
    cfg = spec.config_cls(**spec.presets["small"], class_conditional=False)
    family = spec.family_cls(cfg, DataInfo(3, SIZE, SIZE, 0))
    return family.num_parameters()


def train_diffusers(work: Path, minutes: float, parameters: int) -> Path:
    """train_unconditional.py's loop (its defaults), on the same pixels, for ``minutes`` of training steps."""
    import diffusers
    from diffusers.optimization import get_cosine_schedule_with_warmup
    from safetensors.torch import save_file

    out = work / "diffusers"
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    width = min(
        range(8, 129, 4),
        key=lambda c: abs(sum(p.numel() for p in diffusers_unet(diffusers, c).parameters()) - parameters),
    )
    model = diffusers_unet(diffusers, width)
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.95, 0.999), weight_decay=1e-6, eps=1e-8)
    total_guess = 100_000  # the cosine schedule's length (the script's epochs x steps); the budget stops first
    lr_sched = get_cosine_schedule_with_warmup(opt, num_warmup_steps=500, num_training_steps=total_guess)
    images, _, _ = load_dataset(str(work / "shapes32"), "train", options=options())
    data = torch.from_numpy(np.array(images)).float() / 127.5 - 1.0  # (N, 3, 32, 32) in [-1, 1]
    g = torch.Generator().manual_seed(0)
    budget, spent, step, saved = minutes * 60, 0.0, 0, []
    every = budget / CHECKPOINTS
    while spent < budget:
        t0 = time.perf_counter()
        rows = torch.randint(0, len(data), (BATCH,), generator=g)
        clean = data[rows]
        noise = torch.randn(clean.shape, generator=g)
        t = torch.randint(0, 1000, (BATCH,), generator=g)
        noisy = scheduler.add_noise(clean, noise, t)
        loss = torch.nn.functional.mse_loss(model(noisy, t).sample, noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
        lr_sched.step()
        spent += time.perf_counter() - t0
        step += 1
        if spent >= every * (len(saved) + 1) or spent >= budget:
            name = f"step_{step:08d}.safetensors"
            save_file(model.state_dict(), str(out / name))
            saved.append({"file": name, "step": step, "train_seconds": spent, "loss": loss.item()})
    meta = {"width": width, "parameters": sum(p.numel() for p in model.parameters()), "checkpoints": saved}
    atomic_write_text(out / "run.json", json.dumps(meta, indent=1))
    return out


def ddim_diffusers(model, n: int, seed: int) -> np.ndarray:
    import diffusers

    sched = diffusers.DDIMScheduler(num_train_timesteps=1000, beta_schedule="linear", clip_sample=True)
    sched.set_timesteps(50)
    g = torch.Generator().manual_seed(seed)
    out = []
    with torch.inference_mode():
        for start in range(0, n, 250):
            x = torch.randn((min(250, n - start), 3, SIZE, SIZE), generator=g)
            for t in sched.timesteps:
                x = sched.step(model(x, t).sample, t, x, eta=0.0).prev_sample
            out.append(((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy())
    return np.concatenate(out)


def genlab_checkpoints(run: Path) -> list[dict]:
    """(step, training seconds) of every kept checkpoint, read from their metadata."""
    points = []
    for path in sorted((run / "checkpoints").glob("step_*.json")):
        meta = json.loads(path.read_text())
        points.append({"step": int(meta["step"]), "train_seconds": float(meta["train_seconds"])})
    return points


def pick(points: list[dict], k: int) -> list[dict]:
    """``k`` points spread evenly in training time, always the last."""
    if len(points) <= k:
        return points
    end = points[-1]["train_seconds"]
    chosen = [min(points, key=lambda p: abs(p["train_seconds"] - end * (j + 1) / k)) for j in range(k)]
    return sorted({p["step"]: p for p in chosen}.values(), key=lambda p: p["step"])


def score(work: Path, n: int) -> dict:
    import diffusers
    from safetensors.torch import load_file

    test, _, _ = load_dataset(str(work / "shapes32"), "test", options=options())
    reference = Reference("shapes32 test split", np.array(test))
    evaluators = {name: Evaluator(reference, get_extractor(name)) for name in EXTRACTORS}

    def fids(images: np.ndarray) -> dict[str, float]:
        return {f"fid_{name}": float(e(images)["fid"]) for name, e in evaluators.items()}

    results: dict = {"genlab": [], "diffusers": []}
    for p in pick(genlab_checkpoints(work / "genlab"), CHECKPOINTS):
        family, _, _ = load_family(work / "genlab", str(p["step"]))
        t0 = time.perf_counter()
        images = sample_in_batches(family, n, seed=1, batch_size=250)
        results["genlab"].append({**p, "sample_s": time.perf_counter() - t0, **fids(images)})
    meta = json.loads((work / "diffusers/run.json").read_text())
    model = diffusers_unet(diffusers, meta["width"]).eval()
    for p in meta["checkpoints"]:
        model.load_state_dict(load_file(str(work / "diffusers" / p["file"])))
        t0 = time.perf_counter()
        images = ddim_diffusers(model, n, seed=1)
        results["diffusers"].append(
            {
                "step": p["step"],
                "train_seconds": p["train_seconds"],
                "sample_s": time.perf_counter() - t0,
                **fids(images),
            }
        )
    results.update(baselines(work, n, fids))
    family, _, _ = load_family(work / "genlab")
    save_grid(PAGE.with_name("own-data-diffusers-genlab.png"), sample_in_batches(family, 64, seed=1))
    save_grid(PAGE.with_name("own-data-diffusers-diffusers.png"), ddim_diffusers(model, 64, seed=1))
    save_grid(PAGE.with_name("own-data-diffusers-real.png"), np.array(test[:64]))
    results["parameters"] = {"genlab": family.num_parameters(), "diffusers": meta["parameters"]}
    results["diffusers_width"] = meta["width"]
    results["n"] = n
    results["score_threads"] = torch.get_num_threads()
    results["machine"] = machine_info()
    results["load_average"] = [round(v, 2) for v in os.getloadavg()]
    key = f"fid_{EXTRACTORS[0]}"  # the time to an equal FID is judged with the extractor that knows the data
    results["target"] = max(results["genlab"][-1][key], results["diffusers"][-1][key])
    results["time_to_target"] = {k: time_to(results[k], results["target"], key) for k in ("genlab", "diffusers")}
    t = results["time_to_target"]
    results["ratio"] = t["diffusers"] / t["genlab"] if t["genlab"] else math.nan
    atomic_write_text(work / "scores.json", json.dumps(results, indent=1))
    return results


def baselines(work: Path, n: int, fids) -> dict:
    """Where the metric puts real images (train split: the floor) and two kinds of noise: uniform, and Gaussian with
    the data's per-pixel mean and standard deviation (what an undertrained model's grey-brown noise resembles). A run
    scored worse than either means the extractor cannot rank runs at this budget."""
    train, _, _ = load_dataset(str(work / "shapes32"), "train", options=options())
    train = np.array(train)
    rng = np.random.default_rng(0)
    uniform = rng.integers(0, 256, (n, 3, SIZE, SIZE), dtype=np.uint8)
    mean, std = train.mean(axis=0), train.std(axis=0)  # (3, 32, 32) each
    matched = np.clip(rng.normal(mean, std, (n, 3, SIZE, SIZE)), 0, 255).round().astype(np.uint8)
    return {"floor": fids(train[:n]), "noise": fids(uniform), "matched_noise": fids(matched)}


def time_to(points: list[dict], target: float, key: str) -> float:
    """Training seconds at which FID first reaches ``target`` (linear between scored checkpoints)."""
    prev_t, prev_f = 0.0, math.inf
    for p in points:
        if p[key] <= target:
            if math.isinf(prev_f):
                return p["train_seconds"]
            w = (prev_f - target) / (prev_f - p[key])
            return prev_t + w * (p["train_seconds"] - prev_t)
        prev_t, prev_f = p["train_seconds"], p[key]
    return math.nan


def verdict(results: dict) -> str:
    """Whether the FIDs can rank the runs: a run scored worse than uniform noise says they cannot."""
    worse = [
        f"{name} ({key.removeprefix('fid_')})"
        for name in ("genlab", "diffusers")
        for key in results["noise"]
        if results[name][-1][key] > min(results["noise"][key], results["matched_noise"][key])
    ]
    if not worse:
        return "Both runs score better than both kinds of noise with both extractors, so the FIDs rank them."
    return (
        f"**The FIDs do not rank these runs**: at the end of training {', '.join(worse)} scores worse than noise "
        "(uniform, or Gaussian with the data's per-pixel mean and standard deviation). At this budget the samples "
        "(above) are far from the data, where neither extractor's FID is "
        "meaningful, so the ratio below is **not established**; compare the pictures and the loss instead, or give "
        "both runs more minutes."
    )


def page(results: dict, minutes: float, command: str) -> None:
    rows = [
        f"| {name} | {p['step']} | {p['train_seconds'] / 60:.1f} | {p['fid_shapes']:.2f} | "
        f"{p['fid_random-projection']:.2f} | {results['n'] / p['sample_s']:.1f} |"
        for name in ("genlab", "diffusers")
        for p in results[name]
    ]
    m, t, w, params = results["machine"], results["time_to_target"], results["diffusers_width"], results["parameters"]
    lines = [
        "# A 32x32 RGB DDPM from a folder: genlab against diffusers' training loop",
        "",
        f"Produced by `{command}` (benchmarks/own_data_diffusers.py; diffusers 0.42.1, installed for this benchmark "
        f"only). Machine: {m.get('cores')} cores, torch {m.get('torch')}, 1 thread each, {m.get('date')}; load "
        f"average {', '.join(map(str, results['load_average']))} after scoring (the two trainings ran side by side, "
        "one core each; a shared machine: seconds are an upper bound).",
        "",
        f"Data: the procedural shapes64 set resized to 32x32 (area), written as PNG files in motif folders ({TRAIN} "
        f"train, {TEST} test), trained unconditionally. Both runs had {minutes:g} minutes of training steps (wall "
        f"clock) at batch {BATCH}.",
        "",
        "- genlab: `genlab train ddpm --data FOLDER --labels none --preset small --set class_conditional=false` "
        f"({params['genlab']:,} trainable weights; lr 1e-3; samples from its EMA).",
        "- diffusers: the training loop of `train_unconditional.py` with its defaults: UNet2DModel, block widths "
        f"{w}, {2 * w}, {4 * w}, two ResNet blocks per level, attention at the lowest resolution "
        f"({params['diffusers']:,} weights, the width closest to genlab's count), DDPMScheduler (1 000 linear "
        "steps), AdamW lr 1e-4, cosine "
        "schedule with 500 warm-up steps, no EMA; the same pixels, read from genlab's prepared cache.",
        f"- Both sampled with DDIM-50 (eta 0), {results['n']} images per checkpoint, and scored against the test "
        "split: FID with the shapes64 classifier (it knows this data; both sides resized 32 -> 64 by genlab's "
        "rule) and with the random projection genlab uses by default for a user's data (its own units).",
        "",
        "| run | step | training min | FID (shapes) ↓ | FID (random projection) ↓ | images/s (DDIM-50, "
        f"{results.get('score_threads', 1)} threads) |",
        "|---|---|---|---|---|---|",
        *rows,
        f"| real train images (floor) | | | {results['floor']['fid_shapes']:.2f} | "
        f"{results['floor']['fid_random-projection']:.2f} | |",
        f"| uniform noise | | | {results['noise']['fid_shapes']:.2f} | "
        f"{results['noise']['fid_random-projection']:.2f} | |",
        f"| Gaussian noise, the data's per-pixel mean and sd | | | {results['matched_noise']['fid_shapes']:.2f} | "
        f"{results['matched_noise']['fid_random-projection']:.2f} | |",
        "",
        "Samples at the end of each run (DDIM-50, seed 1), and the test split:",
        "",
        "| genlab | diffusers | real |",
        "|---|---|---|",
        "| ![](own-data-diffusers-genlab.png) | ![](own-data-diffusers-diffusers.png) "
        "| ![](own-data-diffusers-real.png) |",
        "",
        verdict(results),
        "",
        f"Time to an equal FID (shapes classifier; the worse final FID, {results['target']:.2f}, is reached by both): "
        f"genlab {t['genlab'] / 60:.2f} min, diffusers {t['diffusers'] / 60:.2f} min, **ratio diffusers / genlab = "
        f"{results['ratio']:.2f}** (above 1: genlab gets there sooner). Each tool ran with its own defaults (genlab "
        "lr 1e-3 with an EMA, the script lr 1e-4 without), which is what a user of each gets.",
        "",
    ]
    atomic_write_text(PAGE, "\n".join(lines))
    atomic_write_text(PAGE.with_suffix(".json"), json.dumps(results, indent=1) + "\n")  # the numbers, raw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--diffusers-site", type=Path, help="A folder diffusers was pip-installed into with --target.")
    ap.add_argument("--score-threads", type=int, default=2, help="torch threads while sampling and scoring")
    ap.add_argument("--only", choices=["folder", "genlab", "diffusers", "score", "baselines", "page"])
    args = ap.parse_args()
    if args.diffusers_site:
        sys.path.append(str(args.diffusers_site))  # after the venv: its numpy, Pillow and torch win
    # The venv's torchvision (the [parity] extra) is PyPI's CUDA build, whose C++ ops do not load on the CPU torch;
    # hidden, diffusers treats it as absent (the U-Net and the schedulers do not use it).
    sys.modules["torchvision"] = None
    torch.set_num_threads(1)
    stages = [args.only] if args.only else ["folder", "genlab", "diffusers", "score", "page"]
    if "folder" in stages:
        write_folder(args.work)
    if "genlab" in stages:
        train_genlab(args.work, args.minutes)
    if "diffusers" in stages:
        train_diffusers(args.work, args.minutes, genlab_parameters())
    if "score" in stages:
        torch.set_num_threads(args.score_threads)  # sampling only; both runs alike
        score(args.work, args.n)
    if args.only == "baselines":  # the floor and noise rows alone, into an existing scores.json
        path = args.work / "scores.json"
        results = json.loads(path.read_text())
        test, _, _ = load_dataset(str(args.work / "shapes32"), "test", options=options())
        reference = Reference("shapes32 test split", np.array(test))
        evaluators = {name: Evaluator(reference, get_extractor(name)) for name in EXTRACTORS}
        results.update(
            baselines(
                args.work, results["n"], lambda x: {f"fid_{k}": float(e(x)["fid"]) for k, e in evaluators.items()}
            )
        )
        atomic_write_text(path, json.dumps(results, indent=1))
    if "page" in stages:
        results = json.loads((args.work / "scores.json").read_text())
        command = f"python benchmarks/own_data_diffusers.py --work WORK --minutes {args.minutes:g} -n {args.n}"
        page(results, args.minutes, command + " --diffusers-site DIR")
        print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
