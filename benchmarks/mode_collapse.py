"""Mode collapse on the ring of 8 and the grid of 25 Gaussians (VEEGAN / PacGAN protocol).

    python benchmarks/mode_collapse.py --seeds 5      # writes docs/results/mode-collapse.md

Every configuration is genlab's MLP ``gan`` family with one set of options (the rest at
the shared base below), trained on fresh mixture samples each step for the number of
generator steps its row states, then scored on 2 500 samples with genlab.eval.modes
(rules stated in the doc it writes). A configuration with ``rejection=drs`` is scored
twice from the same trained model: G's own samples, and the samples kept by
Discriminator Rejection Sampling (a post-hoc sampler; two rows). Mean and standard
deviation over seeds 0..seeds-1; the scatter plots show seed 0.

Runs are stored in docs/results/mode-collapse.json as they finish; ``--configs`` reruns
some rows and keeps the others' stored results (invocations on different rows may run at
the same time: each re-reads the store before adding its rows), and ``--doc-only``
rewrites the doc.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from genlab.atomic import atomic_write, atomic_write_text
from genlab.plots import figure, save_figure
from genlab.training.toy import TOY_DATA, score_toy, toy_samples, train_toy_gan

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
STORE = RESULTS / "mode-collapse.json"
SHOWN = (
    Path(__file__).resolve().parent.parent / "runs" / "mode-collapse"
)  # seed-0 samples for the plots (not committed)
BASE = {"hidden": 64, "z_dim": 16, "dropout": 0.0, "lr": 2e-4, "beta1": 0.5, "output": "identity"}
WGAN_GP = {"loss": "wasserstein", "gp": 10.0, "n_critic": 5, "lr": 1e-4, "beta1": 0.0, "beta2": 0.9}
BEST = {"lr": 1e-3, "ema": 0.999, "r1": 0.1, "rejection": "drs"}
DRS_SUFFIX = " + DRS sampler"


@dataclass(frozen=True)
class Row:
    options: dict = field(default_factory=dict)
    steps: int = 2000  # generator steps; every learning rate decays linearly to 0 over them
    batch_size: int = 128


CONFIGS: dict[str, Row] = {
    "vanilla GAN (minimax)": Row({"loss": "minimax"}),
    "non-saturating GAN": Row(),
    "WGAN-GP": Row(WGAN_GP, steps=500),  # 5 critic steps per generator step: 2 500 critic steps
    "minibatch discrimination": Row(
        {"minibatch": "discrimination"}, steps=1000, batch_size=64
    ),  # its B x B layer is ~9x slower per step
    "PacGAN (pack 4)": Row({"pack": 4}),
    # The best row's budget and learning rate without its stabilisers (R1, EMA, DRS): where the
    # papers' collapse onto a few sharp modes shows, rather than the short rows' diffuse clouds.
    "vanilla GAN (minimax) at lr 1e-3": Row({"loss": "minimax", "lr": 1e-3}, steps=6000),
    # The best row without R1 (and its sampler): sharp samples piled on a few modes, the collapse
    # VEEGAN and PacGAN report for the plain GAN. R1 is what spreads them over every mode.
    "collapse: lr 1e-3 + EMA (no R1)": Row({"lr": 1e-3, "ema": 0.999}, steps=6000),
    "best: R1 + EMA + lr 1e-3": Row(BEST, steps=6000),
    "best (longer): R1 + EMA + lr 1e-3": Row({**BEST, "drs_quantile": 0.99}, steps=12000),
    # The grid needs a wider G and D (128-256-512) and a longer schedule (chosen on seed 100).
    "best (wider and longer): R1 + EMA + lr 1e-3": Row({**BEST, "hidden": 128, "drs_quantile": 0.99}, steps=30000),
}


def run(dataset: str, name: str, seed: int) -> list[tuple[str, dict, np.ndarray]]:
    """Train one row on one seed; returns (row name, score, shown samples) per way of sampling."""
    row = CONFIGS[name]
    model, seconds = train_toy_gan(
        dataset,
        {**BASE, "lr_decay_steps": row.steps, **row.options},
        seed=seed,
        steps=row.steps,
        batch_size=row.batch_size,
    )
    out = []
    drs = model.cfg.rejection == "drs"
    if drs:
        start = time.perf_counter()
        score, pts = score_toy(model, dataset, seed=seed), toy_samples(model, dataset, seed=seed)
        out.append(
            (
                name + DRS_SUFFIX,
                {**score, "acceptance": model.drs_acceptance, "seconds": seconds + time.perf_counter() - start},
                pts,
            )
        )
        model.cfg = dataclasses.replace(model.cfg, rejection="none")  # G's own samples, same weights
    out.insert(
        0, (name, {**score_toy(model, dataset, seed=seed), "seconds": seconds}, toy_samples(model, dataset, seed=seed))
    )
    return out


def mean_std(values: list[float]) -> str:
    arr = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(arr)):
        return "inf"
    return f"{arr.mean():.2f} ± {arr.std():.2f}"


def scatter(dataset: str, samples: dict[str, np.ndarray]) -> Path:
    data = TOY_DATA[dataset]
    cols = 4
    rows = math.ceil(len(samples) / cols)
    fig, axes = figure(rows, cols, size=(3.0 * cols, 3.0 * rows))
    lim = float(np.abs(data.centres).max()) * 1.5
    for ax, (name, pts) in zip(np.ravel(axes), samples.items()):
        ax.scatter(pts[:, 0], pts[:, 1], s=1, alpha=0.4, color="tab:blue")
        ax.scatter(data.centres[:, 0], data.centres[:, 1], s=12, marker="x", color="tab:red")
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[], yticks=[])
        ax.set_title(name, fontsize=7)
    for ax in np.ravel(axes)[len(samples) :]:
        ax.axis("off")
    return save_figure(fig, RESULTS / f"mode-collapse-{dataset}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--datasets", default="ring8,grid25")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated names from CONFIGS")
    parser.add_argument("--doc-only", action="store_true", help="rewrite the doc and plots from the stored runs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    store = json.loads(STORE.read_text()) if STORE.exists() else {}
    assert not any("," in name for name in CONFIGS), "configuration names are split on commas by --configs"
    unknown = set(args.configs.split(",")) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configuration {sorted(unknown)[0]!r}; known: {', '.join(CONFIGS)}")
    names = [n for n in CONFIGS if n in args.configs.split(",")]
    for dataset in [] if args.doc_only else args.datasets.split(","):
        for name in names:
            fresh: dict[str, list[dict]] = {}
            for seed in range(args.seeds):
                for row_name, score, pts in run(dataset, name, seed):
                    fresh.setdefault(row_name, []).append(score)
                    if seed == 0:
                        SHOWN.mkdir(parents=True, exist_ok=True)
                        atomic_write(
                            SHOWN / f"{dataset}-{_slug(row_name)}.npy",
                            lambda tmp, pts=pts: np.save(tmp.open("wb"), pts),
                        )
                    print(dataset, row_name, seed, {k: v for k, v in score.items() if k != "histogram"}, flush=True)
            # rows another invocation stored meanwhile
            store = json.loads(STORE.read_text()) if STORE.exists() else {}
            for row_name, scores in fresh.items():
                row = CONFIGS[name]
                store.setdefault(dataset, {})[row_name] = {
                    "options": row.options,
                    "steps": row.steps,
                    "batch_size": row.batch_size,
                    "scores": scores,
                }
            atomic_write_text(STORE, json.dumps(store, indent=1))
    for dataset in store:
        shown = {
            n: np.load(SHOWN / f"{dataset}-{_slug(n)}.npy")
            for n in _ordered(store[dataset])
            if (SHOWN / f"{dataset}-{_slug(n)}.npy").exists()
        }
        scatter(dataset, shown)
    write_doc(store, args.seeds)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower())


def _ordered(rows: dict) -> list[str]:
    """Stored row names in CONFIGS order (each DRS row after its G row)."""
    order = [m for n in CONFIGS for m in (n, n + DRS_SUFFIX)]
    return sorted(rows, key=lambda n: order.index(n) if n in order else len(order))


def bar_met(scores: list[dict], k: int) -> bool:
    """The issue's bar: all k modes and >= 90 % high-quality samples on every seed."""
    return all(s["modes"] == k and s["high_quality"] >= 0.9 for s in scores)


def write_doc(store: dict, seeds: int) -> None:
    command = f"python benchmarks/mode_collapse.py --seeds {seeds}"
    lines = [
        "# Mode collapse: ring of 8 and grid of 25 Gaussians",
        "",
        f"Produced by `{command}` (written by its last invocation, on {platform.machine()} with "
        f"{os.cpu_count()} "
        "cores,",
        f"one torch thread, torch {torch.__version__}; the machine was shared with other jobs, so seconds are "
        "indicative).",
        "Rows can be run in parts (`--datasets`, `--configs`; results accumulate in `mode-collapse.json`); "
        "every run "
        "is seeded,",
        "so the one command above reproduces the whole table.",
        "",
        "Data (genlab.data.toy): ring of 8 Gaussians, radius 2, std 0.02; grid of 25 Gaussians at {-4, -2, 0, "
        "2, 4}², "
        "std 0.05",
        "(VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018). Fresh samples every step, in data units "
        "(G's "
        "output layer is",
        "linear: `output=identity`).",
        "",
        "Rules (genlab.eval.modes), on 2 500 samples per run:",
        "- a sample is **high quality** when it lies within 3 standard deviations (0.06 ring, 0.15 grid) of "
        "its "
        "nearest mode centre;",
        "- **modes** = modes with at least one high-quality sample registered to them (VEEGAN); **modes ≥20** "
        "= modes "
        "with at",
        "  least 20 (PacGAN's stricter count: a fifth of the 100 expected per mode on the grid);",
        "- **reverse KL** = KL(generated mode histogram ‖ uniform) over the high-quality samples, in nats (0 "
        "ideal, "
        "log K for one mode).",
        "",
        "Every configuration: genlab's `gan` family (MLP G "
        f"{BASE['hidden']}-{2 * BASE['hidden']}-{4 * BASE['hidden']}, D mirrored, LeakyReLU 0.2,",
        f"no dropout), z ∈ R^{BASE['z_dim']}, Adam lr {BASE['lr']} β1 {BASE['beta1']} unless its options say "
        "otherwise, decayed linearly",
        "to 0 over the row's generator steps (`lr_decay_steps`); WGAN-GP takes 5 critic steps per generator "
        "step. The "
        "options",
        f"column lists what each row changes. Mean ± std over {seeds} seeds (0 to {seeds - 1}; configurations "
        "were "
        "explored on seeds 100+).",
        "**bar met** = all modes covered with ≥ 90 % high-quality samples on every seed (the issue's target). "
        "**s / "
        "run** = training",
        "(plus, for DRS rows, sampling) seconds on one thread.",
        "",
        "Rows ending in *+ DRS sampler* are **not** a different training run: they are the same trained G as "
        "the row "
        "above,",
        "sampled with Discriminator Rejection Sampling (Azadi et al. 2019; `rejection=drs`, docs/gan.md), a "
        "post-hoc "
        "sampler",
        "that keeps the generated points a per-sample critic (trained beside the game, never used in G's loss) "
        "scores "
        "as",
        "likely under the data. The accepted column says what fraction of G's proposals it kept "
        "(`drs_quantile` 0.95, "
        "the paper's).",
        "",
        "Budgets differ by row and are in the steps column: the baselines are short runs that show how each "
        "loss or "
        "stabiliser",
        "behaves; the best configuration was given more generator steps, and more again in the *longer* rows "
        "(which "
        "also keep",
        "fewer proposals, `drs_quantile=0.99`, chosen on seed 100); the *wider and longer* row doubles",
        "every width of G and D (`hidden=128`: 128-256-512) and trains 30 000 steps, chosen on seed 100. This "
        "is not a",
        "fixed-budget comparison.",
        "",
        "The *collapse* row is the best row's recipe without R1 (and without the sampler): at lr 1e-3 with EMA "
        "the "
        "samples are",
        "sharp (high-quality share well above the short baselines') but most of them sit on a few modes (low "
        "modes "
        "≥20, high",
        "reverse KL): the collapse onto a few sharp modes that VEEGAN and PacGAN show for the plain GAN. The "
        "minimax "
        "rows at",
        "these budgets stay diffuse instead (its saturating loss gives G little gradient while D wins): they "
        "under-train rather",
        "than collapse. On the grid the bar is met only with the DRS sampler on top of the wider, longer R1 + "
        "EMA "
        "run; the row",
        "above it gives that G's own samples.",
        "",
    ]
    met: list[str] = []
    for dataset, rows in store.items():
        k = len(TOY_DATA[dataset].centres)
        lines += [
            f"## {dataset} ({k} modes)",
            "",
            "| configuration | options | steps × batch | modes | modes ≥20 | high quality % | reverse KL | "
            "accepted % "
            "| bar met | s / run |",
            "|---|---|---:|---:|---:|---:|---:|---:|:-:|---:|",
        ]
        for name in _ordered(rows):
            r, scores = rows[name], rows[name]["scores"]
            ok = bar_met(scores, k)
            met += [f"{name} on {dataset}"] if ok else []
            # G's own samples do not depend on the DRS options (its critic never enters G's loss):
            # list them on DRS rows only.
            shown = {
                a: b
                for a, b in r["options"].items()
                if name.endswith(DRS_SUFFIX) or not (a == "rejection" or a.startswith("drs_"))
            }
            opts = ", ".join(f"{a}={b}" for a, b in shown.items()) or "—"
            rate = mean_std([100 * s["acceptance"] for s in scores]) if "acceptance" in scores[0] else "—"
            lines.append(
                f"| {name} | {opts} | {r['steps']} × {r['batch_size']} | "
                f"{mean_std([s['modes'] for s in scores])} | "
                f"{mean_std([s['modes_20'] for s in scores])} | "
                f"{mean_std([100 * s['high_quality'] for s in scores])} "
                "| "
                f"{mean_std([s['reverse_kl'] for s in scores])} | {rate} | {'yes' if ok else 'no'} | "
                f"{np.mean([s['seconds'] for s in scores]):.0f} |"
            )
        lines += ["", f"![{dataset}](mode-collapse-{dataset}.png)", ""]
    lines += ["## Verdict", ""]
    for dataset, rows in store.items():
        k = len(TOY_DATA[dataset].centres)
        for name, vanilla in rows.items():
            if not name.startswith(("vanilla GAN (minimax)", "collapse:")):
                continue
            modes = [s["modes"] for s in vanilla["scores"]]
            modes_20 = np.mean([s["modes_20"] for s in vanilla["scores"]])
            kl = np.mean([s["reverse_kl"] for s in vanilla["scores"]])
            missed = sum(m < k for m in modes)
            hq = np.mean([s["high_quality"] for s in vanilla["scores"]])
            line = (
                f"- {dataset}, {name} ({vanilla['steps']} steps): covers {np.mean(modes):.1f} of {k} modes on "
                "average "
                f"({modes_20:.1f} with ≥ 20 samples) and misses at least one on {missed} of {len(modes)} "
                "seeds, with "
                f"{100 * hq:.1f} % high-quality samples and reverse KL {kl:.2f} nats (log {k} = "
                f"{math.log(k):.2f} for "
                "one mode)."
            )
            if hq < 0.5:
                line += (
                    " With so few high-quality samples it is under-trained at this budget (a diffuse cloud in "
                    "the "
                    "plot), not the"
                    " collapse onto a few sharp modes that VEEGAN and PacGAN report."
                )
            elif missed or modes_20 < k:
                line += (
                    " Its samples are sharp but pile up on a few modes: the mode collapse VEEGAN and PacGAN report."
                )
            else:
                line += " It covers every mode on every seed: no collapse at this setting."
            lines.append(line)
    lines += [""]
    lines += [f"The bar is met by: {'; '.join(met)}." if met else "No row meets the bar on any data set."]
    missing = [d for d in store if not any(m.endswith(f"on {d}") for m in met)]
    lines += [f"Not met on: {', '.join(missing)} (numbers above)." if missing else "", ""]
    lines += ["Per-run numbers (with mode histograms): `mode-collapse.json` beside this file.", ""]
    atomic_write_text(RESULTS / "mode-collapse.md", "\n".join(lines))


if __name__ == "__main__":
    main()
