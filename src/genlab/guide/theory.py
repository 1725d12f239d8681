"""Guide figures computed from closed forms (seconds, no data, no training).

Each builder takes the figures folder, writes its files there and returns the numbers
it measured, which ``genlab docs build`` stores in ``figures/build.json`` and the pages
quote through their include blocks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import norm, wasserstein_distance

from genlab.atomic import atomic_write_text
from genlab.data.toy import bimodal_1d_pdf
from genlab.math import (
    VALUE_AT_EQUILIBRIUM,
    gan_value,
    generator_loss,
    jensen_shannon,
    kl_normal_std,
    optimal_discriminator,
)
from genlab.math.kl import kl_normal_std_per_dim
from genlab.math.schedules import alpha_bar, named_betas
from genlab.plots import figure, save_figure

GRID = np.linspace(-6.0, 6.0, 4001)  # x grid for 1-D densities and their integrals

# The two worked examples of KL(N(mu, diag sigma^2) || N(0, I)) (also checked in tests/math/test_kl.py).
KL_EXAMPLES: tuple[tuple[tuple[float, ...], tuple[float, ...]], ...] = (
    ((0.8, -0.3), (-0.5, 0.2)),
    ((0.5, -1.0, 2.0), (-0.5, 0.0, 0.5)),
)


def alpha_bar_figure(folder: Path) -> dict[str, Any]:
    """alpha-bar_t of the linear and cosine schedules (T = 1000) and the signal / noise scales."""
    fig, (left, right) = figure(1, 2, size=(9.0, 3.4))
    numbers: dict[str, Any] = {}
    for name, colour in (("linear", "tab:blue"), ("cosine", "tab:orange")):
        ab = alpha_bar(named_betas(name, 1000))  # (T,) float64
        t = np.arange(1, 1001)
        left.plot(t, ab, color=colour, label=f"{name}: ᾱ_t")
        right.plot(t, np.sqrt(ab), color=colour, label=f"{name}: √ᾱ_t (signal)")
        right.plot(t, np.sqrt(1 - ab), color=colour, ls="--", label=f"{name}: √(1-ᾱ_t) (noise)")
        numbers[name] = {
            "alpha_bar_500": float(ab[499]),
            "alpha_bar_1000": float(ab[-1]),
            "t_half": int(np.argmax(ab < 0.5)) + 1,
        }
    left.set(xlabel="t", ylabel="ᾱ_t", title="ᾱ_t = ∏(1-β_s)", yscale="log")
    right.set(xlabel="t", title="x_t = √ᾱ_t x_0 + √(1-ᾱ_t) ε")
    left.legend(fontsize=8)
    right.legend(fontsize=7)
    save_figure(fig, folder / "alpha-bar.png")
    rows = [
        f"| {name} | {v['alpha_bar_500']:.4f} | {v['alpha_bar_1000']:.3g} | {v['t_half']} |"
        for name, v in numbers.items()
    ]
    write_table(folder / "alpha-bar.md", "| schedule | ᾱ_500 | ᾱ_1000 | first t with ᾱ_t < 0.5 |", rows)
    return numbers


def optimal_discriminator_figure(folder: Path) -> dict[str, Any]:
    """D* = p_data / (p_data + p_g) for a bimodal p_data and a unimodal p_g; V(D*, G) against -2 log 2 + 2 JSD."""
    p_data = bimodal_1d_pdf(GRID)
    p_g = norm.pdf(GRID, loc=0.0, scale=1.5)
    d_star = optimal_discriminator(p_data, p_g)
    value = gan_value(d_star, p_data, p_g, GRID)
    jsd = jensen_shannon(p_data, p_g, GRID)
    value_equal = gan_value(optimal_discriminator(p_data, p_data), p_data, p_data, GRID)
    fig, ax = figure(size=(7.0, 3.6))
    ax.plot(GRID, p_data, color="black", lw=2, label="p_data: 0.5 N(-2, 0.5²) + 0.5 N(2, 0.5²)")
    ax.plot(GRID, p_g, color="tab:orange", label="p_g: N(0, 1.5²)")
    ax.plot(GRID, d_star, color="tab:blue", ls="--", label="D*(x) = p_data / (p_data + p_g)")
    ax.axhline(0.5, color="grey", lw=0.8)
    ax.set(
        xlabel="x",
        xlim=(-5, 5),
        ylim=(0, 1.3),
        title=f"V(D*, G) = {value:.3f};  -2 log 2 + 2 JSD = {VALUE_AT_EQUILIBRIUM + 2 * jsd:.3f}",
    )
    ax.legend(fontsize=8, loc="upper center", ncol=2)  # above the curves, which stay below 1
    save_figure(fig, folder / "optimal-discriminator.png")
    numbers = {
        "value": value,
        "jsd": jsd,
        "value_from_jsd": VALUE_AT_EQUILIBRIUM + 2 * jsd,
        "value_at_equilibrium": value_equal,
        "minus_two_log_two": VALUE_AT_EQUILIBRIUM,
    }
    rows = [
        f"| p_g = N(0, 1.5²) | {value:.4f} | {jsd:.4f} | {VALUE_AT_EQUILIBRIUM + 2 * jsd:.4f} |",
        f"| p_g = p_data | {value_equal:.4f} | 0 | {VALUE_AT_EQUILIBRIUM:.4f} (= -2 log 2) |",
    ]
    write_table(
        folder / "optimal-discriminator.md",
        "| generator | V(D*, G) (integrated) | JSD (nats) | -2 log 2 + 2 JSD |",
        rows,
    )
    return numbers


def generator_gradient_figure(folder: Path) -> dict[str, Any]:
    """|d loss_G / d logit| of the minimax and non-saturating losses as D(G(z)) goes from 0 to 1 (autograd)."""
    d = torch.linspace(1e-4, 1 - 1e-4, 999, dtype=torch.float64)
    numbers: dict[str, Any] = {}
    fig, ax = figure(size=(6.0, 3.4))
    for kind, colour in (("minimax", "tab:red"), ("non-saturating", "tab:green")):
        logits = torch.logit(d).requires_grad_(True)
        # generator_loss averages over the batch; times N gives each sample's own gradient.
        (grad,) = torch.autograd.grad(generator_loss(logits, kind) * len(d), logits)
        ax.plot(d.numpy(), grad.abs().numpy(), color=colour, label=kind)
        numbers[kind] = {"grad_at_d_0.01": float(grad[torch.argmin((d - 0.01).abs())].abs())}
    ax.set(
        xlabel="D(G(z)): the discriminator's belief that a fake is real",
        ylabel="|∂ loss_G / ∂ logit|",
        title="Early in training D(G(z)) ≈ 0: only the non-saturating loss pushes",
    )
    ax.legend()
    save_figure(fig, folder / "generator-gradients.png")
    return numbers


def wasserstein_figure(folder: Path) -> dict[str, Any]:
    """JSD and W1 between N(0, 0.1²) and N(θ, 0.1²) as θ grows: JSD saturates at log 2, W1 = |θ| keeps a slope."""
    thetas = np.linspace(0.0, 3.0, 61)
    p = norm.pdf(GRID, scale=0.1)
    jsd, w1 = [], []
    for theta in thetas:
        q = norm.pdf(GRID, loc=theta, scale=0.1)
        jsd.append(jensen_shannon(p, q, GRID))
        w1.append(wasserstein_distance(GRID, GRID, u_weights=p, v_weights=q))
    fig, ax = figure(size=(6.0, 3.4))
    ax.plot(thetas, jsd, color="tab:red", label="JSD(p, q_θ) (nats)")
    ax.plot(thetas, w1, color="tab:blue", label="W1(p, q_θ)")
    ax.axhline(np.log(2), color="grey", ls=":", label="log 2")
    ax.set(
        xlabel="θ: shift of q_θ = N(θ, 0.1²) from p = N(0, 0.1²)", title="Disjoint supports: JSD is flat, W1 is not"
    )
    ax.legend()
    save_figure(fig, folder / "wasserstein-vs-jsd.png")
    return {"jsd_at_1": float(jsd[20]), "w1_at_1": float(w1[20]), "jsd_at_3": float(jsd[-1]), "w1_at_3": float(w1[-1])}


def kl_examples_table(folder: Path) -> dict[str, Any]:
    """The two worked KL examples, per dimension and in total, computed by genlab.math.kl."""
    rows, totals = [], []
    for mu, logvar in KL_EXAMPLES:
        m, lv = torch.tensor(mu, dtype=torch.float64), torch.tensor(logvar, dtype=torch.float64)
        per_dim = kl_normal_std_per_dim(m, lv)
        total = float(kl_normal_std(m, lv))
        totals.append(total)
        terms = " + ".join(f"{v:.4f}" for v in per_dim.tolist())
        rows.append(f"| {list(mu)} | {list(logvar)} | {terms} | **{total:.4f}** |")
    write_table(folder / "kl-examples.md", "| μ | log σ² | KL per dimension (nats) | KL total (nats) |", rows)
    return {"totals": totals}


def write_table(path: Path, header: str, rows: list[str]) -> None:
    """Write a Markdown table (header, separator, rows) to ``path`` atomically."""
    separator = "|" + "---|" * (header.count("|") - 1)
    atomic_write_text(path, "\n".join([header, separator, *rows]) + "\n")
