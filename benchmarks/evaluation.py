"""Evaluation-suite results: the shipped extractor and the real-data baselines.

Writes docs/results/extractor.md (classifier accuracy re-measured, training command,
feature-extraction speed) and docs/results/baselines.md (the suite on real data and on
two broken generators, with two extractors, so every model's numbers have a floor and a
ceiling to be read against).

    genlab eval train-extractor        # (re)makes the shipped weights; its report is read here
    python benchmarks/evaluation.py
"""

from __future__ import annotations

import json
import os
import platform
import time

import numpy as np
import torch

from genlab.data import load_dataset
from genlab.eval.evaluate import METRICS, Evaluator, Reference, format_metric
from genlab.eval.extractors import get_extractor
from genlab.eval.features import WEIGHTS, DigitExtractor, classifier_accuracy

RESULTS = os.path.join(os.path.dirname(__file__), "..", "docs", "results")
MACHINE = (
    f"{os.cpu_count()} CPU cores, torch {torch.__version__} ({torch.get_num_threads()} threads), Python "
    f"{platform.python_version()}"
)


def extractor_page() -> str:
    report = json.loads(WEIGHTS.with_suffix(".json").read_text())
    extractor = DigitExtractor()
    accuracy = classifier_accuracy(extractor.model)
    images = load_dataset("mnist", "test")[0]
    extractor.features_and_probs(images[:1000])  # warm-up
    start = time.perf_counter()
    extractor.features_and_probs(images)
    seconds = time.perf_counter() - start
    params = sum(p.numel() for p in extractor.model.parameters())
    return "\n".join(
        [
            "# The digit classifier behind genlab's metrics",
            "",
            "Made by `python benchmarks/evaluation.py` on " + MACHINE + ".",
            "",
            f"- Weights: `src/genlab/eval/weights/digits_cnn.safetensors` ({WEIGHTS.stat().st_size / 1e6:.2f} "
            "MB, "
            f"{params:,} parameters),",
            f"  made by `genlab eval train-extractor --epochs {report['epochs']} --seed {report['seed']}` "
            f"({report['train_seconds'] / 60:.1f} min of training; Adam lr {report['lr']}, cosine decay, batch "
            f"{report['batch_size']},",
            f"  random shifts of up to {report['max_shift']} px).",
            f"- MNIST test accuracy, re-measured now: **{accuracy * 100:.2f} %** (recorded at training: "
            f"{report['test_accuracy'] * 100:.2f} %).",
            "- Features: the 128-d penultimate layer (before its ReLU); class probabilities: its softmax.",
            f"- Speed: features and probabilities of the 10 000 test images in **{seconds:.2f} s** "
            f"({10_000 / seconds:,.0f} images/s).",
            "",
        ]
    )


def baselines_page(n: int = 10_000) -> str:
    train_images, train_labels, _ = load_dataset("mnist", "train")
    test_images = load_dataset("mnist", "test")[0]
    real, labels = train_images[:n], train_labels[:n]
    rng = np.random.default_rng(0)
    # A typical digit: the 3 whose classifier features are closest to the mean of all 3s.
    threes = np.flatnonzero(labels == 3)
    feats = DigitExtractor().features(real[threes])
    typical = int(threes[np.argmin(((feats - feats.mean(0)) ** 2).sum(1))])
    cases = {
        f"real: MNIST train[:{n}] (with labels)": (real, labels),
        f"noise: {n} uniform random images": (rng.integers(0, 256, real.shape, dtype=np.uint8), None),
        f"collapse: one typical 3 (train image {typical}) repeated {n} times": (
            np.repeat(real[typical : typical + 1], n, axis=0),
            None,
        ),
    }
    lines = [
        "# Baselines: the evaluation suite on real data",
        "",
        f"Made by `python benchmarks/evaluation.py` on {MACHINE}. Reference: the {len(test_images)} MNIST test "
        "images.",
        "The real-data row is the floor every model is compared with (`genlab eval baseline` prints it);",
        "the noise and collapse rows show what failure looks like. KID is shown x 1000.",
        "",
    ]
    for name in ("digits", "random-projection"):
        evaluator = Evaluator(Reference("mnist-test", test_images), get_extractor(name))
        lines += [
            f"## extractor: {name}",
            "",
            "| samples | " + " | ".join(METRICS) + " |",
            "|---|" + "---|" * len(METRICS),
        ]
        for case, (images, case_labels) in cases.items():
            r = evaluator(images, case_labels)
            cells = [format_metric(m, r, kid_std=True) for m in METRICS]
            lines.append(f"| {case} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["Directions: " + "; ".join(f"{m} {better} is better" for m, (better, _) in METRICS.items()) + ".", ""]
    return "\n".join(lines)


def main() -> None:
    os.makedirs(RESULTS, exist_ok=True)
    for name, page in (("extractor.md", extractor_page()), ("baselines.md", baselines_page())):
        with open(os.path.join(RESULTS, name), "w") as f:
            f.write(page)
        print(f"wrote docs/results/{name}")


if __name__ == "__main__":
    main()
