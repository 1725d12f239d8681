"""The report's figures (matplotlib through :mod:`genlab.plots`), drawn from metrics.jsonl and eval JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from genlab.plots import figure, save_figure
from genlab.report.table import Group

BOOKKEEPING = {"step", "epoch", "images_per_s", "step_s", "elapsed_s", "peak_rss_mb", "train_seconds"}
MAX_PANELS = 4


def curve_keys(records: list[dict[str, Any]], prefix: str = "") -> list[str]:
    """Numeric keys logged per step: losses (rows with ``epoch``) or held-out / eval metrics (``prefix``)."""
    keys: list[str] = []
    for r in records:
        if (prefix == "" and "epoch" not in r) or (prefix and not any(k.startswith(prefix) for k in r)):
            continue
        for k, v in r.items():
            if (
                k in BOOKKEEPING
                or k.startswith("lr_")
                or k in keys
                or not isinstance(v, (int, float))
                or isinstance(v, bool)
            ):
                continue
            if k.startswith(prefix) and (prefix or not k.startswith(("test_", "eval_"))):
                keys.append(k)
    return keys


def curves_figure(title: str, runs: dict[str, list[dict[str, Any]]], path: Path, prefix: str = "") -> Path | None:
    """One panel per logged key (up to four), one line per run (seed). None when nothing was logged."""
    keys: list[str] = []
    for records in runs.values():
        keys += [k for k in curve_keys(records, prefix) if k not in keys]
    keys = _preferred(keys)[:MAX_PANELS]
    if not keys:
        return None
    fig, axes = figure(1, len(keys), size=(3.3 * len(keys), 2.6), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for name, records in runs.items():
            points = [(r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float)) and "step" in r]
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, lw=1, label=name)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=6)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def _preferred(keys: list[str]) -> list[str]:
    """Losses first (``loss*``, ``fid``), then the rest, keeping the logged order within each."""
    first = [k for k in keys if k.startswith(("loss", "eval_fid", "test_loss", "test_elbo"))]
    return first + [k for k in keys if k not in first]


def metrics_figure(groups: list[Group], path: Path) -> Path:
    """FID of every seed per group (stability), precision vs recall (fidelity vs diversity), sampling speed."""
    fig, (ax_fid, ax_pr, ax_speed) = figure(1, 3, size=(12, 3.4))
    x = np.arange(len(groups))
    for i, g in enumerate(groups):
        fids = [r["eval"]["fid"] for r in g.runs]
        ax_fid.scatter(np.full(len(fids), i), fids, s=18, zorder=3)
        ax_fid.plot([i - 0.25, i + 0.25], [np.mean(fids)] * 2, color="k", lw=1)
        ax_pr.scatter(
            [r["eval"]["recall"] for r in g.runs], [r["eval"]["precision"] for r in g.runs], s=22, label=g.label
        )
    ax_fid.set_xticks(x, [g.label for g in groups], fontsize=8, rotation=15)
    ax_fid.set_ylabel("FID (each dot a seed; bar = mean)", fontsize=8)
    ax_fid.set_title("quality and its spread over seeds", fontsize=9)
    ax_pr.set_xlabel("recall (diversity)", fontsize=8)
    ax_pr.set_ylabel("precision (fidelity)", fontsize=8)
    ax_pr.set_xlim(-0.02, 1.02)
    ax_pr.set_ylim(-0.02, 1.02)
    ax_pr.legend(fontsize=7)
    ax_pr.set_title("fidelity vs diversity", fontsize=9)
    speeds = [g.mean("sample_ips") or 0.0 for g in groups]
    ax_speed.bar(x, speeds, color="tab:gray")
    ax_speed.set_xticks(x, [g.label for g in groups], fontsize=8, rotation=15)
    ax_speed.set_yscale("log")
    ax_speed.set_ylabel("images/s (log scale)", fontsize=8)
    ax_speed.set_title("sampling speed", fontsize=9)
    return save_figure(fig, path)
