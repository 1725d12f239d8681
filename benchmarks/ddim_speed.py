"""DDIM-50 sampling speed of a trained class-conditional DDPM: genlab's sampler vs a textbook loop.

    python benchmarks/ddim_speed.py --run runs/ddpm-2h --threads 2      # writes docs/results/ddim-speed.md

The brief's target: DDIM with 50 steps at >= 20 images/s on the 2 cores. Three ways to
sample the same trained network (its EMA weights, guidance w = 1: one conditional pass per
step), timed in interleaved rounds in one process so the machine's load cancels out:

- **textbook**: the loop as tutorials write it: ``torch.no_grad()``, the U-Net and x_t in
  channels-last memory format (genlab's own setting before this benchmark showed it slower),
  the DDIM update written out per step;
- **genlab**: ``family.sample`` (inference mode, contiguous tensors, genlab.samplers.DDIMSampler);
- **genlab + bfloat16 autocast** (``--set sample_dtype=bfloat16``; this CPU has avx512_bf16);
- **genlab + torch.compile** (``--set sample_compile=true``): the U-Net compiled by inductor;
  the one-off compile time is reported apart, with the number of images after which it has
  paid back.

A quality check then scores ``--fid-n`` samples of each genlab variant with the evaluation
suite's FID: a faster variant is worth using only where its FID matches float32's.

Every variant starts from the same noise and labels; the table gives the largest pixel
difference from genlab's samples. Without ``--run`` (or when the run is missing) a freshly
initialised network at the small preset is timed: speed does not depend on the weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from genlab.atomic import atomic_write_text
from genlab.bench.training import build_family
from genlab.data import DataInfo, load_dataset, to_uint8
from genlab.eval.extractors import get_extractor
from genlab.eval.metrics import feature_statistics, frechet_distance
from genlab.runs.loading import load_family

DOC = Path(__file__).resolve().parent.parent / "docs" / "results" / "ddim-speed.md"
TARGET = 20.0  # images/s
COMPILED = "genlab + torch.compile (sample_compile=true)"


def textbook_ddim(net, alpha_bar: torch.Tensor, x, labels, steps: int = 50) -> torch.Tensor:
    """DDIM (eta 0) written out per step with genlab's maths (x0 clipped to [-1, 1], the noise
    recomputed from it), in channels-last under no_grad. Returns x_0 clipped to [-1, 1]."""
    ab = alpha_bar.float()
    ts = sorted({round(v) for v in torch.linspace(len(ab) - 1, 0, steps).tolist()}, reverse=True)
    net = net.to(memory_format=torch.channels_last)
    with torch.no_grad():
        for k, t in enumerate(ts):
            eps = net(x.contiguous(memory_format=torch.channels_last), torch.full((x.shape[0],), t), labels)
            a_t = ab[t]
            a_prev = ab[ts[k + 1]] if k + 1 < len(ts) else torch.tensor(1.0)
            x0 = ((x - (1 - a_t).sqrt() * eps) / a_t.sqrt()).clamp(-1, 1)
            eps = (x - a_t.sqrt() * x0) / (1 - a_t).sqrt()
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    net.to(memory_format=torch.contiguous_format)
    return x.clamp(-1, 1)


FIELDS = {"bfloat16": {"sample_dtype": "bfloat16"}, "compile": {"sample_compile": True}}


def quality_check(family, names: list[str], n: int) -> list[str]:
    """FID (digits features, 10 000 MNIST test images) of n samples from each genlab variant:
    a faster variant is only worth keeping if its FID matches the float32 one's."""
    test_images, _, _ = load_dataset("mnist", "test", None)
    extractor = get_extractor("digits")
    ref = feature_statistics(extractor.features(test_images))
    labels = torch.arange(n) % family.num_classes
    rows = ["| variant | FID | samples |", "|---|---:|---:|"]
    saved = family.cfg
    for name in names:
        fields = next((f for key, f in FIELDS.items() if key in name), {})
        family.cfg = dataclasses.replace(saved, **fields)
        try:
            images = []
            for start in range(0, n, 500):  # batches of 500, each from its own seed
                with torch.inference_mode():
                    x = family.sample(
                        min(500, n - start),
                        labels=labels[start : start + 500],
                        generator=torch.Generator().manual_seed(1 + start),
                    )
                images.append(to_uint8(x))
        finally:
            family.cfg = saved
        fid = frechet_distance(*feature_statistics(extractor.features(np.concatenate(images))), *ref)
        rows.append(f"| {name} | {fid:.2f} | {n} |")
    return [
        f"Quality check: FID of {n} samples per variant (same seeds and labels; digits features against the 10 000 "
        "MNIST "
        "test images; lower is better; FID at this n is biased upwards, compare rows with each other):",
        "",
        *rows,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--run", type=Path, default=Path("runs/ddpm-2h"), help="a trained ddpm run (class-conditional)"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("-n", type=int, default=200, help="images per timed call (one batch)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument(
        "--fid-n", type=int, default=2000, help="quality check: FID of this many samples per variant (0 = skip)"
    )
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.run.is_dir():
        family, _, _ = load_family(args.run, "latest", {"sampler": "ddim", "sample_steps": 50, "guidance": 1.0})
        source = f"trained run `{args.run}`"
    else:
        family = build_family("ddpm", "small", DataInfo(1, 28, 28, 10), sampler="ddim", sample_steps=50, guidance=1.0)
        source = f"a freshly initialised small-preset ddpm (`{args.run}` not found)"
    net = family.nets["ema"].net.eval()
    labels = torch.arange(args.n) % family.num_classes
    noise = torch.randn(args.n, *family.image_shape, generator=torch.Generator().manual_seed(0))

    def with_cfg(**fields):
        def run():
            saved = family.cfg
            family.cfg = dataclasses.replace(saved, **fields)
            try:
                with torch.inference_mode():
                    return family.sample(args.n, labels=labels, generator=torch.Generator().manual_seed(0))
            finally:
                family.cfg = saved

        return run

    def textbook():
        return textbook_ddim(net, family.alpha_bar, noise.clone(), labels)

    ours = with_cfg()
    variants = {
        "textbook (no_grad, channels-last)": textbook,
        "genlab (inference mode, contiguous)": ours,
        "genlab + bfloat16 autocast (sample_dtype=bfloat16)": with_cfg(sample_dtype="bfloat16"),
    }
    compile_seconds = None
    if not args.no_compile:
        compiled = with_cfg(sample_compile=True)
        start = time.perf_counter()
        compiled()  # the first call compiles
        compile_seconds = time.perf_counter() - start
        variants[COMPILED] = compiled
    times: dict[str, list[float]] = {k: [] for k in variants}
    outputs = {}
    for name, fn in variants.items():
        outputs[name] = fn()  # warm-up (and compile, where it applies)
    load_start = os.getloadavg()
    for _ in range(args.rounds):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    load_end = os.getloadavg()
    ref = outputs["genlab (inference mode, contiguous)"]
    base = "textbook (no_grad, channels-last)"
    rate = {k: args.n / sorted(v)[len(v) // 2] for k, v in times.items()}
    lines = [
        "# DDIM-50 sampling speed",
        "",
        f"Produced by `python benchmarks/ddim_speed.py --run {args.run} --threads {args.threads}` on "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} cores ({platform.machine()}), torch "
        f"{torch.__version__}, "
        f"{args.threads} torch thread(s); load average {[round(v, 2) for v in load_start]} at the start, "
        f"{[round(v, 2) for v in load_end]} at the end.",
        "",
        f"Sampled: {source}, EMA weights, DDIM with 50 steps, eta 0, guidance w = 1 (one conditional U-Net pass per "
        "step), "
        f"{args.n} images per call (one batch, labels cycling over the classes), median of {args.rounds} interleaved "
        "rounds.",
        "",
        "| variant | images/s | ms / image | vs textbook | ≥ 20 images/s | max / mean pixel difference from genlab |",
        "|---|---:|---:|---:|:-:|---:|",
    ]
    for name in variants:
        diff = (outputs[name].float() - ref.float()).abs()
        lines.append(
            f"| {name} | {rate[name]:.1f} | {1000 / rate[name]:.1f} | {rate[name] / rate[base]:.2f}x | "
            f"{'yes' if rate[name] >= TARGET else 'no'} | {diff.max().item():.2e} / {diff.mean().item():.2e} |"
        )
    if args.fid_n:
        lines += ["", *quality_check(family, [k for k in variants if not k.startswith("textbook")], args.fid_n)]
    if compile_seconds is not None:
        gain = 1 / rate["genlab (inference mode, contiguous)"] - 1 / rate[COMPILED]
        first = compile_seconds - args.n / rate[COMPILED]
        payback = f"about {first / gain:.0f} images" if gain > 0 else "never (no gain per image)"
        lines += [
            "",
            f"torch.compile: the first call took {compile_seconds:.1f} s (compile included); it pays back after "
            f"{payback}. "
            "Inductor keeps compiled kernels in an on-disk cache, so the first compile on a fresh machine takes "
            "longer than a later one.",
        ]
    lines += [
        "",
        "Pixel values are in [-1, 1]; differences come from the order of floating-point operations in each variant.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    atomic_write_text(args.doc, text)


if __name__ == "__main__":
    main()
