"""Sample a class-conditional diffusion run with DDIM at several classifier-free guidance scales.

    python examples/sample_ddim_guidance.py --run runs/ddpm-small     # a run of `genlab train ddpm --preset small`
    python examples/sample_ddim_guidance.py --tiny                     # trains a tiny ddpm for 3 steps first (seconds)

Writes one grid per guidance scale w (a row per digit): w = 0 ignores the label, w = 1 is the
plain conditional model, w > 1 pushes samples towards their class (Ho & Salimans 2022).
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np

import genlab

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--run", type=Path, help="a trained ddpm run directory")
parser.add_argument(
    "--tiny",
    action="store_true",
    default=os.environ.get("GENLAB_TINY") == "1",
    help="train a tiny ddpm first (or GENLAB_TINY=1)",
)
parser.add_argument("--steps", type=int, default=50, help="DDIM steps")
parser.add_argument("--guidance", type=float, nargs="+", default=[0.0, 1.0, 3.0], help="guidance scales w")
parser.add_argument("--per-class", type=int, default=8, help="samples per digit")
parser.add_argument("--out", type=Path, default=Path("ddim-guidance"), help="folder for the grids")
args = parser.parse_args()

if args.run is None:
    if not args.tiny:
        parser.error("pass --run DIR (make one with: genlab train ddpm --preset small --steps 5000), or --tiny")
    args.run = args.out / "ddpm-tiny"
    tiny = {"base_channels": 4, "channel_mults": (1, 2), "attention": False, "diffusion_steps": 20, "sample_steps": 4}
    genlab.train("ddpm", out=args.run, steps=3, batch_size=8, grid_size=4, **tiny)
    args.steps = min(args.steps, tiny["sample_steps"])

run = genlab.load(args.run)
labels = np.repeat(np.arange(10), args.per_class)  # (10 * per_class,): a row per digit
for w in args.guidance:
    # Sampling-time settings are per-call overrides; the weights are the same for every w.
    start = time.perf_counter()
    images = run.sample(
        len(labels), labels=labels, seed=0, sampler="ddim", sample_steps=args.steps, eta=0.0, guidance=w
    )
    seconds = time.perf_counter() - start  # same noise for every w
    path = genlab.save_grid(args.out / f"guidance-{w:g}.png", images, nrow=args.per_class)
    print(
        f"w = {w:g}: {len(labels)} samples, DDIM {args.steps} steps, {1000 * seconds / len(labels):.1f} ms/image -> "
        f"{path}"
    )
