"""beta-VAE sweep on shapes64: reconstruction, KL and disentanglement (MIG, DCI, FactorVAE).

    python benchmarks/vae_beta.py train                 # 4 betas x 3 seeds into runs/beta-sweep/
    python benchmarks/vae_beta.py score                 # docs/results/vae-beta.json (what `genlab eval disentangle`
    prints)
    python benchmarks/vae_beta.py report                # (or vae_results.py report) the section of vae.md

Each run is exactly

    genlab train conv-vae --preset disentangle --dataset shapes64 --steps STEPS --batch-size 64 \\
        --seed S --set beta=B --out runs/beta-sweep/beta-B-seed-S --quiet

(conv encoder/decoder of width 16, z = 10, Bernoulli likelihood on [0, 1] RGB pixels, Adam 1e-3,
the KL weight warmed up linearly from 0 to beta over the first 500 steps: without it the
posterior collapsed (KL 0.04 nats at step 100) in a first attempt with beta = 1).
A run that finished (its model card exists) is not trained again. Scores use the posterior
means of the 5 000 shapes64 test images against their 7 ground-truth factors.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from genlab.atomic import atomic_write_text
from genlab.cli import main as genlab
from genlab.eval.factors import score_disentanglement
from genlab.plots import figure, save_figure
from genlab.runs import read_metrics
from genlab.runs.loading import load_family

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
BETAS = (1, 2, 4, 8)
SEEDS = (0, 1, 2)
ROOT = Path("runs/beta-sweep")
METRICS = (
    "test_recon",
    "test_kl",
    "mig",
    "dci_disentanglement",
    "dci_completeness",
    "dci_informativeness",
    "factorvae",
    "active_units",
)


def run_dir(beta: int, seed: int, root: Path = ROOT) -> Path:
    return root / f"beta-{beta}-seed-{seed}"


def command(beta: int, seed: int, steps: int, root: Path = ROOT) -> list[str]:
    return [
        "train",
        "conv-vae",
        "--preset",
        "disentangle",
        "--dataset",
        "shapes64",
        "--steps",
        str(steps),
        "--batch-size",
        "64",
        "--seed",
        str(seed),
        "--set",
        f"beta={beta}",
        "--out",
        str(run_dir(beta, seed, root)),
        "--quiet",
    ]


def train(args) -> None:
    for seed in SEEDS:  # every beta of seed 0 first, so a partial sweep is still a sweep
        for beta in BETAS:
            out = run_dir(beta, seed, args.root)
            if (out / "card.md").is_file():
                continue
            start = time.perf_counter()
            code = genlab(command(beta, seed, args.steps, args.root))
            print(f"beta={beta} seed={seed}: exit {code}, {time.perf_counter() - start:.0f} s", flush=True)
            if code:
                raise SystemExit(code)


def score(args) -> None:
    rows = []
    for beta in BETAS:
        for seed in SEEDS:
            out = run_dir(beta, seed, args.root)
            if not (out / "card.md").is_file():
                continue
            family, run, meta = load_family(out)
            metrics = read_metrics(out)
            held_out = [r for r in metrics if "test_recon" in r][-1]
            row = {
                "beta": beta,
                "seed": seed,
                "steps": int(meta["step"]),
                "train_s": max(r["elapsed_s"] for r in metrics if "elapsed_s" in r),
            }
            row.update({k: held_out[k] for k in ("test_recon", "test_kl", "test_active_units")})
            row.update(score_disentanglement(family, run.train.dataset))
            rows.append(row)
            print(json.dumps(row), flush=True)
    atomic_write_text(RESULTS / "vae-beta.json", json.dumps(rows, indent=1))


def _mean_std(values: list[float], digits: int) -> str:
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def beta_section(results: Path = RESULTS) -> list[str]:
    """The beta-sweep section of vae.md, from vae-beta.json (empty when it has not been scored)."""
    path = results / "vae-beta.json"
    if not path.is_file():
        return []
    rows = json.loads(path.read_text())
    steps = sorted({r["steps"] for r in rows})
    lines = [
        "## β sweep on shapes64: reconstruction against disentanglement",
        "",
        "`python benchmarks/vae_beta.py train && python benchmarks/vae_beta.py score` (each run: `genlab train "
        "conv-vae --preset disentangle "
        f"--dataset shapes64 --steps {'/'.join(map(str, steps))} --batch-size 64 --seed S --set beta=B`; scores as "
        "`genlab eval disentangle RUN`). "
        "Conv VAE (width 16, z = 10, Bernoulli likelihood on RGB pixels in [0, 1], KL weight warmed up linearly from "
        "0 to β over the first "
        "500 steps: without the warm-up a first β = 1 run collapsed, KL 0.04 nats at step 100) on the 30 000 shapes64 "
        "training images; "
        "held-out reconstruction (−log p(x|z), nats per image) and KL on the 5 000 test images; disentanglement of "
        "the test images' "
        "posterior means against their 7 ground-truth factors (motif, hue, background, x, y, size, count): MIG "
        "(20-bin histogram), "
        "DCI with random forests (disentanglement, completeness, informativeness = test accuracy), and the FactorVAE "
        "score. "
        f"Mean ± std over seeds {', '.join(map(str, SEEDS))}; one CPU thread per run, wall time per run in the last "
        "column.",
        "",
        "| β | runs | collapsed | recon (nats) | KL (nats) | active units | MIG | DCI dis. | DCI comp. | DCI info. | "
        "FactorVAE | min / run |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for beta in BETAS:
        sel = [r for r in rows if r["beta"] == beta]
        if not sel:
            continue
        col = lambda k, d: _mean_std([r[k] for r in sel], d)  # noqa: E731
        lines.append(
            f"| {beta} | {len(sel)} | {sum(_collapsed(r) for r in sel)} | {col('test_recon', 1)} | "
            f"{col('test_kl', 1)} | {col('test_active_units', 1)} | {col('mig', 3)} | "
            f"{col('dci_disentanglement', 3)} | {col('dci_completeness', 3)} | {col('dci_informativeness', 3)} | "
            f"{col('factorvae', 3)} | "
            f"{np.mean([r['train_s'] for r in sel]) / 60:.1f} |"
        )
    lines += ["", *_reading(rows)]
    figure_path = results / "vae-beta.png"
    if figure_path.is_file():
        lines += ["", "Each metric against β (points: seeds; line: mean):", "", "![beta sweep](vae-beta.png)"]
    return lines + [""]


def _collapsed(row: dict) -> bool:
    """A run whose posterior collapsed entirely: no active unit on the test set."""
    return row["test_active_units"] == 0


def _reading(rows: list[dict]) -> list[str]:
    """What the table says, computed from it (so a rerun cannot leave stale prose behind)."""
    collapsed = [r for r in rows if _collapsed(r)]
    live = [r for r in rows if not _collapsed(r)]
    text = [
        f"**Collapsed** = runs with no active unit on the test set (KL ≈ 0: the decoder ignores z): {len(collapsed)} "
        f"of {len(rows)}"
    ]
    if collapsed:
        text[0] += (
            " ("
            + ", ".join(f"β = {r['beta']} seed {r['seed']}" for r in collapsed)
            + "). They score MIG and FactorVAE near 0 and pull the means down; over the runs that did not collapse:"
        )
        for beta in BETAS:
            sel = [r for r in live if r["beta"] == beta]
            if sel:
                text.append(
                    f"- β = {beta}: {len(sel)} runs, KL {np.mean([r['test_kl'] for r in sel]):.1f} nats, MIG "
                    f"{np.mean([r['mig'] for r in sel]):.3f}, "
                    f"DCI disentanglement {np.mean([r['dci_disentanglement'] for r in sel]):.3f}, FactorVAE "
                    f"{np.mean([r['factorvae'] for r in sel]):.3f}"
                )
    else:
        text[0] += "."
    steps = max(r["steps"] for r in rows)
    groups = [[r["mig"] for r in live if r["beta"] == b] for b in BETAS]
    groups = [g for g in groups if g]
    between = float(np.ptp([np.mean(g) for g in groups])) if groups else float("nan")
    within = float(np.mean([np.std(g) for g in groups if len(g) > 1])) if groups else float("nan")
    kl = [np.mean([r["test_kl"] for r in live if r["beta"] == b]) for b in BETAS if any(r["beta"] == b for r in live)]
    kl_falls = all(a > b for a, b in zip(kl, kl[1:]))
    text += [
        "",
        f"At {steps} steps (about {steps * 64 / 30000:.0f} epochs) these models are far from the hundreds of "
        "thousands of steps of the "
        "β-VAE papers. Over the runs that did not collapse, the KL "
        f"{'falls' if kl_falls else 'does not fall steadily'} as β grows; "
        f"the MIG means of the β values differ by at most {between:.3f}, against a seed-to-seed standard deviation of "
        f"{within:.3f} "
        "within one β, so at this budget the sweep "
        f"{'cannot tell the β values apart on MIG' if between <= 2 * within else 'separates the β values on MIG'} "
        "(Locatello et al. 2019 found that disentanglement scores depend on the random seed as much as on the "
        "regulariser).",
    ]
    return text


def plot(results: Path = RESULTS) -> None:
    rows = json.loads((results / "vae-beta.json").read_text())
    keys = ["test_recon", "test_kl", "mig", "dci_disentanglement", "factorvae"]
    fig, axes = figure(1, len(keys), size=(3.0 * len(keys), 2.8))
    for ax, key in zip(axes, keys):
        betas = [r["beta"] for r in rows]
        ax.scatter(betas, [r[key] for r in rows], s=12, alpha=0.6)
        means = [np.mean([r[key] for r in rows if r["beta"] == b]) for b in BETAS if any(r["beta"] == b for r in rows)]
        ax.plot([b for b in BETAS if any(r["beta"] == b for r in rows)], means, color="black")
        ax.set(
            xscale="log",
            xticks=list(BETAS),
            xticklabels=[str(b) for b in BETAS],
            xlabel="β",
            title=key.replace("test_", "test "),
        )
        ax.minorticks_off()
    save_figure(fig, results / "vae-beta.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["train", "score", "plot", "report"])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args()
    if args.what == "train":
        train(args)
    elif args.what == "score":
        score(args)
        plot()
    elif args.what == "plot":
        plot()
    else:
        print("\n".join(beta_section()))


if __name__ == "__main__":
    main()
