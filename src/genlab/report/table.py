"""The five-axis table and the textbook verdicts, computed from the runs' eval JSON only.

Runs of the same family and config that differ only in their seed form a group; a group's
number is the mean over its seeds, and its stability is the spread of FID over them.
Each textbook claim is tested by a stated rule on the groups' numbers; a claim whose
families or numbers are missing is "not tested", never guessed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genlab.eval.evaluate import KID_LABEL, KID_SCALE
from genlab.marks.provenance import config_hash
from genlab.report.measures import spread

KIND_NAMES = {"gan": "GAN", "vae": "VAE", "diffusion": "diffusion", "other": "other"}


def _get(m: dict[str, Any], path: str) -> float | None:
    """A number at a dotted path of an eval JSON, or None."""
    node: Any = m
    for key in path.split("."):
        if not isinstance(node, dict) or node.get(key) is None:
            return None
        node = node[key]
    return float(node) if isinstance(node, (int, float)) and np.isfinite(node) else None


# column -> dotted path in a run's eval JSON
PATHS = {
    "fid": "eval.fid",
    "kid": "eval.kid",
    "precision": "eval.precision",
    "sharpness": "sharpness.ratio",
    "recall": "eval.recall",
    "coverage": "eval.coverage",
    "modes": "eval.modes_covered",
    "nll": "likelihood.nll",
    "bpd": "likelihood.bits_per_dim",
    "interp_step": "latent.interp_mean_step",
    "probe": "latent.probe_accuracy",
    "probe_gain": "latent.probe_gain",
    "train_s": "compute.train_seconds",
    "steps": "compute.steps",
    "sample_ips": "compute.sampling.images_per_s",
    "params": "compute.parameters",
    "rss_train": "compute.peak_rss_train_mb",
    "rss_sample": "compute.sampling.peak_rss_mb",
}


@dataclass
class Group:
    """Runs of one family and config (seeds aside) and their per-column spread over seeds."""

    label: str
    family: str
    kind: str
    names: list[str]
    runs: list[dict[str, Any]]
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)

    def mean(self, column: str) -> float | None:
        return self.stats[column]["mean"]


def _config_key(m: dict[str, Any]) -> str:
    config = copy.deepcopy(m["config"])
    config["train"].pop("seed", None)
    return config_hash(config).split(":")[-1]  # "sha256:<hex>" -> "<hex>"


def group_runs(measured: dict[str, dict[str, Any]]) -> list[Group]:
    """Group runs (name -> eval JSON) by family and config without the seed, in first-seen order."""
    keyed: dict[tuple[str, str], list[str]] = {}
    for name, m in measured.items():
        keyed.setdefault((m["family"], _config_key(m)), []).append(name)
    families = [family for family, _ in keyed]
    groups = []
    for (family, key), names in keyed.items():
        runs = [measured[n] for n in names]
        label = family if families.count(family) == 1 else f"{family} ({key[:6]})"
        group = Group(label, family, runs[0]["kind"], names, runs)
        group.stats = {col: spread([_get(r, path) for r in runs]) for col, path in PATHS.items()}
        groups.append(group)
    return groups


def kind_value(groups: list[Group], kind: str, column: str, stat: str = "mean") -> float | None:
    """A kind's number: the mean over its groups of their ``stat`` of ``column`` (None if none has one)."""
    values = [g.stats[column][stat] for g in groups if g.kind == kind and g.stats[column][stat] is not None]
    return float(np.mean(values)) if values else None


@dataclass(frozen=True)
class Claim:
    """A textbook claim about one kind, tested on per-kind numbers: for each (column, stat, best) the
    kind must be strictly best ("max"/"min") among the kinds that have the number; "present" only
    asks that the kind has it."""

    kind: str
    claim: str
    rule: str
    columns: tuple[tuple[str, str, str], ...]  # (column, stat, "max" | "min" | "present")
    versus: tuple[str, ...] = ()  # kinds it compares with by name (empty: every other kind present)


def strictly_best(values: dict[str, float], own: str, best: str) -> bool | None:
    """True when ``own`` is strictly best, None when tied for best, False otherwise."""
    top = (max if best == "max" else min)(values.values())
    if values[own] != top:
        return False
    return None if sum(v == top for v in values.values()) > 1 else True


CLAIMS = (
    Claim(
        "gan",
        "GANs give sharper samples than VAEs",
        "the GANs' sharpness (Laplacian variance / real data's) is higher than the VAEs'",
        (("sharpness", "mean", "max"),),
        ("vae",),
    ),
    Claim("gan", "GANs are less diverse", "the GANs' recall is the lowest", (("recall", "mean", "min"),)),
    Claim(
        "gan",
        "GAN training is unstable",
        "the GANs' spread of FID over seeds (std / mean) is the largest",
        (("fid", "cv", "max"),),
    ),
    Claim(
        "vae",
        "VAE training is stable",
        "the VAEs' spread of FID over seeds (std / mean) is the smallest",
        (("fid", "cv", "min"),),
    ),
    Claim("vae", "VAE samples are blurrier", "the VAEs' sharpness is the lowest", (("sharpness", "mean", "min"),)),
    Claim(
        "vae",
        "VAEs have good latent structure",
        "the VAEs take the smallest interpolation step and their probe beats the majority-class rate by the most "
        "(each part among the families that have the number)",
        (("interp_step", "mean", "min"), ("probe_gain", "mean", "max")),
    ),
    Claim(
        "vae",
        "VAEs have a likelihood",
        "the VAEs report a finite test NLL (a GAN reports n/a; diffusion reports its variational bound)",
        (("nll", "mean", "present"),),
        ("vae",),
    ),
    Claim(
        "diffusion",
        "Diffusion has the best quality",
        "the diffusion models' FID is the lowest",
        (("fid", "mean", "min"),),
    ),
    Claim(
        "diffusion",
        "Diffusion has the best diversity",
        "the diffusion models' recall is the highest",
        (("recall", "mean", "max"),),
    ),
    Claim(
        "diffusion",
        "Diffusion samples slowly",
        "the diffusion models' sampling images/s is the lowest",
        (("sample_ips", "mean", "min"),),
    ),
)


NO_CLAIMS = (
    "The textbook claims need several families (runs of at least two of GAN, VAE and diffusion); this report "
    "measured one, so it lists none."
)


def claims_apply(groups: list[Group]) -> bool:
    """Whether the textbook claims can be tested at all: each compares families of two kinds or more."""
    return len({g.kind for g in groups if g.kind != "other"}) >= 2


def verdicts(groups: list[Group]) -> list[dict[str, str]]:
    """Each textbook claim with its rule, the numbers it read and agrees / disagrees / tie / not tested.

    A part of a claim is decided only when the kind and at least one other kind have its
    number; the claim agrees when every decided part holds, disagrees when one fails, and is
    a tie when none fails but one is tied."""
    present = sorted({g.kind for g in groups if g.kind != "other"})
    rows = []
    for c in CLAIMS:
        kinds = [k for k in present if not c.versus or k == c.kind or k in c.versus]
        values = [
            {k: v for k in kinds if (v := kind_value(groups, k, col, stat)) is not None} for col, stat, _ in c.columns
        ]
        measured = "; ".join(
            f"{col}{'' if stat == 'mean' else ' ' + stat}: "
            + ", ".join(f"{KIND_NAMES[k]} {v:.4g}" for k, v in vals.items())
            for (col, stat, _), vals in zip(c.columns, values)
        )
        missing = [k for k in [c.kind, *c.versus] if k not in present]
        parts = [
            strictly_best(vals, c.kind, best) if best != "present" else True
            for (_, _, best), vals in zip(c.columns, values)
            if c.kind in vals and (best == "present" or len(vals) > 1)
        ]
        if missing:
            verdict, why = "not tested", "no " + " or ".join(KIND_NAMES[k] for k in missing) + " run"
        elif not parts:
            lacking = [vals for vals in values if c.kind not in vals]
            cv = any(stat == "cv" for _, stat, _ in c.columns)
            verdict, why = (
                "not tested",
                ("the number is missing" + (" (needs >= 2 seeds)" if cv else ""))
                if lacking
                else "no other family has the number to compare with",
            )
        elif False in parts:
            verdict, why = "disagrees", ""
        elif None in parts:
            verdict, why = "tie", "no difference measured"
        else:
            verdict, why = "agrees", "" if len(parts) == len(c.columns) else "on the parts that could be compared"
        rows.append({"claim": c.claim, "rule": c.rule, "measured": measured or "–", "verdict": verdict, "why": why})
    return rows


def fmt(value: float | None, spec: str = ".3g") -> str:
    """Table text of a number; "n/a" when it was not measured."""
    return "n/a" if value is None else format(value, spec)


def cell(group: Group, column: str, spec: str = ".3g", scale: float = 1.0) -> str:
    """Mean over seeds, with ± sample std when there are several."""
    s = group.stats[column]
    if s["mean"] is None:
        return "n/a"
    text = format(s["mean"] * scale, spec)
    return text + (f" ± {format(s['std'] * scale, spec)}" if s["std"] is not None else "")


AXES: tuple[tuple[str, tuple[tuple[str, str, Callable[[Group], str]], ...]], ...] = (
    (
        "quality",
        (
            ("FID ↓", "eval.fid", lambda g: cell(g, "fid", ".1f")),
            (f"{KID_LABEL} ↓", "eval.kid", lambda g: cell(g, "kid", ".1f", KID_SCALE)),
            ("n · extractor", "eval.n, eval.extractor", lambda g: setting(g)),
            ("precision ↑", "eval.precision", lambda g: cell(g, "precision", ".3f")),
            ("sharpness ↑", "sharpness.ratio", lambda g: cell(g, "sharpness", ".2f")),
        ),
    ),
    (
        "diversity",
        (
            ("recall ↑", "eval.recall", lambda g: cell(g, "recall", ".3f")),
            ("coverage ↑", "eval.coverage", lambda g: cell(g, "coverage", ".3f")),
            ("modes ↑", "eval.modes_covered", lambda g: cell(g, "modes", ".1f")),
        ),
    ),
    (
        "likelihood",
        (
            ("NLL nats ↓", "likelihood.nll", lambda g: cell(g, "nll", ".1f")),
            ("NLL bits/dim ↓", "likelihood.bits_per_dim", lambda g: cell(g, "bpd", ".3f")),
        ),
    ),
    (
        "stability",
        (
            ("FID std/mean ↓", "eval.fid over seeds", lambda g: fmt(g.stats["fid"]["cv"], ".3f")),
            ("seeds", "runs in the group", lambda g: str(len(g.runs))),
        ),
    ),
    (
        "latent structure",
        (
            ("interp. step ↓", "latent.interp_mean_step", lambda g: cell(g, "interp_step", ".2f")),
            ("probe acc. ↑", "latent.probe_accuracy", lambda g: cell(g, "probe", ".3f")),
            ("probe − majority ↑", "latent.probe_gain", lambda g: cell(g, "probe_gain", ".3f")),
        ),
    ),
    (
        "compute",
        (
            ("train s", "compute.train_seconds", lambda g: cell(g, "train_s", ".3g")),
            ("steps", "compute.steps", lambda g: cell(g, "steps", ".0f")),
            ("sampling img/s ↑", "compute.sampling.images_per_s", lambda g: cell(g, "sample_ips", ".1f")),
            ("params (trainable)", "compute.parameters", lambda g: fmt(g.mean("params"), ",.0f")),
            ("peak RSS train MB", "compute.peak_rss_train_mb", lambda g: cell(g, "rss_train", ".0f")),
            ("peak RSS sample MB", "compute.sampling.peak_rss_mb", lambda g: cell(g, "rss_sample", ".0f")),
        ),
    ),
)


def setting(group: Group) -> str:
    """What FID and KID were measured with: samples per run and the extractor (one value, or each run's)."""
    values = sorted({f"{r['eval'].get('n', '?')} · {r['eval'].get('extractor', '?')}" for r in group.runs})
    return ", ".join(values)


def axis_table(groups: list[Group]) -> list[tuple[str, str, str, list[str]]]:
    """One row per measurement: (axis, name, source path in the eval JSON, a cell per group)."""
    return [(axis, name, src, [render(g) for g in groups]) for axis, cols in AXES for name, src, render in cols]
