"""The shapes64 data set page: sample figures, factor table, timings, the ``shapes`` extractor.

Writes docs/results/shapes64.png (one row per motif class: its first 10 test images),
docs/results/shapes64-factors.png (one row per factor: that factor swept over all its values,
the others held at test image 0's) and docs/results/shapes64.md, which also records the
shipped extractor's accuracy (re-measured on the 5 000 test images) and reference
disentanglement scores of three kinds of codes.

    OMP_NUM_THREADS=1 python benchmarks/train_shapes_extractor.py   # (re)makes the weights; its report is read here
    OMP_NUM_THREADS=1 python benchmarks/shapes64_figure.py
"""

from __future__ import annotations

import json
import os
import platform
import time

import numpy as np
import torch
from sklearn.decomposition import PCA

from genlab.atomic import atomic_write_text
from genlab.data import load_shapes64, render_shapes64, save_grid, shapes64_factors
from genlab.data.shapes64 import (
    BACKGROUNDS,
    COUNTS,
    FACTOR_NAMES,
    FACTOR_SIZES,
    HUES_DEGREES,
    MOTIFS,
    POSITIONS,
    SIZES,
    SPLITS,
)
from genlab.eval.disentangle import dci, factorvae_score, mig
from genlab.eval.shapes_features import WEIGHTS, ShapesExtractor, factor_accuracy

RESULTS = os.path.join(os.path.dirname(__file__), "..", "docs", "results")
PER_CLASS = 10
DISENTANGLE_N = 5000  # test images scored by MIG / DCI / FactorVAE


def class_rows(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The first PER_CLASS images of each class, class by class. Shapes: -> (6 * PER_CLASS, 3, 64, 64)."""
    return np.concatenate([images[np.flatnonzero(labels == c)[:PER_CLASS]] for c in range(len(MOTIFS))])


def traversals(base: np.ndarray) -> np.ndarray:
    """Each factor swept over its values from ``base``; rows padded with white to 8 cells. Shapes: (7 * 8, 3, 64,
    64)."""
    width = max(FACTOR_SIZES)
    rows = []
    for j, size in enumerate(FACTOR_SIZES):
        variants = np.repeat(base[None], size, axis=0)
        variants[:, j] = np.arange(size)
        blank = np.full((width - size, 3, 64, 64), 255, np.uint8)
        rows.append(np.concatenate([render_shapes64(variants), blank]))
    return np.concatenate(rows)


def disentanglement_rows(images: np.ndarray, factors: np.ndarray) -> list[str]:
    """MIG / DCI / FactorVAE of the true factors, of pixel PCA codes and of random codes."""
    codes = {
        "the true factors (upper bound)": factors.astype(np.float64),
        "10 principal components of the pixels": PCA(10, random_state=0).fit_transform(
            images.reshape(len(images), -1) / 255.0
        ),
        "10 standard normal numbers, independent of the image": np.random.default_rng(0).normal(
            size=(len(images), 10)
        ),
    }
    rows = []
    for name, c in codes.items():
        d = dci(c, factors, seed=0)
        rows.append(
            f"| {name} | {mig(c, factors):.3f} | {d.disentanglement:.3f} | {d.completeness:.3f} | "
            f"{d.informativeness:.3f} | {factorvae_score(c, factors, seed=0):.3f} |"
        )
    return rows


def main() -> None:
    torch.set_num_threads(1)
    start, cpu_start = time.perf_counter(), time.process_time()
    load_shapes64("train")  # first call in this process: generates
    cold, cold_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    start = time.perf_counter()
    load_shapes64("train")
    warm = time.perf_counter() - start
    images, labels = load_shapes64("test")
    factors = shapes64_factors("test")[0]
    # Procedural data, not model output: no "AI GENERATED" band on these figures.
    save_grid(os.path.join(RESULTS, "shapes64.png"), class_rows(images, labels), nrow=PER_CLASS, watermark=None)
    save_grid(
        os.path.join(RESULTS, "shapes64-factors.png"), traversals(factors[0]), nrow=max(FACTOR_SIZES), watermark=None
    )

    report = json.loads(WEIGHTS.with_suffix(".json").read_text())
    extractor = ShapesExtractor()
    accuracy = factor_accuracy(extractor.model, images, factors)
    params = sum(p.numel() for p in extractor.model.parameters())
    start = time.perf_counter()
    extractor.features_and_probs(images)
    feature_seconds = time.perf_counter() - start
    start = time.perf_counter()
    scores = disentanglement_rows(images[:DISENTANGLE_N], factors[:DISENTANGLE_N])
    disentangle_seconds = time.perf_counter() - start

    values = {
        "motif": ", ".join(MOTIFS),
        "hue": ", ".join(f"{h}°" for h in HUES_DEGREES) + " (HSV, saturation 0.85, value 0.62)",
        "background": ", ".join(f"{name} {rgb}" for name, rgb in BACKGROUNDS.items()),
        "pos_x": ", ".join(map(str, POSITIONS)) + " px (motif centre; the image centre is 32)",
        "pos_y": ", ".join(map(str, POSITIONS)) + " px",
        "size": ", ".join(map(str, SIZES)) + " px (motif radius)",
        "count": ", ".join(map(str, COUNTS))
        + " (rosette lobes, star points, ring segments, lattice cells + 1, spiral arms, flower petals)",
    }
    machine = (
        f"{os.cpu_count()} CPU cores (shared with other jobs), torch {torch.__version__} (1 thread), NumPy "
        f"{np.__version__}, Python {platform.python_version()}"
    )
    lines = [
        "# shapes64: procedural ornament motifs with known factors",
        "",
        f"Made by `OMP_NUM_THREADS=1 python benchmarks/shapes64_figure.py` on {machine}.",
        'Code: `src/genlab/data/shapes64.py`; load it with `load_dataset("shapes64", split)`, its factors with',
        "`shapes64_factors(split)`, and render any factor combination with `render_shapes64(factors)`.",
        "",
        "64x64 RGB images in the style of banknote guilloche rosettes and textile motifs. Every factor",
        "takes a few discrete values, drawn independently and uniformly (PCG64, one seed per split), so",
        "MIG / DCI / FactorVAE can use the factor codes directly. The class label is the motif.",
        "",
        "| factor | values | count |",
        "|---|---|---|",
        *[f"| {name} | {values[name]} | {size} |" for name, size in zip(FACTOR_NAMES, FACTOR_SIZES)],
        "",
        "Splits: "
        + ", ".join(f"{split} {n:,} images (seed {seed})" for split, (n, seed) in SPLITS.items())
        + f"; {np.prod(FACTOR_SIZES):,} possible combinations.",
        f"Generating the train split in a fresh process: **{cold:.2f} s** wall clock, {cold_cpu:.2f} s of CPU time "
        "(one thread; the wall",
        f"time includes waiting for the shared cores). Loading it again: {warm * 1e3:.3f} ms (cached, read-only).",
        "",
        "![one row per motif class](shapes64.png)",
        "",
        "*One row per motif class (rosette, star, ring, lattice, spiral, flower): its first 10 test images.*",
        "",
        "![factor traversals](shapes64-factors.png)",
        "",
        "*One row per factor, in table order: the factor swept over all its values, the others held at test image "
        "0's.*",
        "",
        "## The `shapes` extractor",
        "",
        f"- Weights: `src/genlab/eval/weights/shapes_cnn.safetensors` ({WEIGHTS.stat().st_size / 1e6:.2f} MB, "
        f"{params:,} parameters), made by",
        f"  `OMP_NUM_THREADS=1 python benchmarks/train_shapes_extractor.py` ({report['epochs']} epochs, Adam lr "
        f"{report['lr']}, cosine decay, batch {report['batch_size']},",
        f"  seed {report['seed']}, {report['torch_threads']} thread): **{report['train_seconds'] / 60:.1f} min** of "
        "training on the machine above, shared with other jobs.",
        "- A CNN with one softmax head per factor, so its 128-d penultimate features (before the ReLU, standardised",
        "  with their mean and std over the first 10 000 training images) encode every factor; the motif head gives "
        "p(class | x).",
        f"- Test accuracy on all {len(images):,} test images, re-measured now (recorded at training in parentheses):",
        "",
        "| " + " | ".join(FACTOR_NAMES) + " |",
        "|" + "---|" * len(FACTOR_NAMES),
        "| "
        + " | ".join(f"{accuracy[n] * 100:.2f} % ({report['factor_accuracy'][n] * 100:.2f} %)" for n in FACTOR_NAMES)
        + " |",
        "",
        f"- Speed: features and motif probabilities of the {len(images):,} test images in **{feature_seconds:.2f} s** "
        f"({len(images) / feature_seconds:,.0f} images/s).",
        '- Use: `get_extractor("shapes")`, reference `shapes64-test` (e.g. `genlab eval ... --ref shapes64-test '
        "--extractor shapes`).",
        "",
        "## Reference disentanglement scores",
        "",
        f"`genlab.eval.disentangle` on the first {DISENTANGLE_N:,} test images (MIG with 20 histogram bins; DCI with "
        "a random forest",
        "per factor, 25 % held out; FactorVAE score with batches of 64, 10 000 + 5 000 votes; seed 0); "
        f"{disentangle_seconds:.0f} s for the three rows.",
        "A representation to be judged should be read between the last two rows and the first.",
        "",
        "| codes | MIG | DCI disentanglement | DCI completeness | DCI informativeness | FactorVAE score |",
        "|---|---|---|---|---|---|",
        *scores,
        "",
    ]
    atomic_write_text(os.path.join(RESULTS, "shapes64.md"), "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
