"""Sampler and guidance sweeps for a trained ddpm run: the quality/speed trade-offs.

    python benchmarks/diffusion_sweep.py --run runs/ddpm-small -n 500

Writes docs/results/diffusion-sweep.md (+ .json, and the figure diffusion-sweep.png): FID, KID, coverage and
time per
image vs sampler
and number of steps (DDIM 10/20/50/100/250, DDPM 1000), and FID and conditional accuracy
vs guidance scale w in {0, 1, 2, 3, 5, 7.5}. With n samples per setting (default 500),
FID is biased upwards; the real-data row at the same n is the floor to read it against.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from genlab.atomic import atomic_write_text
from genlab.eval.evaluate import Evaluator, load_reference
from genlab.plots import figure, save_figure
from genlab.runs.loading import load_family, sample_in_batches

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"


def timed_samples(run: Path, n: int, overrides: dict) -> tuple[torch.Tensor, torch.Tensor, float]:
    family, _, _ = load_family(run, overrides=overrides)
    labels = torch.arange(n) % 10
    start = time.perf_counter()
    images = sample_in_batches(family, n, labels=labels, seed=1, batch_size=250)
    return images, labels, (time.perf_counter() - start) / n


def plot(steps_rows: list, guidance_rows: list) -> None:
    fig, (left, right) = figure(1, 2, size=(10, 3.6))
    for name, marker in (("DDIM", "o-"), ("DDPM", "s")):
        rows = [r for r in steps_rows if r[0] == name]
        left.plot([1000 * r[3] for r in rows], [r[4]["fid"] for r in rows], marker, label=name)
        for r in rows:
            left.annotate(str(r[1]), (1000 * r[3], r[4]["fid"]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    left.set(
        xscale="log",
        xlabel="ms per image (this CPU)",
        ylabel="FID (digits extractor)",
        title="sampler steps: quality vs speed (w = 1)",
    )
    left.legend()
    ws = [w for w, _, _ in guidance_rows]
    right.plot(ws, [r["fid"] for _, _, r in guidance_rows], "o-", color="tab:red", label="FID")
    right.set(xlabel="guidance scale w", ylabel="FID", title="guidance: fidelity vs diversity (DDIM-50)")
    twin = right.twinx()
    for key, colour in (("recall", "tab:blue"), ("precision", "tab:green"), ("conditional_accuracy", "tab:purple")):
        twin.plot(ws, [r[key] for _, _, r in guidance_rows], "o--", color=colour, label=key.replace("_", " "))
    twin.set(ylabel="share", ylim=(0, 1.05))
    right.legend(loc="upper left", fontsize=8)
    twin.legend(loc="lower right", fontsize=8)
    save_figure(fig, RESULTS / "diffusion-sweep.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=Path("runs/ddpm-small"))
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("--ddpm-n", type=int, default=200, help="samples for the slow DDPM-1000 row")
    args = parser.parse_args()
    evaluator = Evaluator(load_reference("mnist-test"))
    real = evaluator(load_reference("mnist-train", n=args.n).images)

    steps_rows = []
    settings = [("DDIM", s, {"sample_steps": s}) for s in (10, 20, 50, 100, 250)] + [
        ("DDPM", 1000, {"sampler": "ddpm"})
    ]
    for name, steps, overrides in settings:
        n = args.ddpm_n if name == "DDPM" else args.n
        images, labels, per_image = timed_samples(args.run, n, overrides)
        r = evaluator(images, labels.numpy())
        steps_rows.append((name, steps, n, per_image, r))
        print(
            f"{name}-{steps}: {per_image * 1000:.0f} ms/image, FID {r['fid']:.2f}, acc "
            f"{r['conditional_accuracy']:.3f}",
            flush=True,
        )

    guidance_rows = []
    for w in (0.0, 1.0, 2.0, 3.0, 5.0, 7.5):
        images, labels, per_image = timed_samples(args.run, args.n, {"guidance": w})
        r = evaluator(images, labels.numpy())
        guidance_rows.append((w, per_image, r))
        print(
            f"w={w}: FID {r['fid']:.2f}, acc {r['conditional_accuracy']:.3f}, precision {r['precision']:.3f}, "
            "recall "
            f"{r['recall']:.3f}",
            flush=True,
        )

    machine = (
        f"{os.cpu_count()} CPU cores, torch {torch.__version__} ({torch.get_num_threads()} threads), Python "
        f"{platform.python_version()}"
    )
    lines = [
        "# Diffusion sweeps: sampler steps and guidance scale",
        "",
        f"Made by `python benchmarks/diffusion_sweep.py --run {args.run} -n {args.n}` on {machine}, for the",
        "25-minute model of `diffusion.md`. Reference: the 10 000 MNIST test images, digits extractor; labels "
        "cycle "
        "0..9.",
        f"FID and KID are biased upwards at n = {args.n}: read them against the real-data row at the same n",
        f"(FID {real['fid']:.2f}, KID x 1000 {1000 * real['kid']:.2f}, coverage {real['coverage']:.3f}).",
        "",
        "## Quality vs speed (guidance w = 1)",
        "",
        "| sampler | steps | n | ms / image | FID | KID x 1000 | precision | recall | coverage | conditional "
        "accuracy "
        "|",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, steps, n, per_image, r in steps_rows:
        lines.append(
            f"| {name} | {steps} | {n} | {per_image * 1000:.0f} | {r['fid']:.2f} | {1000 * r['kid']:.2f} | "
            f"{r['precision']:.3f} | "
            f"{r['recall']:.3f} | {r['coverage']:.3f} | {r['conditional_accuracy']:.3f} |"
        )
    lines += [
        "",
        "(The DDPM-1000 row uses fewer samples, so its FID carries more small-n bias than the others.)",
        "",
        "## Diversity vs fidelity: guidance scale (DDIM-50)",
        "",
        "w = 0 is unconditional, w = 1 conditional, w > 1 guided: eps = eps_u + w (eps_c - eps_u).",
        "",
        "| w | ms / image | FID | precision | recall | coverage | conditional accuracy | IS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for w, per_image, r in guidance_rows:
        lines.append(
            f"| {w:g} | {per_image * 1000:.0f} | {r['fid']:.2f} | {r['precision']:.3f} | {r['recall']:.3f} | "
            f"{r['coverage']:.3f} | "
            f"{r['conditional_accuracy']:.3f} | {r['inception_score']:.2f} |"
        )
    lines += [
        "",
        "Quality against time per image (left; labels: sampler steps) and against the guidance scale (right):",
        "",
        "![sweep](diffusion-sweep.png)",
        "",
    ]
    plot(steps_rows, guidance_rows)
    record = {
        "steps": [{"sampler": a, "steps": b, "n": c, "s_per_image": d, "scores": e} for a, b, c, d, e in steps_rows],
        "guidance": [{"w": w, "s_per_image": t, "scores": r} for w, t, r in guidance_rows],
        "real": real,
    }
    atomic_write_text(RESULTS / "diffusion-sweep.json", json.dumps(record, indent=1, default=float))
    atomic_write_text(RESULTS / "diffusion-sweep.md", "\n".join(lines))
    print(f"wrote {RESULTS / 'diffusion-sweep.md'}")


if __name__ == "__main__":
    main()
