"""The rules of the "which GAN when" table and its page, built from docs/results/gan-variants.json only.

Pure functions of the measured rows (benchmarks/gan_variants.py makes them): the failure rule, each family's
summary, the stability / best-for / key-requirement rules, the course's opinion table and where the measurements
differ from it. Every number on the page comes from the JSON.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

# family -> (task, what the data must give it)
FAMILIES: dict[str, tuple[str, str]] = {
    "gan": ("mnist", "images"),
    "cgan": ("mnist", "labels"),
    "dcgan": ("mnist", "images"),
    "cdcgan": ("mnist", "labels"),
    "wgan": ("mnist", "images"),
    "wgan-gp": ("mnist", "images"),
    "dcgan64": ("shapes64", "images"),
    "stylegan-lite": ("shapes64", "images"),
    "pix2pix": ("digits-outline", "paired data"),
    "cyclegan": ("digits-thickness", "two unpaired domains"),
}
TRANSLATION = ("pix2pix", "cyclegan")
MIN_RECALL = 0.05  # below it a run collapsed
MAX_STABLE_CV = 0.15  # FID (L1 for translation) sd / mean at most this, with no failure: "stable"
CONDITIONAL_ACCURACY = 0.8  # a conditional family at or above it is "best for" label-controlled generation
STABILITY_AS_COURSE = {
    "stable": "high",
    "variable": "moderate",
    "fragile": "moderate",
    "unstable": "low",
    "untested (1 seed)": "?",
}

# The course's opinion table, as it gives it: (row, measured families, best for, key requirement, stability)
COURSE = [
    ("DCGAN", ("dcgan", "dcgan64"), "image generation baseline", "architecture guidelines", "moderate"),
    ("WGAN-GP", ("wgan-gp",), "stable training", "gradient penalty", "high"),
    ("Conditional GAN", ("cgan", "cdcgan"), "controlled generation", "labels", "moderate"),
    ("Pix2Pix", ("pix2pix",), "paired translation", "paired data", "high"),
    ("CycleGAN", ("cyclegan",), "unpaired translation", "two domains", "moderate"),
    ("StyleGAN", ("stylegan-lite",), "high-quality faces, style control", "large compute", "high"),
]


def finite(v: Any) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)


def failure_reasons(run: dict[str, Any]) -> list[str]:
    """Why one run FAILED (empty: it did not): diverged (a non-finite loss, a non-finite FID) or collapsed
    (fewer than half the classes/motifs covered, recall < 0.05; translation: L1 no better than copying the input)."""
    reasons = []
    if run.get("nonfinite_loss"):
        reasons.append("diverged: non-finite loss")
    s = run.get("scores") or {}
    if run["family"] in TRANSLATION:
        if not finite(s.get("l1")):
            reasons.append("diverged: non-finite output")
        elif s["l1"] >= s["copy_l1"]:
            reasons.append(f"collapsed: L1 {s['l1']:.4f} >= copying the input {s['copy_l1']:.4f}")
        return reasons
    if not finite(s.get("fid")):
        reasons.append("diverged: FID not finite")
    if "classes_covered" in s and s["classes_covered"] < s["num_classes"] / 2:
        reasons.append(f"collapsed: {s['classes_covered']} of {s['num_classes']} classes covered")
    if finite(s.get("recall")) and s["recall"] < MIN_RECALL:
        reasons.append(f"collapsed: recall {s['recall']:.3f} < {MIN_RECALL}")
    return reasons


def mean_sd(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if finite(v)]
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def median_of(values: list[float]) -> float:
    values = [v for v in values if finite(v)]
    return statistics.median(values) if values else math.nan


def summarise(family: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One family's row from its runs (one per seed)."""
    failed = [r for r in runs if failure_reasons(r)]
    key = "l1" if family in TRANSLATION else "fid"
    score_mean, score_sd = mean_sd([r["scores"].get(key, math.nan) for r in runs])
    row: dict[str, Any] = {
        "family": family,
        "task": FAMILIES[family][0],
        "needs": FAMILIES[family][1],
        "seeds": sorted(r["seed"] for r in runs),
        "failed": len(failed),
        "failure_rate": len(failed) / len(runs),
        "reasons": sorted({why for r in failed for why in failure_reasons(r)}),
        "score_key": key,
        "score_mean": score_mean,
        "score_sd": score_sd,
        "steps_mean": statistics.fmean(r["steps"] for r in runs),
        "steps_range": (min(r["steps"] for r in runs), max(r["steps"] for r in runs)),
        "step_ms": median_of([r["step_ms"] for r in runs]),
        "peak_mb": max((r["peak_mb"] for r in runs if finite(r["peak_mb"])), default=math.nan),
        "params": max(r["params"] for r in runs),  # a run that diverged before its checkpoint records 0
    }
    if family in TRANSLATION:
        row["ssim_mean"] = mean_sd([r["scores"].get("ssim", math.nan) for r in runs])[0]
        for key in ("copy_l1", "copy_ssim"):  # the same test pairs for every seed
            row[key] = next((r["scores"][key] for r in runs if key in r["scores"]), math.nan)
    else:
        row["classes_worst"] = min(r["scores"].get("classes_covered", 0) for r in runs)
        row["num_classes"] = max(r["scores"].get("num_classes", 0) for r in runs)
        row["recall_mean"] = mean_sd([r["scores"].get("recall", math.nan) for r in runs])[0]
        if all("conditional_accuracy" in r["scores"] for r in runs):
            row["conditional_accuracy"] = mean_sd([r["scores"]["conditional_accuracy"] for r in runs])[0]
    return row


def stability(row: dict[str, Any]) -> str:
    """unstable: half the seeds or more failed; fragile: some failed; stable: none failed and the score's
    sd / mean < 0.15; variable: none failed but the score spreads more."""
    if row["failure_rate"] >= 0.5:
        return "unstable"
    if row["failure_rate"] > 0:
        return "fragile"
    if len(row["seeds"]) < 2:
        return "untested (1 seed)"
    cv = row["score_sd"] / row["score_mean"] if finite(row["score_mean"]) and row["score_mean"] > 0 else math.inf
    return "stable" if cv < MAX_STABLE_CV else "variable"


def best_for(row: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """Rank on its task's score among the families of that task with a failure rate < 0.5; a conditional family
    whose mean conditional accuracy >= 0.8 is also best for label-controlled generation; a translation family beats
    (or not) copying the input."""
    if row["family"] in TRANSLATION:
        gain = row["copy_l1"] - row["score_mean"]
        kind = "paired" if row["family"] == "pix2pix" else "unpaired"
        verdict = "beats" if gain > 0 else "does not beat"
        return f"{kind} translation ({verdict} copying the input: L1 {row['score_mean']:.3f} vs {row['copy_l1']:.3f})"
    peers = [r for r in rows if r["task"] == row["task"] and r["failure_rate"] < 0.5 and finite(r["score_mean"])]
    peers.sort(key=lambda r: r["score_mean"])
    rank = next((i + 1 for i, r in enumerate(peers) if r["family"] == row["family"]), None)
    if rank is None:
        out = f"nothing on {row['task']} at this budget (failure rate {row['failure_rate']:.0%})"
    elif rank == 1:
        out = f"{row['task']} quality: lowest FID of the {len(peers)} ranked"
    else:
        out = f"{row['task']}: FID rank {rank} of {len(peers)}"
    if row.get("conditional_accuracy", 0) >= CONDITIONAL_ACCURACY:
        out += f"; label-controlled generation (accuracy {row['conditional_accuracy']:.2f})"
    elif "conditional_accuracy" in row:
        out += f"; labels not yet followed (accuracy {row['conditional_accuracy']:.2f})"
    return out


def key_requirement(row: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """What the data must give it, its time per step as a multiple of the cheapest family's, and memory; the
    cheapest / costliest step and the largest memory over all families are named."""
    timed = [r["step_ms"] for r in rows if finite(r["step_ms"])]
    if not finite(row["step_ms"]):
        return f"{row['needs']}, time per step not logged"
    cheapest = min(timed)
    tags = [row["needs"], f"{row['step_ms'] / cheapest:.1f}x the cheapest step"]
    if row["step_ms"] == cheapest:
        tags[1] = "cheapest per step"
    elif row["step_ms"] == max(timed):
        tags[1] += " (costliest per step)"
    if len(rows) > 1 and row["peak_mb"] == max(r["peak_mb"] for r in rows if finite(r["peak_mb"])):
        tags.append("most memory")
    return ", ".join(tags)


def differences(rows: dict[str, dict[str, Any]]) -> list[str]:
    """Where the measured stability and cost differ from the course's table (rows the run did not measure skipped)."""
    out = []
    for name, families, _, requirement, course in COURSE:
        for fam in (f for f in families if f in rows):
            measured = STABILITY_AS_COURSE[rows[fam]["stability"]]
            if measured not in (course, "?"):
                out.append(
                    f"- **{name}** (`{fam}`): the course says stability *{course}*; "
                    f"measured *{rows[fam]['stability']}* "
                    f"({rows[fam]['failed']} of {len(rows[fam]['seeds'])} seeds failed, score sd/mean "
                    f"{fmt(rows[fam]['score_sd'] / rows[fam]['score_mean'], 2)})."
                )
    if "stylegan-lite" in rows and "dcgan64" in rows:
        sg, dc = rows["stylegan-lite"], rows["dcgan64"]
        ratio = sg["step_ms"] / dc["step_ms"]
        quality = "lower (better)" if sg["score_mean"] < dc["score_mean"] else "higher (worse)"
        out.append(
            f"- **StyleGAN's large compute**: at the `small` presets a stylegan-lite step costs {ratio:.1f}x a "
            f"dcgan64 step and takes {sg['peak_mb'] / dc['peak_mb']:.1f}x its peak memory; at the equal budget it "
            f"reached {sg['steps_mean']:.0f} steps against {dc['steps_mean']:.0f}, with a {quality} FID "
            f"({sg['score_mean']:.1f} against {dc['score_mean']:.1f})."
        )
    for fam in ("cgan", "cdcgan"):
        if fam in rows and rows[fam].get("conditional_accuracy", 1.0) < CONDITIONAL_ACCURACY:
            out.append(
                f"- **Conditional GAN's controlled generation** (`{fam}`): conditional accuracy "
                f"{rows[fam]['conditional_accuracy']:.2f} < {CONDITIONAL_ACCURACY} at this budget: the labels are "
                "not yet followed well enough to call the generation controlled."
            )
    for fam in (f for f in TRANSLATION if f in rows and not rows[f]["score_mean"] < rows[f]["copy_l1"]):
        out.append(
            f"- **`{fam}`** does not beat copying the input on L1 at this budget ({rows[fam]['score_mean']:.4f} "
            f"against {rows[fam]['copy_l1']:.4f})."
        )
    if "wgan-gp" in rows and "dcgan" in rows:
        gp, dc = rows["wgan-gp"], rows["dcgan"]
        out.append(
            f"- **WGAN-GP's gradient penalty** costs {gp['step_ms'] / dc['step_ms']:.1f}x a dcgan step (5 critic "
            "updates per generator step, each with a double backward)"
            + (
                f", {gp['step_ms'] / rows['wgan']['step_ms']:.1f}x a wgan step (the same 5 critic updates with weight "
                "clipping: the penalty's own cost)"
                if "wgan" in rows
                else ""
            )
            + f"; its FID {gp['score_mean']:.1f} ± {gp['score_sd']:.1f} against dcgan's "
            f"{dc['score_mean']:.1f} ± {dc['score_sd']:.1f} at the same budget: "
            + (
                "the stability it buys is not visible as a lower FID this early."
                if gp["score_mean"] > dc["score_mean"]
                else "it is ahead here."
            )
        )
    return out or ["- none: every measured row's stability matches the course's."]


def steps_caveat(rows: list[dict[str, Any]]) -> str:
    """The failure rule cannot tell a collapse from a run that has barely started: the steps each group reached."""
    all_failed = [r for r in rows if r["failure_rate"] == 1]
    none_failed = [r for r in rows if r["failure_rate"] == 0]
    if not all_failed or not none_failed:
        return ""

    def steps(group: list[dict[str, Any]]) -> str:
        return ", ".join(f"`{r['family']}` {r['steps_mean']:.0f}" for r in group)

    return (
        "The failure rule cannot tell a generator that collapsed from one that has not yet learnt to cover the data. "
        f"Mean steps reached at this budget by the families that failed every seed: {steps(all_failed)}; by those "
        f"with no failure: {steps(none_failed)}. A stability verdict on a family that reached few steps says more "
        "about its cost per step than about its training dynamics."
    )


def fmt(v: Any, digits: int = 1) -> str:
    return f"{v:.{digits}f}" if finite(v) else "–"


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| family | task | seeds | FID (L1 for translation) mean ± sd | failure rate | classes covered, worst seed | "
        "recall mean (SSIM for translation) | steps reached, mean (min-max) | ms / step (median) | peak memory (MB) | "
        "parameters |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        tr = r["family"] in TRANSLATION
        digits = 4 if tr else 1
        score = f"{fmt(r['score_mean'], digits)} ± {fmt(r['score_sd'], digits)}"
        score += f" (copy: {r['copy_l1']:.4f})" if tr else ""
        covered = "–" if tr else f"{r['classes_worst']} / {r['num_classes']}"
        second = f"{fmt(r['ssim_mean'], 3)} (copy: {r['copy_ssim']:.3f})" if tr else fmt(r["recall_mean"], 3)
        steps = f"{r['steps_mean']:.0f} ({r['steps_range'][0]}-{r['steps_range'][1]})"
        lines.append(
            f"| `{r['family']}` | {r['task']} | {len(r['seeds'])} | {score} | {r['failed']}/{len(r['seeds'])} | "
            f"{covered} | {second} | {steps} | {fmt(r['step_ms'])} | {fmt(r['peak_mb'], 0)} | {r['params']:,} |"
        )
    return lines


def build_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    runs = [r for r in result["runs"] if "error" not in r]
    rows = [
        summarise(f, [r for r in runs if r["family"] == f]) for f in FAMILIES if any(r["family"] == f for r in runs)
    ]
    for row in rows:
        row["stability"] = stability(row)
        row["best_for"] = best_for(row, rows)
        row["key_requirement"] = key_requirement(row, rows)
    return rows


def render(result: dict[str, Any]) -> str:
    rows = build_rows(result)
    by_family = {r["family"]: r for r in rows}
    h = result["header"]
    wanted = len(h["families"]) * len(h["seeds"])
    measured = sum(len(r["seeds"]) for r in rows)
    short = [f"`{r['family']}` ({len(r['seeds'])})" for r in rows if len(r["seeds"]) < len(h["seeds"])]
    missing = [f"`{f}`" for f in h["families"] if f not in by_family]
    errors = [f"`{r['family']}` seed {r['seed']}: {r['error']}" for r in result["runs"] if "error" in r]
    load_end = h.get("load_end")
    lines = [
        "# Which GAN when: every GAN family at an equal CPU budget, several seeds",
        "",
        f"Made by `{h['command']}` (`--render` rebuilds this page from `gan-variants.json`) on {h['machine']}: "
        f"{h['cores']} CPU cores **shared with other engineers' jobs**, torch {h['torch']}, one torch thread per run, "
        f"{h['workers']} runs at a time. `uptime` load average (1, 5, 15 min) at the start {h['load_start']}, "
        f"after the last stored run {load_end if load_end else '(none stored)'}; started {h['started']}, wall time "
        f"to the last stored run {h.get('wall_s', 0) / 60:.1f} min. Timings are inflated and noisy by that sharing; "
        "compare rows, which "
        "ran under the same conditions.",
        "",
        f"**Budget.** Every run trains for the same wall-clock budget, {h['minutes']:g} min (`max_minutes`), from the "
        "family's `small` preset (translation: the batch sizes of `benchmarks/translation.py`), then is scored. That "
        "is far below the 10-30 min of the recipes page (`genlab bench recipes`): these are **early-training** "
        "scores. The point is relative quality and stability at equal cost, not each family's best.",
        "",
        f"**Scoring.** MNIST and shapes64 families through `genlab.bench.recipes.run_recipe`: {h['n']} samples "
        f"(labels cycling for conditional ones) against {h['reference_n']} test images in the data's own "
        "classifier features (digits / shapes): FID, classes (motifs) holding >= 2 % of the samples, recall, "
        f"conditional accuracy. Translation: L1 and SSIM on [0, 1] against the true target over the first "
        f"{h['translation_n']} test pairs (cyclegan: the mean of both directions), with copying the input as the "
        "baseline. A step is one generator update (`wgan`, `wgan-gp`: with 5 critic updates, each on its own "
        "batch). Time per step: median over the run's logged windows of `step_s` (metrics.jsonl; median over "
        "seeds); memory: the largest `peak_rss_mb` (the run's process, data included; one fresh process per run).",
        "",
        f"**Failure rule.** A run FAILED if it diverged (any non-finite loss in metrics.jsonl, or a non-finite FID) "
        f"or collapsed (fewer than half the classes/motifs covered, or recall < {MIN_RECALL}; translation: L1 no "
        "better than copying the input). Failure rate = failed / seeds.",
        "",
        f"**Completeness.** {measured} of the {wanted} requested runs measured "
        f"({len(h['families'])} families x seeds {', '.join(map(str, h['seeds']))})."
        + (f" Fewer seeds than requested: {', '.join(short)}." if short else "")
        + (f" Not measured: {', '.join(missing)}." if missing else "")
        + (f" Errors: {'; '.join(errors)}." if errors else ""),
        "",
        "## Measured",
        "",
        *table(rows),
        "",
    ]
    failures = [(r["family"], why) for r in rows for why in r["reasons"]]
    if failures:
        lines += ["Failures: " + "; ".join(f"`{f}` {why}" for f, why in failures) + ".", ""]
        failed = [r for r in result["runs"] if "error" not in r and failure_reasons(r)]
        recall_only = [r for r in failed if all(why.startswith("collapsed: recall") for why in failure_reasons(r))]
        lines += [
            f"{len(recall_only)} of the {len(failed)} failed runs failed on recall alone, with at least half the "
            "classes covered: at this budget those generators are under-trained (their samples do not yet reach "
            "the spread of the test set) rather than collapsed onto a few modes; the rule counts both as failures.",
            "",
        ]
    lines += [
        "## Which GAN when, computed",
        "",
        "Rules: **stability** *stable* = no seed failed and score sd / mean < "
        f"{MAX_STABLE_CV}; *variable* = no failure, wider spread; *fragile* = some seeds failed; *unstable* = half "
        "or more failed. **Best for**: rank by mean FID among the families of the same task with failure rate < "
        f"0.5; a conditional family with mean conditional accuracy >= {CONDITIONAL_ACCURACY} is also best for "
        "label-controlled generation; a translation family by whether it beats copying the input. **Key "
        "requirement**: what the data must give it, then time per step as a multiple of the cheapest family's.",
        "",
        "| family | best for | key requirement | stability |",
        "|---|---|---|---|",
        *[f"| `{r['family']}` | {r['best_for']} | {r['key_requirement']} | {r['stability']} |" for r in rows],
        "",
        "## The course's table (its opinion, as given)",
        "",
        "| model | best for | key requirement | stability | measured here as |",
        "|---|---|---|---|---|",
    ]
    for name, families, best, req, stab in COURSE:
        seen = ", ".join(
            f"`{f}`: {by_family[f]['stability']} ({STABILITY_AS_COURSE[by_family[f]['stability']]})"
            for f in families
            if f in by_family
        )
        lines.append(f"| {name} | {best} | {req} | {stab} | {seen or 'not measured'} |")
    lines += [
        "",
        "Measured stability maps to the course's words as stable -> high, variable and fragile -> moderate, "
        "unstable -> low.",
        "",
        "## Where the measurements differ from the course",
        "",
        *differences(by_family),
        "",
        steps_caveat(rows),
        "",
        "**Caveats.** The budget is wall-clock time on a shared machine: when other jobs load it, a run reaches "
        "fewer steps, so the steps (min-max) column shows how much the load moved each family's seeds. "
        + f"{len(h['seeds'])} seeds per family is few: a failure rate of 0 of "
        f"{len(h['seeds'])} does not rule out failures. Early-training budget: a family that is slow per step "
        "(StyleGAN, WGAN-GP) is judged on fewer steps, which is the equal-cost question this page asks, not its "
        "asymptotic quality.",
        "",
    ]
    return "\n".join(lines)
