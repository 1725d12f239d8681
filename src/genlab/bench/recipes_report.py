"""docs/results/recipes.md: one row per family, from the (family, seed) results ``genlab bench recipes`` stores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genlab.atomic import atomic_write_text
from genlab.bench.recipes import MIN_CLASS_SHARE, MNIST_BAR, RECIPES, SHAPES_BAR, summarise
from genlab.files import read_json


def merge_entries(json_path: Path, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``entries`` to the stored ones, replacing any of the same (family, seed, budget scale); atomic."""
    stored = read_json(json_path, what="recipes results file").get("results", []) if json_path.exists() else []
    key = lambda e: (e["family"], e["seed"], e["budget_scale"])  # noqa: E731
    new = {key(e) for e in entries}
    results = [e for e in stored if key(e) not in new] + entries
    results.sort(key=lambda e: (list(RECIPES).index(e["family"]) if e["family"] in RECIPES else 99, e["seed"]))
    atomic_write_text(json_path, json.dumps({"results": results}, indent=1, sort_keys=True) + "\n")
    return results


def _cell(value: float | None, fmt: str = "{:.2f}") -> str:
    return "—" if value is None else fmt.format(value)


def _row(family: str, entries: list[dict[str, Any]]) -> str:
    recipe = RECIPES[family]
    if not entries:
        return (
            f"| `{family}` | {recipe.budget_minutes:g} | `{recipe.command()}` | not measured yet "
            f"(`genlab bench recipes --families {family}`) | | | | | |"
        )
    s = summarise(entries)
    w = s["worst"]
    scale = entries[0]["budget_scale"]
    budget = f"{s['budget_minutes']:g}" + ("" if scale == 1 else f" ({scale:g} x the budget)")
    if s["met"]:
        verdict = "**met**"
    else:
        short = [f"{k} {v:+.2f}" for k, v in s["misses"].items() if v < 0]
        verdict = "missed: " + ", ".join(short)
    return (
        f"| `{family}` | {budget} | `{s['command']}` | {s['fid_mean']:.1f} ± {s['fid_sd']:.1f} "
        f"| {w['classes_covered']}/{s['num_classes']} | {w['recall']:.2f} | {_cell(w.get('confident_share'))} "
        f"| {_cell(w.get('conditional_accuracy'))} | {verdict} (seeds {', '.join(map(str, s['seeds']))}) |"
    )


def write_page(doc: Path, results: list[dict[str, Any]]) -> Path:
    """Render ``doc`` from every stored result (rows in registry order; unmeasured families say so)."""
    by_family: dict[str, list[dict[str, Any]]] = {f: [] for f in RECIPES}
    for e in results:
        by_family.setdefault(e["family"], []).append(e)
    machines = sorted({f"{e['machine'].get('cores')} cores, torch {e['machine'].get('torch')}" for e in results})
    loads = [max(e["load_average_after"]) for e in results]
    lines = [
        "# What each documented recipe gives",
        "",
        "Written by `genlab bench recipes` (src/genlab/bench/recipes.py) from the results in "
        f"`{doc.with_suffix('.json').name}`; every row can be re-measured with the command in its row "
        "(`--set max_minutes` is the trainer's wall-clock budget of training steps).",
        "",
        f"Machine: {'; '.join(machines) or 'none yet'}"
        + (
            f"; load average up to {max(loads):.1f} after a run (a shared machine: budgets are wall clock)"
            if loads
            else ""
        )
        + ".",
        "",
        f"Bars. MNIST families: every class holds ≥ {MIN_CLASS_SHARE:.0%} of the samples, recall ≥ "
        f"{MNIST_BAR.recall}, ≥ {MNIST_BAR.confident:.0%} of the samples classified with confidence > 0.9 by the "
        f"shipped digit classifier, conditional accuracy ≥ {MNIST_BAR.conditional_accuracy} where conditional. "
        f"shapes64 families: all 6 motifs ≥ {MIN_CLASS_SHARE:.0%}, recall ≥ {SHAPES_BAR.recall}. Scores: the "
        "samples (`-n`, labels cycling through the classes) against the data's test split with the data's "
        "classifier; the bar columns show the **worst** seed, FID the mean ± sd over seeds. *missed* lists by how "
        "much the worst seed falls short of each part of the bar.",
        "",
        "| family | budget (min) | command | FID ↓ | classes | recall | confident | cond. acc. | bar |",
        "|---|---|---|---|---|---|---|---|---|",
        *(_row(f, by_family.get(f, [])) for f in RECIPES),
        "",
        "Translation (pix2pix, cyclegan) and text-ddpm are scored against their own bars by "
        "`benchmarks/translation.py` and `benchmarks/text.py` (docs/results/translation.md, text.md), not by this "
        "command.",
        "",
    ]
    atomic_write_text(doc, "\n".join(lines))
    return doc
