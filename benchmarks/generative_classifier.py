"""Generative vs discriminative classifiers on MNIST: the data-efficiency curve (Ng & Jordan 2001).

    OMP_NUM_THREADS=1 nohup python benchmarks/generative_classifier.py measure > gc.log 2>&1 &   # resumable
    python benchmarks/generative_classifier.py render      # docs/results/generative-classifier.md from the JSON

For each training-set size n in 100, 1 000, 10 000, 60 000 (a stratified subset drawn with the seed: n/10
images per class; 60 000 is the whole training set) and each seed, two models of about the same size are
trained for the same number of Adam steps on the same batches' worth of data:

- generative: a ``cvae`` (MLP, 256 hidden units, 20 latents, Bernoulli decoder), classified by Bayes' rule
  over its IWAE bound on log p(x | y) with the subset's label frequencies as prior
  (``genlab.eval.bayes_classifier``, what ``genlab classify`` runs);
- discriminative: a small CNN (two stride-2 convolutions and a 256-unit layer) trained by cross-entropy;
- and, for reference, Ng & Jordan's own pair: Bernoulli naive Bayes fitted in closed form on the same subset
  (no training steps) and logistic regression trained with the same steps and batches.

Both are scored on the first N_TEST MNIST test images: accuracy, ECE (15 equal-width bins), NLL of the
labels, and accuracy under additive Gaussian noise on [0, 1] pixels (clipped; the same noisy images for
all). ``measure`` keeps each finished (n, seed) row in docs/results/generative-classifier.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from generative_classifier_page import page  # the page's tables and prose, beside this script
from torch import nn

from genlab.atomic import atomic_write_text
from genlab.data import load_dataset
from genlab.eval.bayes_classifier import add_noise, class_log_likelihoods, prior_log_probs, scores
from genlab.math.bayes import ECE_BINS, accuracy, expected_calibration_error, label_nll
from genlab.models.registry import get_family

ROOT = Path(__file__).resolve().parent.parent
JSON = ROOT / "docs" / "results" / "generative-classifier.json"
PAGE = ROOT / "docs" / "results" / "generative-classifier.md"
SIZES = (100, 1_000, 10_000, 60_000)
SEEDS = (0, 1, 2)
STEPS = 2_000  # Adam steps for both models at every size (batch 64: 128 000 images drawn, ~2.1 epochs of 60 000)
BATCH = 64
LR = 1e-3
N_TEST = 5_000  # the first 5 000 MNIST test images
NOISES = (0.0, 0.1, 0.3)  # sigma of the additive Gaussian noise on [0, 1] pixels
IWAE_K = 10
CVAE = {"hidden": 256, "latent_dim": 20}


class SmallCNN(nn.Module):
    """The discriminative baseline: (1, 28, 28) -> 16 x 14 x 14 -> 32 x 7 x 7 -> 256 -> 10 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 5, stride=2, padding=2),  # (B, 1, 28, 28) -> (B, 16, 14, 14)
            nn.ReLU(),
            nn.Conv2d(16, 32, 5, stride=2, padding=2),  # -> (B, 32, 7, 7)
            nn.ReLU(),
            nn.Flatten(),  # -> (B, 1568)
            nn.Linear(32 * 7 * 7, 256),
            nn.ReLU(),
            nn.Linear(256, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def stratified_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of n // 10 images of each of the 10 classes, drawn with ``seed``; all images when n >= len."""
    if n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    picks = [rng.choice(np.flatnonzero(labels == c), n // 10, replace=False) for c in range(10)]
    return np.sort(np.concatenate(picks))


def batches(count: int, steps: int, seed: int) -> torch.Tensor:
    """Batch indices into a subset of ``count`` images, drawn with replacement. Shapes: -> (steps, BATCH)."""
    return torch.randint(count, (steps, BATCH), generator=torch.Generator().manual_seed(seed))


def train_cvae(x: torch.Tensor, y: torch.Tensor, info, steps: int, seed: int):
    spec = get_family("cvae")
    torch.manual_seed(seed)  # the initial weights (the library never seeds; the benchmark does, once per model)
    family = spec.family_cls(spec.config_cls(**CVAE, lr=LR), info)
    generator = torch.Generator().manual_seed(seed)
    for idx in batches(len(x), steps, seed):
        family.train_step(x[idx], y[idx], generator)
    return family


def naive_bayes_log_likelihoods(x: torch.Tensor, y: torch.Tensor, test: torch.Tensor) -> torch.Tensor:
    """Bernoulli naive Bayes, Ng & Jordan's own generative classifier: pixels independent given the class,
    theta_cj = (sum of grey levels + 1) / (n_c + 2) (Laplace smoothing), a grey level g scored as
    g log theta + (1 - g) log(1 - theta). Shapes: x (n, 1, 28, 28), y (n,), test (N, 1, 28, 28) -> (N, 10)."""
    flat, test_flat = x.flatten(1).double(), test.flatten(1).double()  # (n, 784), (N, 784)
    theta = torch.stack([(flat[y == c].sum(0) + 1) / ((y == c).sum() + 2) for c in range(10)])  # (10, 784)
    return test_flat @ theta.log().T + (1 - test_flat) @ torch.log1p(-theta).T


def train_cnn(x: torch.Tensor, y: torch.Tensor, steps: int, seed: int) -> SmallCNN:
    torch.manual_seed(seed)
    cnn = SmallCNN()
    opt = torch.optim.Adam(cnn.parameters(), lr=LR)
    for idx in batches(len(x), steps, seed):
        loss = F.cross_entropy(cnn(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return cnn


def train_logistic(x: torch.Tensor, y: torch.Tensor, steps: int, seed: int) -> nn.Linear:
    """Logistic regression (784 -> 10 softmax), Ng & Jordan's discriminative model, same steps and batches."""
    torch.manual_seed(seed)
    model = nn.Linear(28 * 28, 10)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    for idx in batches(len(x), steps, seed):
        loss = F.cross_entropy(model(x[idx].flatten(1)), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model


def _subsets(size: int, seed: int, n_test: int):
    train_x, train_y, info = load_dataset("mnist", "train")
    test_x, test_y, _ = load_dataset("mnist", "test")
    pick = stratified_subset(train_y, size, seed)
    x = torch.from_numpy(train_x[pick].astype(np.float32) / 255.0)  # (n, 1, 28, 28) in [0, 1]
    y = torch.from_numpy(train_y[pick].astype(np.int64))
    xt = torch.from_numpy(test_x[:n_test].astype(np.float32) / 255.0)
    yt = torch.from_numpy(test_y[:n_test].astype(np.int64))
    return x, y, xt, yt, info


def _discriminative_scores(log_probs: torch.Tensor, yt: torch.Tensor) -> dict:
    return {
        "accuracy": accuracy(log_probs, yt),
        "ece": expected_calibration_error(log_probs, yt, ECE_BINS),
        "nll": label_nll(log_probs, yt),
    }


def measure_logistic(row: dict) -> None:
    """Add logistic regression's scores (``lr_SIGMA``) to a measured row, on its subset, budget and noise."""
    x, y, xt, yt, _ = _subsets(row["size"], row["seed"], row["n_test"])
    start = time.perf_counter()
    model = train_logistic(x, y, row["steps"], row["seed"])
    row["lr_train_s"] = time.perf_counter() - start
    row["lr_parameters"] = sum(p.numel() for p in model.parameters())
    for sigma in NOISES:
        noisy = add_noise(xt, sigma, torch.Generator().manual_seed(10_000 + row["seed"]))
        with torch.no_grad():
            row[f"lr_{sigma}"] = _discriminative_scores(F.log_softmax(model(noisy.flatten(1)).double(), 1), yt)


def measure_row(size: int, seed: int, steps: int, n_test: int) -> dict:
    x, y, xt, yt, info = _subsets(size, seed, n_test)
    row: dict = {"size": size, "seed": seed, "steps": steps, "n_test": n_test}
    start = time.perf_counter()
    cvae = train_cvae(x, y, info, steps, seed)
    row["cvae_train_s"] = time.perf_counter() - start
    start = time.perf_counter()
    cnn = train_cnn(x, y, steps, seed)
    row["cnn_train_s"] = time.perf_counter() - start
    row["cvae_parameters"] = cvae.num_parameters()
    row["cnn_parameters"] = sum(p.numel() for p in cnn.parameters())
    log_prior = prior_log_probs("train", 10, y.numpy())
    start = time.perf_counter()
    for sigma in NOISES:
        noisy = add_noise(xt, sigma, torch.Generator().manual_seed(10_000 + seed))
        got = scores(class_log_likelihoods(cvae, noisy, iwae_k=IWAE_K, seed=seed), yt, log_prior)
        row[f"cvae_{sigma}"] = {k: got[k] for k in ("accuracy", "ece", "nll", "per_class_accuracy")}
        got = scores(naive_bayes_log_likelihoods(x, y, noisy), yt, log_prior)
        row[f"nb_{sigma}"] = {k: got[k] for k in ("accuracy", "ece", "nll")}
        with torch.no_grad():
            log_probs = F.log_softmax(cnn(noisy).double(), dim=1)
        row[f"cnn_{sigma}"] = _discriminative_scores(log_probs, yt)
    row["eval_s"] = time.perf_counter() - start
    return row


def load() -> dict:
    return json.loads(JSON.read_text()) if JSON.is_file() else {"rows": {}}


def save(data: dict) -> None:
    atomic_write_text(JSON, json.dumps(data, indent=1) + "\n")


def machine() -> str:
    model = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln),
        platform.processor() or "unknown CPU",
    )
    return f"{model}, {os.cpu_count()} cores (shared), torch {torch.__version__}, Python {platform.python_version()}"


def measure(sizes, seeds, steps: int, n_test: int) -> None:
    torch.set_num_threads(1)
    data = load()
    data.setdefault("runs", []).append(
        {
            "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_start": os.getloadavg(),
            "machine": machine(),
        }
    )
    save(data)
    began = time.perf_counter()
    for seed in seeds:  # seeds outside: a run cut short still has every size
        for size in sizes:
            key = f"{size}-{seed}"
            if key in data["rows"]:
                if "lr_0.0" not in data["rows"][key]:  # rows measured before the logistic regression existed
                    measure_logistic(data["rows"][key])
                    save(data)
                continue
            row = measure_row(size, seed, steps, n_test)
            measure_logistic(row)
            row["load_after"] = os.getloadavg()
            data["rows"][key] = row
            data["runs"][-1].update(load_end=os.getloadavg(), wall_s=time.perf_counter() - began)
            save(data)
            acc = {m: round(row[f"{m}_0.0"]["accuracy"], 4) for m in ("cvae", "nb", "cnn")}
            took = row["cvae_train_s"] + row["cnn_train_s"] + row["eval_s"]
            print(f"{key}: accuracy {acc} ({took:.0f} s)", flush=True)
    data["runs"][-1].update(load_end=os.getloadavg(), wall_s=time.perf_counter() - began)
    save(data)


def render() -> None:
    data = load()
    rows = list(data["rows"].values())
    if not rows:
        raise SystemExit(f"no rows in {JSON}: run `measure` first")
    settings = {"noises": NOISES, "bins": ECE_BINS, "lr": LR, "batch": BATCH, "cvae": CVAE, "iwae_k": IWAE_K}
    atomic_write_text(PAGE, page(data, rows, settings))
    print(f"wrote {PAGE}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure", help="train and score every (size, seed) not yet in the JSON")
    m.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    m.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    m.add_argument("--steps", type=int, default=STEPS)
    m.add_argument("--n-test", type=int, default=N_TEST)
    sub.add_parser("render", help="write the results page from the JSON")
    args = parser.parse_args()
    if args.command == "measure":
        measure(args.sizes, args.seeds, args.steps, args.n_test)
    else:
        render()


if __name__ == "__main__":
    main()
