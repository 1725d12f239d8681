"""The results page of benchmarks/generative_classifier.py: tables (mean ± sd over seeds), findings computed
from the rows, and the explanation. ``S`` holds the benchmark's settings while a page is rendered."""

from __future__ import annotations

import numpy as np

S: dict = {}  # noises, bins, lr, batch, cvae, iwae_k: set by page()
MODELS = (("cvae", "CVAE (Bayes' rule)"), ("nb", "naive Bayes"), ("cnn", "CNN"), ("lr", "logistic regression"))


def _mean_sd(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    v = np.asarray(values, dtype=np.float64) * scale
    sd = f" ± {v.std(ddof=1):.{digits}f}" if len(v) > 1 else ""
    return f"{v.mean():.{digits}f}{sd}"


def _col(rows: list[dict], model: str, sigma: float, key: str, scale: float = 100.0, digits: int = 1) -> str:
    return _mean_sd([r[f"{model}_{sigma}"][key] for r in rows], scale, digits)


def _n(size: int) -> str:
    """1 000 rather than 1,000, as in the tables."""
    return f"{size:,}".replace(",", " ")


def _by_size(rows: list[dict]) -> dict[int, list[dict]]:
    return {size: [r for r in rows if r["size"] == size] for size in sorted({r["size"] for r in rows})}


def _table(rows: list[dict], title: str, columns: list[tuple[str, str, float, str, float, int]]) -> list[str]:
    """A markdown table, one line per size; columns are (header, model, sigma, key, scale, digits), mean ± sd."""
    lines = [title, "", "| train images | seeds | " + " | ".join(c[0] for c in columns) + " |"]
    lines.append("|---:|---:|" + "---:|" * len(columns))
    for size, got in _by_size(rows).items():
        cells = [_col(got, m, sigma, key, scale, digits) for _, m, sigma, key, scale, digits in columns]
        lines.append(f"| {_n(size)} | {len(got)} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def tables(rows: list[dict]) -> list[str]:
    """Accuracy, ECE, label NLL on clean images and accuracy under noise: mean ± sd over seeds per size."""
    models = [(m, name) for m, name in MODELS if all(f"{m}_0.0" in r for r in rows)]
    out = _table(rows, "Accuracy %, clean test images:", [(n, m, 0.0, "accuracy", 100.0, 1) for m, n in models])
    out += _table(rows, f"ECE % ({S['bins']} bins), clean:", [(n, m, 0.0, "ece", 100.0, 1) for m, n in models])
    out += _table(rows, "NLL of the true labels (nats), clean:", [(n, m, 0.0, "nll", 1.0, 3) for m, n in models])
    noisy = [(f"{n} σ={s}", m, s, "accuracy", 100.0, 1) for s in S["noises"][1:] for m, n in models]
    return out + _table(rows, "Accuracy % under additive Gaussian noise (σ on [0, 1] pixels, clipped):", noisy)


def _mean(rows: list[dict], key: str) -> float:
    return float(np.mean([r[key]["accuracy"] for r in rows]))


def findings(rows: list[dict]) -> list[str]:
    """The comparisons the page draws, computed from the rows (so they follow the numbers)."""
    out = []
    for size, got in _by_size(rows).items():
        cvae, nb, cnn = (_mean(got, f"{m}_0.0") for m in ("cvae", "nb", "cnn"))
        best, name = max((cvae, "CVAE"), (nb, "naive Bayes"))
        line = (
            f"- {_n(size)} images: the better generative classifier ({name}, {100 * best:.1f} %) "
            f"{'beats' if best > cnn else 'trails'} the CNN ({100 * cnn:.1f} %) by {100 * abs(best - cnn):.1f} "
            f"points; CVAE − naive Bayes {100 * (cvae - nb):+.1f} points"
        )
        if all("lr_0.0" in r for r in got):
            lr = _mean(got, "lr_0.0")
            line += f"; Ng & Jordan's pair, naive Bayes − logistic regression: {100 * (nb - lr):+.1f} points"
        out.append(line + ".")
    sigma = S["noises"][-1]
    for size, got in _by_size(rows).items():
        per_class = np.mean([r[f"cvae_{sigma}"]["per_class_accuracy"] for r in got], axis=0)  # (10,)
        top = int(per_class.argmax())
        rest = float(np.delete(per_class, top).mean())
        out.append(
            f"- Noise σ = {sigma}, {_n(size)} images: the CVAE's per-class accuracy is "
            f"{100 * per_class[top]:.0f} % for the digit {top} and {100 * rest:.0f} % on average for the other nine."
        )
    return out


def page(data: dict, rows: list[dict], settings: dict) -> str:
    """The whole markdown page from the benchmark's JSON ``data``, its ``rows`` and its ``settings``."""
    S.clear()
    S.update(settings)
    runs = data["runs"]
    first = rows[0]
    steps = first["steps"]
    seen = steps * S["batch"]
    seeds = sorted({r["seed"] for r in rows})
    wall = sum(r.get("wall_s", 0.0) for r in runs)
    loads = ", ".join(
        f"{r['started']}: {r['load_start'][0]:.1f} at the start, {r.get('load_end', r['load_start'])[0]:.1f} at the "
        "end"
        for r in runs
    )
    times = {k: float(np.mean([r.get(k, 0.0) for r in rows])) for k in ("cvae_train_s", "cnn_train_s", "lr_train_s")}
    times["eval_s"] = float(np.mean([r["eval_s"] for r in rows]))
    lines = [
        "# Generative vs discriminative classifiers: the data-efficiency curve",
        "",
        "A class-conditional generative model classifies by Bayes' rule, log P(y | x) = log p(x | y) + log P(y) − "
        "log Σ_y' p(x | y') P(y'). Ng & Jordan (2001) compared naive Bayes with logistic regression and found the "
        "generative model reaching its (higher) asymptotic error with far fewer examples: generative wins at small "
        "n, discriminative at large n. This page measures that curve on MNIST for a deep generative classifier.",
        "",
        "```bash",
        "OMP_NUM_THREADS=1 python benchmarks/generative_classifier.py measure   # resumable; one row per (n, seed)",
        "python benchmarks/generative_classifier.py render                     # this page from the JSON",
        "genlab classify RUN --iwae-k 10                                       # the same classifier on any cvae run",
        "```",
        "",
        f"Machine: {runs[-1]['machine']}, one torch thread. The machine was shared with other engineers' jobs: "
        f"`uptime` 1-minute load {loads}. Wall time {wall / 60:.0f} min for {len(rows)} rows "
        f"(mean per row: CVAE training {times['cvae_train_s']:.0f} s, CNN training {times['cnn_train_s']:.0f} s, "
        f"logistic regression {times['lr_train_s']:.0f} s, scoring the CVAE, naive Bayes and CNN "
        f"{times['eval_s']:.0f} s). Data: [generative-classifier.json](generative-classifier.json).",
        "",
        "## Setup",
        "",
        f"- Training sets: stratified random subsets of the MNIST training set, n/10 images per class drawn with the "
        f"seed (60 000 = all of it); seeds {', '.join(map(str, seeds))} ({len(seeds)} per size).",
        f"- Budget: {steps} Adam steps (lr {S['lr']}) of batch {S['batch']} for every trained model at every "
        f"size, batches drawn with replacement from the subset: {_n(seen)} images seen, about "
        f"{seen / 60_000:.1f} epochs of the full set and {_n(seen // 100)} passes over the 100-image subset.",
        f"- Generative: `cvae` (MLP, {S['cvae']['hidden']} hidden units, {S['cvae']['latent_dim']} latents, "
        f"Bernoulli decoder on grey levels), {_n(first['cvae_parameters'])} parameters; log p(x | y) by its IWAE "
        f"bound with k = {S['iwae_k']} per class (`genlab.eval.bayes_classifier`, common random numbers across "
        "classes), priors the subset's label frequencies.",
        f"- Discriminative: a CNN (conv 5×5/2 16 → conv 5×5/2 32 → 256 → 10, ReLU), {_n(first['cnn_parameters'])} "
        f"parameters, cross-entropy.",
        "- Ng & Jordan's own pair, for reference: Bernoulli naive Bayes (pixels independent given the class, "
        "Laplace smoothing, a grey level g scored as g log θ + (1 − g) log(1 − θ)), fitted in closed form on the "
        "same subset, and logistic regression (784 → 10 softmax, 7 850 parameters) trained with the same steps and "
        "batches as the CNN.",
        f"- Scored on the first {_n(first['n_test'])} MNIST test images: accuracy, ECE ({S['bins']} equal-width bins "
        f"of the top-class probability), mean NLL of the true labels; then the same images with Gaussian noise "
        f"σ ∈ {{{', '.join(map(str, S['noises'][1:]))}}} added to [0, 1] pixels and clipped (the same noisy "
        f"images for every model). Mean ± sd over seeds.",
        "",
        "## Results",
        "",
        *tables(rows),
        *findings(rows),
        "",
    ]
    return "\n".join(lines + EXPLANATION) + "\n"


EXPLANATION = [
    "## What this shows",
    "",
    "**The classic claim is not reproduced here, by either pair.** The CNN is the most accurate classifier at every"
    " training-set size, 100 images included, and logistic regression beats naive Bayes at every size too. Ng & "
    "Jordan's argument is that a generative model with strong assumptions approaches its asymptotic error in fewer "
    "examples, so it wins while n is small *if* its asymptote is not much worse. The half about speed shows, "
    "modestly: at 1 000 images naive Bayes is 3 points below its plateau (about 80 %, reached by 10 000) where "
    "logistic regression is 5 points below its own (about 89 %), the CVAE flattens at about 82 % from 10 000 on, "
    "and the CNN keeps improving up to 60 000. The other half fails: on MNIST the pixels of a digit are strongly "
    "dependent, so naive Bayes's independence assumption costs it so much asymptotically (about 80 % against "
    "logistic regression's 89 %) that a crossover, if there is one, would have to lie below 10 images per class, "
    "which this benchmark does not measure.",
    "",
    "**Why the CVAE does not win at small n.** (1) It has no strong assumption to exploit: with about as many "
    "parameters as the CNN it is as flexible, and at 100 images it sees each one 1 280 times and overfits a "
    "784-pixel density from 10 examples per class (it is then worse than naive Bayes). (2) Its likelihood is spent "
    "on every pixel — stroke width, background, style — while only the class boundary matters for classification; "
    "the CNN spends all its capacity on the boundary. (3) The CNN's convolutions build in translation equivariance;"
    " the CVAE here is an MLP (`--set arch=conv` exists but costs more per step), so part of the gap is "
    "architecture, not generative vs discriminative. (4) The budget is the same 2 000 steps for every size, about "
    "two epochs of the full set: enough for the CNN to come near its best, not for a density model, so the CVAE's "
    "plateau at 10 000–60 000 is partly underfitting. A longer budget or a convolutional CVAE would likely narrow "
    "the gap at large n; nothing here says by how much.",
    "",
    "**Calibration.** The generative posteriors are overconfident: log p(x | y) is a sum over 784 pixels, so the "
    "differences between classes run to tens of nats and Bayes' rule returns probabilities near 0 or 1, right or "
    "wrong (naive Bayes also counts correlated pixels as independent evidence). Their ECE and label NLL are the "
    "worst in the table at small n; the discriminative models, trained on the label likelihood itself, are better "
    "calibrated, the CNN best at large n.",
    "",
    "**Noise.** The CVAE collapses already at σ = 0.1, and at σ = 0.3 it calls nearly every image the same digit "
    "(the per-class lines above). Its Bernoulli decoder predicts the ~600 background pixels of a digit as almost "
    "surely 0, so noise there costs every class many nats, and the class whose decoder is least sure of its "
    "background (here the 8) wins for every image: the likelihood is dominated by low-level pixel statistics, not "
    "by the digit. The two linear models hold up best at 100 images (σ = 0.3 costs them a few points, the CNN a "
    "third of its accuracy, with a large spread over seeds) and lose that robustness as n grows; for naive Bayes "
    "the Laplace smoothing explains it, since it keeps every θ ≥ 1/(n_c + 2) and so bounds what a noisy pixel can "
    "cost, a floor that shrinks with n. The CNN is fragile at 100 images and the most robust model from 1 000 on.",
    "",
    "Not measured here: sizes below 100, a longer budget, the ELBO against the IWAE bound, and a diffusion "
    "classifier (`genlab classify` accepts a class-conditional ddpm run, but its bound costs K × (timesteps + 1) "
    "U-Net passes per image, hours for this test set on this CPU).",
]
