"""Score a folder of PNG digits with genlab's evaluation suite (FID, KID, IS, precision/recall, ...).

    python examples/score_folder.py my-samples/           # every *.png in the folder, one 28x28 digit per file
    python examples/score_folder.py --tiny                 # writes 100 real test digits as PNGs, scores them (seconds)

Images are read as greyscale, cut to their top square (genlab's PNGs carry the visible
"AI GENERATED" band below the picture) and resized to 28x28. The reference is the MNIST test set
(its first 500 images with --tiny); numbers are comparable only at equal n, reference and
extractor (`genlab eval baseline` gives real data's numbers).
"""

import argparse
import os
from pathlib import Path

import numpy as np
from PIL import Image

from genlab.data import load_dataset, load_image
from genlab.eval import METRICS, Evaluator, get_extractor, load_reference
from genlab.eval.evaluate import format_metric


def read_digit(path: Path) -> np.ndarray:
    """uint8 (28, 28); a genlab PNG's visible band (rows below the square picture) is cut off first."""
    pixels = load_image(path, grayscale=True)  # (H, W)
    square = pixels[: pixels.shape[1]]  # the band makes a genlab PNG taller than wide
    return np.asarray(Image.fromarray(square).resize((28, 28), Image.Resampling.BICUBIC))


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("folder", type=Path, nargs="?", help="folder of PNG files")
parser.add_argument(
    "--tiny",
    action="store_true",
    default=os.environ.get("GENLAB_TINY") == "1",
    help="score 100 real digits written here first (or GENLAB_TINY=1)",
)
parser.add_argument("--out", type=Path, default=Path("score-folder"), help="--tiny: where the PNGs go")
args = parser.parse_args()

if args.folder is None:
    if not args.tiny:
        parser.error("name a folder of PNG files, or pass --tiny")
    args.folder = args.out / "real-digits"
    args.folder.mkdir(parents=True, exist_ok=True)
    test, _, _ = load_dataset("mnist", "test")  # uint8 (10000, 1, 28, 28)
    for i, digit in enumerate(test[-100:, 0]):  # real data: plain PNGs, no "generated" marks
        Image.fromarray(digit).save(args.folder / f"{i:03d}.png")

paths = sorted(args.folder.glob("*.png"))
if len(paths) < 2:
    raise SystemExit(f"{args.folder} holds {len(paths)} PNG file(s); the metrics need at least 2")

images = np.stack([read_digit(p) for p in paths])[:, None]  # (N, 1, 28, 28)
reference = load_reference("mnist-test", n=500 if args.tiny else None)
evaluate = Evaluator(reference, get_extractor("digits"))
result = evaluate(images)
print(f"{len(paths)} images from {args.folder} against {reference.description}:")
for name, (better, _) in METRICS.items():
    if name in result:
        print(f"  {name:22s} {format_metric(name, result):>8s}  ({better} is better)")
