"""Guide figures measured on data: a toy GAN against a KDE, the forward process on MNIST, FID's small-n bias.

Seconds to a minute on one thread. Each builder takes the figures folder, writes its
files there and returns the numbers it measured (see :mod:`genlab.guide.theory`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import wasserstein_distance
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity

from genlab.data import load_dataset
from genlab.data.toy import bimodal_1d, bimodal_1d_pdf
from genlab.errors import ConfigError
from genlab.eval.extractors import get_extractor
from genlab.eval.metrics import feature_statistics, frechet_distance, kernel_inception_distance
from genlab.guide.theory import GRID, write_table
from genlab.math.diffusion import q_sample
from genlab.math.schedules import alpha_bar, named_betas
from genlab.models.gan_numpy import NumpyGANConfig, fit_samples, generate
from genlab.plots import figure, save_figure

TOY_GAN = NumpyGANConfig(z_dim=4, hidden=64, layers=2, lr=1e-3, beta1=0.5)  # as benchmarks/gan_bimodal.py
TOY_SCALE = 4.0  # data / 4 lies inside tanh's range
FORWARD_STEPS = (0, 50, 100, 200, 400, 600, 800, 1000)
FID_SIZES = (25, 50, 100, 250, 500, 1000, 2000)


def gan_vs_kde_figure(folder: Path, *, n: int = 1000, steps: int = 1500, seed: int = 0) -> dict[str, Any]:
    """A 1-D GAN (NumPy, hand-written backprop) and a cross-validated KDE fitted to the same n points."""
    data = bimodal_1d(n, torch.Generator().manual_seed(seed)).numpy()[:, 0].astype(np.float64)  # (n,)
    start = time.perf_counter()
    players, losses = fit_samples(data[:, None] / TOY_SCALE, TOY_GAN, steps=steps, seed=seed)
    gan_seconds = time.perf_counter() - start
    gan = generate(players["generator"], 20_000, np.random.default_rng(seed + 1))[:, 0].astype(np.float64) * TOY_SCALE
    start = time.perf_counter()
    search = GridSearchCV(KernelDensity(kernel="gaussian"), {"bandwidth": np.geomspace(0.03, 3.0, 21)}, cv=5).fit(
        data[:, None]
    )
    kde_seconds = time.perf_counter() - start
    kde = search.best_estimator_
    truth = bimodal_1d_pdf(GRID)
    w1 = {
        "training points": wasserstein_distance(data, GRID, v_weights=truth),
        "GAN": wasserstein_distance(gan, GRID, v_weights=truth),
        "KDE": wasserstein_distance(kde.sample(20_000, random_state=seed + 1)[:, 0], GRID, v_weights=truth),
    }
    fig, ax = figure(size=(7.0, 3.8))
    ax.hist(
        gan,
        bins=np.linspace(-5, 5, 101),
        density=True,
        color="tab:orange",
        alpha=0.45,
        label=f"GAN samples ({steps} steps)",
    )
    ax.plot(
        GRID,
        np.exp(kde.score_samples(GRID[:, None])),
        color="tab:blue",
        label=f"KDE (h = {kde.bandwidth:.3f}, 5-fold CV)",
    )
    ax.plot(GRID, truth, color="black", lw=2, label="true density")
    ax.plot(data, np.full_like(data, -0.02), "|", color="grey", alpha=0.3, label=f"the n = {n} training points")
    ax.set(xlabel="x", xlim=(-5, 5), title="Two generative models of the same 1000 points")
    ax.legend(fontsize=8)
    save_figure(fig, folder / "gan-vs-kde.png")
    rows = [f"| {name} | {value:.3f} |" for name, value in w1.items()]
    write_table(folder / "gan-vs-kde.md", "| samples | W1 to the true mixture |", rows)
    return {
        "w1": w1,
        "kde_bandwidth": float(kde.bandwidth),
        "gan_seconds": gan_seconds,
        "kde_seconds": kde_seconds,
        "final_d_loss": float(losses[-100:, 0].mean()),
    }


def forward_process_figure(folder: Path, *, seed: int = 0, data_dir: str | Path | None = None) -> dict[str, Any]:
    """Test digits under q(x_t | x_0) of the linear schedule at a few t: the picture of 'adding noise'."""
    images, _, _ = load_dataset("mnist", "test", data_dir)
    x0 = torch.from_numpy(images[:6].astype(np.float32)) / 127.5 - 1.0  # (6, 1, 28, 28) in [-1, 1]
    ab = torch.from_numpy(alpha_bar(named_betas("linear", 1000)))
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(x0.shape, generator=generator)  # the same eps at every t, so columns are comparable
    fig, axes = figure(len(x0), len(FORWARD_STEPS), size=(1.1 * len(FORWARD_STEPS), 1.15 * len(x0)))
    for col, t in enumerate(FORWARD_STEPS):
        xt = x0 if t == 0 else q_sample(x0, torch.full((len(x0),), t - 1), noise, ab)  # index t-1 is step t
        for row in range(len(x0)):
            ax = axes[row, col]
            ax.imshow(xt[row, 0].clamp(-1, 1).numpy(), cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"t = {t}\nᾱ = {1.0 if t == 0 else float(ab[t - 1]):.3f}", fontsize=7)
    save_figure(fig, folder / "forward-process.png")
    return {"steps": list(FORWARD_STEPS)}


def fid_small_n_figure(
    folder: Path, *, pool: int = 4000, repeats: int = 10, seed: int = 0, data_dir: str | Path | None = None
) -> dict[str, Any]:
    """FID and KID between two disjoint halves of the real test digits as the sample size n shrinks.

    Both sets come from the same distribution, so the true distance is 0: FID's estimate is
    biased upwards, strongly for small n; KID's estimator is unbiased but noisy.
    """
    extractor = get_extractor("digits")
    test, _, _ = load_dataset("mnist", "test", data_dir)  # the classifier was trained on the train split: stay off it
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(test))
    if 2 * pool > len(test):
        raise ConfigError(f"pool must be at most {len(test) // 2} (two disjoint halves of the test set), got {pool}")
    ref = extractor.features(test[order[:pool]])  # (pool, 128)
    candidates = extractor.features(test[order[pool : 2 * pool]])  # disjoint from ref, same distribution
    ref_stats = feature_statistics(ref)
    rows, results = [], {}
    for n in FID_SIZES:
        fids, kids = [], []
        for r in range(repeats):
            feats = candidates[rng.choice(pool, n, replace=False)]
            fids.append(frechet_distance(*feature_statistics(feats), *ref_stats))
            kids.append(kernel_inception_distance(feats, ref, seed=seed + r)[0])
        results[n] = {
            "fid_mean": float(np.mean(fids)),
            "fid_std": float(np.std(fids)),
            "kid_mean": float(np.mean(kids)),
            "kid_std": float(np.std(kids)),
        }
        v = results[n]
        rows.append(
            f"| {n} | {v['fid_mean']:.2f} ± {v['fid_std']:.2f} | {1000 * v['kid_mean']:.2f} ± "
            f"{1000 * v['kid_std']:.2f} |"
        )
    sizes = np.array(FID_SIZES)
    fig, (left, right) = figure(1, 2, size=(9.0, 3.4))
    left.errorbar(
        sizes,
        [results[n]["fid_mean"] for n in sizes],
        yerr=[results[n]["fid_std"] for n in sizes],
        marker="o",
        capsize=3,
    )
    left.set(
        xscale="log",
        yscale="log",
        xlabel="n (real test digits, other half as reference)",
        ylabel="FID",
        title="FID of real vs real: biased, ~ 1/n",
    )
    right.errorbar(
        sizes,
        [1000 * results[n]["kid_mean"] for n in sizes],
        yerr=[1000 * results[n]["kid_std"] for n in sizes],
        marker="o",
        capsize=3,
        color="tab:green",
    )
    right.axhline(0.0, color="grey", lw=0.8)
    right.set(xscale="log", xlabel="n", ylabel="KID × 1000", title="KID of the same sets: unbiased, noisy")
    save_figure(fig, folder / "fid-small-n.png")
    write_table(folder / "fid-small-n.md", f"| n | FID (mean ± std, {repeats} draws) | KID × 1000 |", rows)
    return {"pool": pool, "repeats": repeats, "by_n": {str(k): v for k, v in results.items()}}
