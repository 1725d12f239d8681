"""Train a VAE on the embedded MNIST with the public API, then draw a grid of samples.

    python examples/train_vae.py                    # the MLP VAE for 2 epochs (about a minute on 2 cores)
    python examples/train_vae.py --tiny             # a tiny VAE for 5 steps (seconds; what the tests run)

Same as `genlab train vae --epochs 2 --out runs/example-vae` followed by `genlab sample`.
"""

import argparse
import os
import sys
from pathlib import Path

import genlab

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument(
    "--tiny",
    action="store_true",
    default=os.environ.get("GENLAB_TINY") == "1",
    help="tiny model, 5 steps (or GENLAB_TINY=1)",
)
parser.add_argument("--out", type=Path, default=Path("runs/example-vae"), help="run directory to create")
args = parser.parse_args()
if (args.out / "config.yaml").exists():
    sys.exit(
        f"{args.out} already holds a run; pass another --out (or continue it with genlab train --resume {args.out})"
    )

# --tiny: the conformance tests' size (hidden 8, latent 2), 5 steps of batch 32.
size = {"steps": 5, "batch_size": 32, "hidden": 8, "latent_dim": 2} if args.tiny else {"epochs": 2}
run = genlab.train("vae", out=args.out, quiet=args.tiny, **size)
result = run.result
print(f"trained {result.step} steps in {result.wall_seconds:.1f} s -> {result.run_dir}: {result.last_metrics}")

again = genlab.load(args.out)  # rebuild it from the run directory alone
images = again.sample(64, seed=1)  # uint8 (64, 1, 28, 28)
grid = genlab.save_grid(args.out / "example-samples.png", images)  # carries the visible "AI GENERATED" mark
print(f"samples of checkpoint step {result.step}: {grid}")
