"""Train a VAE on the embedded MNIST with the public API, then draw a grid of samples.

    python examples/train_vae.py                    # the MLP VAE for 2 epochs (about a minute on 2 cores)
    python examples/train_vae.py --tiny             # a tiny VAE for 5 steps (seconds; what the tests run)

Same as `genlab train vae --epochs 2 --out runs/example-vae` followed by `genlab sample`.
"""

import argparse
import os
import sys
from pathlib import Path

from genlab.config import TrainConfig
from genlab.data import save_grid
from genlab.models import get_family
from genlab.runs import RunConfig
from genlab.runs.loading import load_family, sample_in_batches
from genlab.training import train

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

spec = get_family("vae")  # the registry: config class + family class
model = spec.config_cls(**(spec.tiny if args.tiny else {}))  # VAEConfig(); --tiny: the conformance tests' size
schedule = TrainConfig(steps=5, batch_size=32) if args.tiny else TrainConfig(epochs=2)
result = train(RunConfig("vae", model, schedule), args.out, quiet=args.tiny)
print(f"trained {result.step} steps in {result.wall_seconds:.1f} s -> {result.run_dir}: {result.last_metrics}")

family, run, meta = load_family(args.out)  # rebuild it from the run directory alone
images = sample_in_batches(family, 64, seed=1)  # uint8 (64, 1, 28, 28)
grid = save_grid(args.out / "example-samples.png", images)  # carries the visible "AI GENERATED" mark
print(f"samples of checkpoint step {meta['step']}: {grid}")
