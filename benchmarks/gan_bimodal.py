"""GAN vs KDE on the 1-D bimodal mixture 0.5 N(-2, 0.5^2) + 0.5 N(2, 0.5^2): figure and table.

    OMP_NUM_THREADS=1 python benchmarks/gan_bimodal.py            # n = 1000 samples, seed 0

The NumPy GAN (genlab.models.gan_numpy, hand-written backprop) and two scikit-learn Gaussian
KDEs (bandwidth by Silverman's rule, and by 5-fold cross-validated log-likelihood) are fitted
on the same n samples. Each model is scored on 50 000 of its own samples against the exact
mixture: KS statistic, Wasserstein-1, mass left of 0 (truth 0.5), mass in (-0.5, 0.5) and the
standard deviation of the right mode (the part x > 0).
The n training samples themselves are the first row: the floor any model fitted to them sees.
Seeded and deterministic; writes docs/results/gan-bimodal.png.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import kstest, norm, wasserstein_distance
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KernelDensity

from genlab.data.toy import bimodal_1d, bimodal_1d_pdf
from genlab.models.gan_numpy import NumpyGANConfig, fit_samples, generate
from genlab.plots import figure, save_figure

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
MEANS, STD = (-2.0, 2.0), 0.5
SCALE = 4.0  # data / SCALE lies in about [-1, 1], the range of G's tanh
GAN_CFG = NumpyGANConfig(z_dim=4, hidden=64, layers=2, lr=1e-3)
GRID = np.linspace(-6.0, 6.0, 4001)


def mixture_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * norm.cdf(x, MEANS[0], STD) + 0.5 * norm.cdf(x, MEANS[1], STD)


def scores(samples: np.ndarray) -> dict[str, float]:
    """Distances of 1-D samples to the exact mixture (W1 against its pdf on a 4001-point grid)."""
    return {
        "KS": kstest(samples, mixture_cdf).statistic,
        "W1": wasserstein_distance(samples, GRID, v_weights=bimodal_1d_pdf(GRID)),
        "mass x<0": float(np.mean(samples < 0)),
        "mass in (-0.5, 0.5)": float(np.mean(np.abs(samples) < 0.5)),
        "std of x>0": float(samples[samples > 0].std()),
    }


def exact_scores() -> dict[str, float]:
    """The same numbers for the mixture itself (the std of its x > 0 part by integration on GRID)."""
    right = GRID[GRID > 0]
    p = bimodal_1d_pdf(right)
    mean = np.trapezoid(right * p, right) / np.trapezoid(p, right)
    std = np.sqrt(np.trapezoid((right - mean) ** 2 * p, right) / np.trapezoid(p, right))
    return {
        "KS": 0.0,
        "W1": 0.0,
        "mass x<0": 0.5,
        "mass in (-0.5, 0.5)": float(mixture_cdf(0.5) - mixture_cdf(-0.5)),
        "std of x>0": float(std),
    }


def silverman_bandwidth(data: np.ndarray) -> float:
    """Silverman's rule of thumb h = 0.9 min(std, IQR / 1.34) n^(-1/5) (Silverman 1986, eq. 3.31).

    scikit-learn's ``bandwidth="silverman"`` is only the n-dependent factor (it assumes unit
    variance), so the rule is computed here in full.
    """
    q75, q25 = np.percentile(data, [75, 25])
    return float(0.9 * min(data.std(ddof=1), (q75 - q25) / 1.34) * data.size ** (-0.2))


def fit_kdes(data: np.ndarray, seed: int) -> dict[str, KernelDensity]:
    """Gaussian KDEs: Silverman's rule, and the bandwidth maximising 5-fold CV log-likelihood."""
    silverman = KernelDensity(kernel="gaussian", bandwidth=silverman_bandwidth(data)).fit(data[:, None])
    search = GridSearchCV(
        KernelDensity(kernel="gaussian"),
        {"bandwidth": np.logspace(-1.5, 0.5, 41)},
        cv=KFold(5, shuffle=True, random_state=seed),
    ).fit(data[:, None])
    return {"KDE, Silverman": silverman, "KDE, 5-fold CV": search.best_estimator_}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1000, help="training samples")
    parser.add_argument("--steps", type=int, default=3000, help="GAN steps (batch 128, lr cosine-decayed to 0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-samples", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=RESULTS / "gan-bimodal.png")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = bimodal_1d(args.n, torch.Generator().manual_seed(args.seed)).numpy()[:, 0].astype(np.float64)  # (n,)

    start = time.perf_counter()
    players, losses = fit_samples(data[:, None] / SCALE, GAN_CFG, steps=args.steps, seed=args.seed)
    gan_seconds = time.perf_counter() - start
    gan = (
        generate(players["generator"], args.eval_samples, np.random.default_rng(args.seed + 1))[:, 0].astype(
            np.float64
        )
        * SCALE
    )

    start = time.perf_counter()
    kdes = fit_kdes(data, args.seed)
    kde_seconds = time.perf_counter() - start

    rows = {f"training samples (n = {args.n})": data, "NumPy GAN": gan}
    rows |= {name: kde.sample(args.eval_samples, random_state=args.seed + 1)[:, 0] for name, kde in kdes.items()}
    truth = exact_scores()

    print(
        f"python benchmarks/gan_bimodal.py -n {args.n} --steps {args.steps} --seed {args.seed} "
        f"(torch {torch.__version__}, Python {platform.python_version()})"
    )
    print(
        f"GAN: z_dim {GAN_CFG.z_dim}, {GAN_CFG.layers} hidden layers of {GAN_CFG.hidden}, Adam lr {GAN_CFG.lr} "
        f"beta1 {GAN_CFG.beta1}, {args.steps} steps of batch 128 in {gan_seconds:.1f} s; "
        f"mean D loss over the last 100 steps {losses[-100:, 0].mean():.3f} (2 log 2 = {2 * np.log(2):.3f} at "
        "equilibrium)"
    )
    bandwidths = ", ".join(f"{name}: h = {kde.bandwidth_:.3f}" for name, kde in kdes.items())
    print(f"KDE bandwidths ({kde_seconds:.1f} s for both fits): {bandwidths}")
    print(
        f"Scores of {args.eval_samples} samples of each model (the training row: its n points) against the exact "
        "mixture:\n"
    )
    keys = list(truth)
    print("| samples | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    print("| exact mixture | " + " | ".join(f"{truth[k]:.3f}" for k in keys) + " |")
    for name, samples in rows.items():
        s = scores(samples)
        print(f"| {name} | " + " | ".join(f"{s[k]:.3f}" for k in keys) + " |")

    fig, ax = figure(size=(7.0, 4.0))
    ax.hist(
        gan,
        bins=np.linspace(-5, 5, 121),
        density=True,
        color="tab:orange",
        alpha=0.45,
        label="NumPy GAN samples (histogram)",
    )
    ax.plot(GRID, bimodal_1d_pdf(GRID), color="black", lw=2, label="true density")
    for (name, kde), style in zip(kdes.items(), ("--", "-")):
        ax.plot(
            GRID,
            np.exp(kde.score_samples(GRID[:, None])),
            style,
            color="tab:blue",
            lw=1.3,
            label=f"{name} (h = {kde.bandwidth_:.2f})",
        )
    ax.plot(
        data, np.full_like(data, -0.01), "|", color="gray", alpha=0.3, ms=6, label=f"the {args.n} training samples"
    )
    ax.set(
        xlim=(-5, 5), xlabel="x", ylabel="density", title=f"GAN vs KDE on {args.n} samples of a two-Gaussian mixture"
    )
    ax.legend(fontsize=8, loc="upper center")
    print(f"\nwrote {save_figure(fig, args.out)}")


if __name__ == "__main__":
    main()
