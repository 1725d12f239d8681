"""Retrain the shapes64 classifier behind the ``shapes`` extractor and rewrite its weights.

Writes src/genlab/eval/weights/shapes_cnn.safetensors and the training report beside it
(shapes_cnn.json: per-factor test accuracy, training seconds, options). Seeded and
deterministic on CPU for a given thread count (default 1, recorded in the report).

    OMP_NUM_THREADS=1 python benchmarks/train_shapes_extractor.py            # the shipped weights
    python benchmarks/train_shapes_extractor.py --steps 20 --out /tmp/s.safetensors   # smoke test
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from genlab.eval.shapes_features import WEIGHTS, ShapesTraining, save_shapes_cnn, train_shapes_cnn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = ShapesTraining()
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="epochs over the 30 000 training images")
    parser.add_argument(
        "--steps", type=int, default=defaults.steps, help="stop after this many steps instead (0 = all epochs)"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=WEIGHTS, help="weights file (default: the one genlab ships)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, report = train_shapes_cnn(ShapesTraining(epochs=args.epochs, seed=args.seed, steps=args.steps))
    save_shapes_cnn(model, report, args.out)
    accuracies = ", ".join(f"{name} {acc:.4f}" for name, acc in report["factor_accuracy"].items())
    print(f"test accuracy: {accuracies}; trained in {report['train_seconds']:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
