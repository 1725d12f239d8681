"""The conditional-VAE and posterior-collapse sections of docs/results/vae.md (for vae_results.py)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from vae_cache import cached_nll, wall_minutes

from genlab.data import load_dataset, save_grid, to_uint8
from genlab.eval.features import DigitExtractor
from genlab.eval.nll import as_unit_interval, binarize
from genlab.plots import figure, save_figure
from genlab.runs.loading import load_family

BASE = "genlab train vae --preset binarized --set latent_dim=32 --epochs 10 --batch-size 100"
COLLAPSE = {  # name -> (label, extra --set options); 10 epochs = 6000 steps
    "plain": ("no annealing (beta = 1 from step 0)", ""),
    "linear": ("linear KL warm-up over 3000 steps", "--set kl_anneal=linear --set kl_warmup_steps=3000"),
    "cyclical": (
        "cyclical, 4 cycles over 6000 steps, R = 0.5",
        "--set kl_anneal=cyclical --set kl_warmup_steps=6000 --set kl_cycles=4",
    ),
    "freebits": ("free bits, 0.5 nats per dimension", "--set free_bits=0.5"),
}
COLLAPSE_K = 100  # importance samples for the collapse runs' NLL column (full test set)
COLLAPSE_EPOCHS = 10


@torch.inference_mode()
def cvae_section(run_dir: Path, results: Path, n_per_class: int = 100) -> list[str]:
    family, run, meta = load_family(run_dir)
    images, labels, _ = load_dataset("mnist", "test")
    x = binarize(as_unit_interval(images), 0)
    y = torch.from_numpy(labels)
    # 1. Reconstruction error per class: -log p(x | z = E_q[z | x, y], y) and the share of wrong pixels.
    nats, wrong = torch.empty(len(x)), torch.empty(len(x))
    for s in range(0, len(x), 500):
        mu, _ = family.encode(x[s : s + 500], y[s : s + 500])
        logits = family.nets["decoder"](mu, family.one_hot(y[s : s + 500], len(mu)))
        nats[s : s + 500] = (
            F.binary_cross_entropy_with_logits(logits, x[s : s + 500], reduction="none").flatten(1).sum(1)
        )
        wrong[s : s + 500] = ((logits > 0).float() != x[s : s + 500]).float().flatten(1).mean(1)
    # 2. Samples of each asked-for class, read by the shipped digit classifier.
    asked = torch.arange(10).repeat_interleave(n_per_class)
    samples = to_uint8(family.sample(len(asked), labels=asked, generator=torch.Generator().manual_seed(0)))
    read = DigitExtractor().probs(samples).argmax(1)
    rows = []
    for c in range(10):
        m = y == c
        hit = float((read[asked.numpy() == c] == c).mean())
        rows.append(f"| {c} | {int(m.sum())} | {nats[m].mean():.2f} | {100 * wrong[m].mean():.2f} | {100 * hit:.0f} |")
    total_hit = float((read == asked.numpy()).mean())
    rows.append(f"| all | {len(x)} | {nats.mean():.2f} | {100 * wrong.mean():.2f} | {100 * total_hit:.0f} |")
    # 3. Interpolation grid: z from two test images' posteriors, every row decoded with one fixed label.
    # Two zeros: the test 0s at the 10th and 90th percentile of ink (a thin and a bold stroke).
    zeros = torch.nonzero(y == 0).squeeze(1)
    by_ink = zeros[torch.argsort(x[zeros].mean((1, 2, 3)))]
    pair = by_ink[torch.tensor([len(by_ink) // 10, 9 * len(by_ink) // 10])]
    mu, _ = family.encode(x[pair], y[pair])
    t = torch.linspace(0, 1, 8)[:, None]
    z = ((1 - t) * mu[0] + t * mu[1]).repeat(10, 1)  # (10 * 8, Z): row r = label r
    grid = family.decode_mean(z, torch.arange(10).repeat_interleave(8))
    save_grid(results / "vae-cvae-interpolation.png", to_uint8(grid), nrow=8)
    cfg = run.model
    return [
        f"## Conditional VAE ({cfg.arch.upper()} {cfg.hidden} x {cfg.hidden_layers}, z = {cfg.latent_dim}, "
        f"{meta['epoch']:.0f} epochs, {wall_minutes(run_dir):.1f} min)",
        "",
        "Reconstruction of each binarised test image from its posterior mean and its true label: `nats` = -log p(x | "
        "z = E_q[z | x, y], y),",
        "`wrong pixels` = share of pixels where the decoder's most likely value differs. `samples read as asked` = "
        f"share of {n_per_class}",
        "samples per class (seed 0) that the shipped digit classifier assigns to the label they were drawn with.",
        "",
        "| digit | test images | nats | wrong pixels (%) | samples read as asked (%) |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "Fixed-label interpolation: each row decodes the same 8 latents, linearly between the posterior means of two "
        "test",
        f"zeros (images {pair[0].item()} and {pair[1].item()}, the 10th and 90th percentile of ink), with the row's "
        "label 0..9.",
        "Style changes along a row; the digit stays.",
        "",
        "![cvae interpolation](vae-cvae-interpolation.png)",
    ]


INFORMATIVE_KL = 0.1  # nats: a second, threshold-on-KL count beside Burda et al.'s variance criterion


@torch.inference_mode()
def collapse_section(root: Path, results: Path) -> list[str]:
    fig, (ax_kl, ax_au) = figure(1, 2, size=(10, 3.6))
    rows, counts = [], []
    for name, (label, extra) in COLLAPSE.items():
        run_dir = root / f"collapse-{name}"
        result, _ = cached_nll(run_dir, COLLAPSE_K)
        kl = sorted(result["kl_per_dim"], reverse=True)
        informative = sum(v > INFORMATIVE_KL for v in kl)
        ax_kl.plot(range(1, len(kl) + 1), kl, marker="o", ms=3, label=name)
        counts.append((name, result["active_units"], informative, len(kl)))
        command = " ".join(filter(None, [BASE, extra, f"--out runs/collapse-{name}"]))
        rows.append(
            f"| {label} | `{command}` | {wall_minutes(run_dir):.1f} | {result['active_units']} / {len(kl)} | "
            f"{informative} / {len(kl)} | "
            f"{sum(kl):.1f} | {result['elbo_nll']:.2f} | {result['nll']:.2f} |"
        )
    ax_kl.set(
        xlabel="latent dimension (sorted by KL)",
        ylabel="KL(q(z_j|x) || N(0,1)), nats",
        title="KL per latent dimension, test set",
    )
    ax_kl.set_yscale("log")
    ax_kl.axhline(INFORMATIVE_KL, color="grey", lw=0.5, ls="--")
    ax_kl.legend(fontsize=8)
    pos = torch.arange(len(counts)).float()
    ax_au.bar(pos - 0.2, [c[1] for c in counts], width=0.4, label="Var_x(E_q[z_u|x]) > 0.01")
    ax_au.bar(pos + 0.2, [c[2] for c in counts], width=0.4, label=f"KL > {INFORMATIVE_KL} nats")
    ax_au.set_xticks(pos.tolist(), [c[0] for c in counts])
    ax_au.set(ylabel=f"latent dimensions (of {counts[0][3]})", title="active units")
    ax_au.legend(fontsize=8)
    save_figure(fig, results / "vae-collapse.png")
    plain = counts[0][2]
    verdicts = [f"{c[0]} {'keeps more' if c[2] > plain else 'does not keep more'} ({c[2]})" for c in counts[1:]]
    summary = f"Against the plain run's {plain} dimensions above {INFORMATIVE_KL} nats: " + "; ".join(verdicts) + "."
    return [
        "## Posterior collapse and what rescues it",
        "",
        f"Same MLP (784-500-500-z, z = 32, and back), same seed, {COLLAPSE_EPOCHS} epochs of dynamically binarised "
        "MNIST; only the",
        "KL term differs. Over the 10 000 binarised test images: active units by Burda et al.'s criterion",
        f"(Var_x(E_q[z_u | x]) > 0.01), the dimensions whose average KL exceeds {INFORMATIVE_KL} nats, the KL, -ELBO, "
        "and the",
        f"IWAE nll with k = {COLLAPSE_K}. Read the two counts together: after only {COLLAPSE_EPOCHS} epochs the "
        "variance criterion still counts",
        "dimensions that carry a few hundredths of a nat (the plain run's tail in the figure); the KL count and the "
        "figure",
        "show which dimensions the model actually uses.",
        "",
        f"| KL term | command | train wall (min) | active units | KL > {INFORMATIVE_KL} nats | KL (nats) | -elbo "
        f"(nats) | nll, k = {COLLAPSE_K} (nats) |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        summary,
        "",
        "![posterior collapse](vae-collapse.png)",
    ]
