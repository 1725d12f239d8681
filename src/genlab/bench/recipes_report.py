"""docs/results/recipes.md: one row per family, from the (family, seed) results ``genlab bench recipes`` stores."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genlab.atomic import atomic_write_text
from genlab.bench.recipes import (
    MIN_CLASS_SHARE,
    MNIST_BAR,
    RECIPES,
    SHAPES_BAR,
    TRANSLATION_FAMILIES,
    base_command,
    changes,
    summarise,
)
from genlab.bench.recipes_text import text_section
from genlab.files import read_json


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (POSIX flock), so two bench processes do not lose each other's rows."""
    try:
        import fcntl
    except ImportError:  # Windows: one process at a time is the user's job
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def merge_entries(json_path: Path, entries: list[dict[str, Any]], doc: Path | None = None) -> list[dict[str, Any]]:
    """Add ``entries`` to the stored ones, replacing any of the same (family, command, seed, budget scale); atomic.

    The read-merge-write holds a lock on the folder, so lanes of ``genlab bench recipes`` run side by side
    (different ``--families``) can share one results file; ``doc``, when given, is rewritten under the same lock.
    """
    json_path.parent.mkdir(parents=True, exist_ok=True)
    with _folder_lock(json_path.parent):
        results = _merge_locked(json_path, entries)
        if doc is not None:
            write_page(doc, results)
        return results


def _merge_locked(json_path: Path, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stored = read_json(json_path, what="recipes results file").get("results", []) if json_path.exists() else []
    key = lambda e: (e["family"], base_command(e.get("command", "")), e["seed"], e["budget_scale"])  # noqa: E731
    new = {key(e) for e in entries}
    results = [e for e in stored if key(e) not in new] + entries
    results.sort(key=lambda e: (list(RECIPES).index(e["family"]) if e["family"] in RECIPES else 99, e["seed"]))
    atomic_write_text(json_path, json.dumps({"results": results}, indent=1, sort_keys=True) + "\n")
    return results


def _miss(key: str, margin: float) -> str:
    """``recall -0.29``; a miss too small for 2 decimals gets 3 (``recall -0.001``, not ``-0.00``)."""
    if key == "classes":
        return f"{key} {margin:+d}"
    return f"{key} {margin:+.2f}" if abs(margin) >= 0.005 else f"{key} {margin:+.3f}"


def _cell(value: float | None, fmt: str = "{:.2f}") -> str:
    return "—" if value is None else fmt.format(value)


def _unmeasured(family: str, empty_cells: int) -> str:
    """A family's row before any result: its budget, its command, and the command that measures it."""
    recipe = RECIPES[family]
    return (
        f"| `{family}` | {recipe.total_minutes:g} | `{recipe.command()}` | not measured yet "
        f"(`genlab bench recipes --families {family}`) |" + " |" * empty_cells
    )


def _row(family: str, entries: list[dict[str, Any]], tried: bool = False) -> str:
    if not entries:
        return _unmeasured(family, 6)
    s = summarise(entries)
    if tried:  # a variant or an earlier recipe: its first column says how it differs from the current recipe
        family = f"{family}: {changes(s['command'], RECIPES[family].command())}"
    w = s["worst"]
    scale = entries[0]["budget_scale"]
    budget = f"{s['budget_minutes']:g}" + ("" if scale == 1 else f" ({scale:g} x the budget)")
    lo, hi = min(e["scores"]["step"] for e in entries), max(e["scores"]["step"] for e in entries)
    steps = f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"
    if s["met"]:
        verdict = "**met**"
    else:
        short = [_miss(k, v) for k, v in s["misses"].items() if v < 0]
        verdict = "missed: " + ", ".join(short)
    return (
        f"| `{family}` | {budget} | `{s['command']}` | {steps} | {s['fid_mean']:.1f} ± {s['fid_sd']:.1f} "
        f"| {w['classes_covered']}/{s['num_classes']} | {w['recall']:.2f} | {_cell(w.get('confident_share'))} "
        f"| {_cell(w.get('conditional_accuracy'))} | {verdict} (seeds {', '.join(map(str, s['seeds']))}) |"
    )


ISSUE_SEEDS = (0, 1, 2)


def _notes() -> list[str]:
    notes = [f"- `{name}`: {r.note}." for name, r in RECIPES.items() if r.note]
    return ["What a recipe changes from its preset:", "", *notes, ""] if notes else []


def _translation_row(family: str, entries: list[dict[str, Any]], tried: bool = False) -> str:
    if not entries:
        return _unmeasured(family, 5)
    s = summarise(entries)
    if tried:
        family = f"{family}: {changes(s['command'], RECIPES[family].command())}"
    steps = ", ".join(f"{e['scores']['step']:,}" for e in entries)
    mean = lambda key: statistics.fmean(e["scores"][key] for e in entries)  # noqa: E731
    worst_l1 = max(e["scores"]["l1"] for e in entries)
    verdict = "**met**" if s["met"] else "missed: " + ", ".join(f"{k} {v:+.3f}" for k, v in s["misses"].items())
    return (
        f"| `{family}` | {s['budget_minutes']:g} | `{s['command']}` | {steps} "
        f"| {s['fid_mean']:.1f} ± {s['fid_sd']:.1f} "
        f"| {mean('fid_copy'):.1f} | {worst_l1:.3f} | {mean('copy_l1'):.3f} "
        f"| {verdict} (seeds {', '.join(map(str, s['seeds']))}) |"
    )


def _real_row(name: str, entries: list[dict[str, Any]]) -> str:
    sc = entries[-1]["scores"]
    return (
        f"| {name} training images | — | the first {sc['n']:,} training images, scored like samples: what a "
        f"perfect model would get | — | {sc['fid']:.1f} | {sc['classes_covered']}/{sc['num_classes']} "
        f"| {sc['recall']:.2f} | {sc['confident_share']:.2f} | {_cell(sc.get('conditional_accuracy'))} | reference |"
    )


def translation_table(by_family: dict[str, list[dict[str, Any]]]) -> list[str]:
    """pix2pix and cyclegan against their bar: beat the copy-the-input baseline in FID and in L1."""
    return [
        *_TRANSLATION_HEAD,
        *(_translation_row(f, by_family.get(f, [])) for f in TRANSLATION_FAMILIES),
        "",
    ]


def split_tried(results: list[dict[str, Any]]) -> tuple[dict[str, list], dict[tuple[str, str], list]]:
    """The current recipes' results by family, and every other command's (variants, earlier recipes) by
    (family, command): a row counts for its family only while its command is the family's recipe."""
    current: dict[str, list[dict[str, Any]]] = {f: [] for f in RECIPES}
    tried: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in results:
        family, command = e["family"], base_command(e.get("command", ""))
        if family in RECIPES and command != RECIPES[family].command():
            tried.setdefault((family, command), []).append(e)
        else:
            current.setdefault(family, []).append(e)
    return current, tried


def tried_tables(tried: dict[tuple[str, str], list[dict[str, Any]]]) -> list[str]:
    """What was tried besides each recipe, measured by the same command (``--set`` variants, earlier recipes)."""
    if not tried:
        return []
    rows = sorted(tried.items(), key=lambda kv: (list(RECIPES).index(kv[0][0]), kv[0][1]))
    images = [_row(f, es, tried=True) for (f, _), es in rows if f not in TRANSLATION_FAMILIES]
    pairs = [_translation_row(f, es, tried=True) for (f, _), es in rows if f in TRANSLATION_FAMILIES]
    lines = [
        "## What was tried",
        "",
        "Variants measured the same way (`genlab bench recipes --families F --set key=value`) and earlier recipes "
        "the current one replaced. The first column says how each differs from the family's recipe above "
        "(+ added or changed, − dropped).",
        "",
    ]
    if images:
        lines += [_IMAGE_HEAD, _IMAGE_RULE, *images, ""]
    if pairs:
        lines += [*_TRANSLATION_HEAD[2:], *pairs, ""]
    return lines


_IMAGE_HEAD = (
    "| family | budget (min) | command | steps reached | FID ↓ | classes | recall | confident | cond. acc. | bar |"
)
_IMAGE_RULE = "|---|---|---|---|---|---|---|---|---|---|"
_TRANSLATION_HEAD = [
    "Translation families, on their built-in pairs' test split: FID of G(A) against the true B images and the "
    "per-image L1 of G(A) against each A's true B (worst seed), beside the same scores of the input A copied "
    "as the output. Bar: beat the copy in both.",
    "",
    "| family | budget (min) | command | steps reached | FID ↓ | copy FID | L1 ↓ | copy L1 | bar |",
    "|---|---|---|---|---|---|---|---|---|",
]


def write_page(doc: Path, results: list[dict[str, Any]]) -> Path:
    """Render ``doc`` from every stored result (rows in registry order; unmeasured families say so)."""
    by_family, tried = split_tried(results)
    machines = sorted(
        {
            f"{m.get('cores')} cores, {m.get('threads')} thread(s) per run, torch {m.get('torch')}"
            for m in (e["machine"] for e in results)
        }
    )
    loads = [max(e["load_average_after"]) for e in results]
    lines = [
        "# What each documented recipe gives",
        "",
        "Written by `genlab bench recipes` (src/genlab/bench/recipes.py) from the results in "
        f"`{doc.with_suffix('.json').name}`; every row can be re-measured with the command in its row "
        "(`--set max_minutes` with no `--steps` or `--epochs` trains until that wall-clock budget).",
        "",
        f"Machine: {'; '.join(machines) or 'none yet'}"
        + (
            f"; load average up to {max(loads):.1f} after a run (budgets are wall clock: with two runs side by "
            "side, each on one thread, a load of 2 means both cores busy)"
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
        "much the worst seed falls short of each part of the bar. The issue's bar asks for 3 seeds "
        f"({', '.join(map(str, ISSUE_SEEDS))}): a row names the seeds it has, and one measured on fewer is "
        "provisional, met or missed.",
        "",
        _IMAGE_HEAD,
        _IMAGE_RULE,
        *(_real_row(f, es) for f, es in sorted(by_family.items()) if f.startswith("real ")),
        *(_row(f, by_family.get(f, [])) for f in RECIPES if f not in TRANSLATION_FAMILIES),
        "",
        *_notes(),
        *translation_table(by_family),
        *text_section(doc.parent),
        *tried_tables(tried),
    ]
    atomic_write_text(doc, "\n".join(lines))
    return doc
