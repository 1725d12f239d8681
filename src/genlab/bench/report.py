"""``docs/results/performance.md``: rendered from the benchmark results JSON beside it, with figures.

Each ``genlab bench`` command stores its section (results + the command + the machine stamp)
in ``performance.json`` and re-renders the whole page, so the page never mixes numbers with
commands that did not make them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genlab.atomic import atomic_write_text
from genlab.bench.quality import CONFIDENCE, MIN_CLASS_FRACTION, MIN_CONFIDENT_FRACTION
from genlab.bench.variants import LOSS_TOLERANCE, SPEEDUP_TO_WIN, verdict
from genlab.files import read_json
from genlab.plots import figure, save_figure

TRAINING_TARGET = 2.0  # issue 11: ours >= 2x the textbook DataLoader loop
PEAK_TARGET = 0.30  # issue 11: conv models >= 30 % of the matmul peak


def update_results(json_path: Path, section: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Store ``payload`` as ``section`` of the results file (atomically) and return all sections."""
    results = read_json(json_path, what="results file") if json_path.exists() else {}
    results[section] = payload
    atomic_write_text(json_path, json.dumps(results, indent=1, sort_keys=True) + "\n")
    return results


def merge_quality(json_path: Path, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Add quality results to the stored ones, replacing any with the same label (family + overrides).

    Each entry carries its own command and machine stamp, so families and recipes measured
    by separate invocations sit side by side on the page. Returns all sections.
    """
    results = read_json(json_path, what="results file") if json_path.exists() else {}
    kept = [r for r in results.get("quality", {}).get("results", []) if "label" in r and "command" in r]
    labels = {e["label"] for e in entries}
    return update_results(json_path, "quality", {"results": [r for r in kept if r["label"] not in labels] + entries})


def _stamp(payload: dict[str, Any]) -> list[str]:
    m, after = payload["machine"], payload.get("load_average_after")
    load = f"{m['load_average']} at the start" + (f", {after} at the end" if after else "")
    busy = (
        max(m["load_average"][0], *(after or [0.0])[:1]) > m["threads"] + 0.75
    )  # the run's own threads load the machine too
    note = (
        "Other work was running (see the load): compare ratios measured in the same run, not absolute speeds."
        if busy
        else ""
    )
    return [
        f"Command: `{payload['command']}`",
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), torch {m['torch']}, {m['threads']} torch thread(s), {m['date']}; "
        f"load average (1, 5, 15 min) {load}." + (f" {note}" if note else ""),
        "",
    ]


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out + [""]


def _f(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def render_run(run: dict[str, Any], figures: dict[str, str], variants_measured: bool = False) -> list[str]:
    lines = ["## Throughput, profile and scaling", "", *_stamp(run)]
    lines += [
        "### Training throughput: ours (in-memory Batcher) vs the textbook loop (Dataset + DataLoader, default "
        "collate)",
        "",
    ]
    lines += [
        "Same network, optimiser, seed and example order on both sides, interleaved in one process; images/s from "
        "the median step time "
        f"(data included); 'ratio of totals' uses the summed times instead. Target >= {TRAINING_TARGET:g}x.",
        "",
    ]
    rows = [
        [
            r["family"],
            r["batch_size"],
            r["timed_steps"],
            _f(r["ours_images_per_s"]),
            _f(r["reference_images_per_s"]),
            f"{r['ratio']:.2f}x",
            f"{r['ratio_of_totals']:.2f}x",
            "yes" if r["ratio"] >= TRAINING_TARGET else "no",
            _f(r["ours_data_ms_per_batch"], 3),
            _f(r["reference_data_ms_per_batch"], 3),
            f"{r['max_metric_difference']:.3g}",
        ]
        for r in run["training"]
    ]
    lines += _table(
        [
            "family",
            "batch",
            "timed steps",
            "ours images/s",
            "reference images/s",
            "ratio",
            "ratio of totals",
            f">= {TRAINING_TARGET:g}x",
            "ours data ms/batch",
            "reference data ms/batch",
            "max metric difference",
        ],
        rows,
    )
    lines += _render_fast(run["training"])
    lines += [f"![loss curves]({figures['loss']})", ""]
    lines += ["### Sampling throughput (batched, inference mode; untrained networks at the benchmark preset)", ""]
    lines += _table(
        ["model", "sampler", "images", "images/s", "seconds"],
        [[r["model"], r["sampler"], r["n"], _f(r["images_per_s"], 2), _f(r["seconds"], 2)] for r in run["sampling"]],
    )
    if run.get("sampler_fids"):
        lines += [f"Trained run `{run['ddpm_run']}`: FID (digits features) of each sampler", ""]
        lines += _table(
            ["sampler", "images", "images/s", "FID"],
            [[r["sampler"], r["n"], _f(r["images_per_s"], 2), _f(r["fid"], 2)] for r in run["sampler_fids"]],
        )
    e = run["evaluation"]
    lines += ["### Evaluation throughput (digits classifier features, then FID)", ""]
    lines += _table(
        ["images", "reference images", "feature seconds", "images/s", "FID seconds"],
        [[e["n"], e["reference_n"], _f(e["feature_seconds"], 2), _f(e["images_per_s"]), _f(e["fid_seconds"], 3)]],
    )
    lines += ["### Where a training step's time goes", ""]
    lines += [
        f"Float32 matmul ({run['matmul_n']}x{run['matmul_n']}) on the same threads, same run: "
        f"{run['matmul_gflops']:.1f} GFLOP/s. "
        "FLOPs counted by FlopCounterMode (matmuls and convolutions, forward and backward). Target for the conv "
        f"models: >= {PEAK_TARGET:.0%} of the matmul rate.",
        "",
    ]
    rows = [
        [
            p["family"],
            p["batch_size"],
            _f(p["step_ms"]),
            _f(p["gflop_per_step"], 3),
            _f(p["gflop_per_s"], 2),
            f"{p['fraction_of_matmul_peak']:.0%}",
            "; ".join(f"{o['op']} {o['share']:.0%}" for o in p["top_ops"]),
        ]
        for p in run["profile"]
    ]
    lines += _table(
        ["family", "batch", "step ms", "GFLOP/step", "GFLOP/s", "of matmul", "top operators (self CPU share)"], rows
    )
    lines += ["### Step time vs batch size (28x28) and vs image size", ""]
    sizes = sorted({int(s) for g in run["scaling"] for s in g["ms_by_size"]})
    batches = sorted({int(b) for g in run["scaling"] for b in g["ms_by_batch"]})
    rows = [
        [
            g["family"],
            *(_f(g["ms_by_batch"].get(str(b), g["ms_by_batch"].get(b))) for b in batches),
            *(_f(g["ms_by_size"].get(str(s), g["ms_by_size"].get(s))) for s in sizes),
        ]
        for g in run["scaling"]
    ]
    lines += _table(
        [
            "family",
            *(f"batch {b} ms" for b in batches),
            *(f"{s}x{s} ms (batch {run['scaling'][0]['batch_for_sizes']})" for s in sizes),
        ],
        rows,
    )
    lines += ["n/a: the architecture is fixed to 28x28.", "", f"![step time]({figures['scaling']})", ""]
    if variants_measured:
        lines += [
            "The profile and scaling above are float32 steps. Every training-step variant (channels-last, bfloat16 "
            "autocast, fused optimiser, "
            "`torch.compile` and combinations) is measured per family by `genlab bench variants` in [Training-step "
            "variants](#training-step-variants) below. "
            "For DDIM sampling they are measured side by side in [ddim-speed.md](ddim-speed.md) (`python "
            "benchmarks/ddim_speed.py`).",
            "",
        ]
    else:
        lines += [
            "The profile and scaling above are float32 steps; the other training-step variants (channels-last, "
            "`torch.compile`, ...) are not on this "
            "page yet (`genlab bench variants` measures them). For DDIM sampling they are measured side by side in "
            "[ddim-speed.md](ddim-speed.md) (`python benchmarks/ddim_speed.py`).",
            "",
        ]
    return lines


def render_variants(v: dict[str, Any], level: str = "###") -> list[str]:
    """The training-step variants table and, per family, which variants win under the stated rule."""
    lines = [f"{level} Training-step variants", "", *_stamp(v)]
    bf16 = "yes" if v["bf16_supported"] else "no"
    lines += [
        f"Each variant's family is built from the same seed at preset {v['preset']}, reads the same batches (batch "
        f"{v['batch_size']}) and draws with the same "
        "generator, so losses are comparable step by step. From that common start each variant runs "
        f"{max(v['warmup'], v['agree_steps'])} untimed steps: "
        f"the first {v['agree_steps']} losses are compared with eager's; the first {v['warmup']} are the warm-up, and "
        "for a compiled variant their time less "
        f"as many timed steps is its compile time. Then {v['rounds']} interleaved rounds of {v['steps_per_round']} "
        "timed steps per variant; ms/step is the median "
        "(data included), images/s = images per step / median. Native bfloat16 on this CPU "
        f"(`torch.ops.mkldnn._is_mkldnn_bf16_supported()`): {bf16}.",
        "",
    ]
    if v.get("compiler_startup_seconds") is not None:
        cache = (
            "into a fresh, empty inductor cache, so they are what a first run pays (a later run that finds its "
            "kernels in the on-disk cache compiles faster)"
            if v.get("fresh_compile_cache")
            else "with inductor's on-disk cache as earlier runs left it (`--warm-cache`), so they can be far below a "
            "first run's"
        )
        lines += [
            f"The compiler's once-per-process start-up ({v['compiler_startup_seconds']:.1f} s to compile a small conv "
            "net) was paid before any family and "
            f"is not in the compile times below. Compiles went {cache}.",
            "",
        ]
    for name, why in v.get("skipped", {}).items():
        lines += [f"Not measured: {name}: {why}.", ""]
    described = {row["variant"]: row["description"] for r in v["results"] for row in r["variants"]}
    lines += ["Variants: " + "; ".join(f"{name} = {text}" for name, text in described.items()) + ".", ""]
    rows = [
        [
            r["family"],
            row["variant"],
            _f(row["ms_per_step"], 2),
            _f(row["images_per_s"]),
            f"{row['vs_eager']:.2f}x",
            "" if row["compile_seconds"] is None else f"{row['compile_seconds']:.1f} ({row['graphs']} graphs)",
            ""
            if row["compile_seconds"] is None
            else ("never" if row["break_even_steps"] is None else f"{row['break_even_steps']:.0f}"),
            f"{row['max_loss_difference']:.3g}",
            f"{row['max_relative_difference']:.2g}",
            f"{row['final_relative_difference']:.2g}",
        ]
        for r in v["results"]
        for row in r["variants"]
    ]
    lines += _table(
        [
            "family",
            "variant",
            "ms/step",
            "images/s",
            "vs eager",
            "compile s",
            "break-even steps",
            "max loss difference",
            "max relative",
            "final-step relative",
        ],
        rows,
    )
    lines += [
        f"Loss: `loss` (GANs: `loss_d`) over the first {v['agree_steps']} steps; relative = difference / eager's "
        "largest |loss| over those steps (final step: / eager's final loss). "
        "Break-even steps = compile s / (eager s - compiled s per step); never when the compiled step is not faster. "
        "Graphs: FX graphs dynamo built for the variant (more than one per net and call pattern means graph breaks or "
        "recompiles).",
        "",
    ]
    lines += [
        f"Rule: a variant wins when its median step is >= {SPEEDUP_TO_WIN:.2f}x eager's and its loss stays within "
        f"{LOSS_TOLERANCE:.0%} (max relative) of eager's.",
        "",
    ]
    for r in v["results"]:
        rows_by_name = {row["variant"]: row for row in r["variants"]}
        verdicts = verdict(r)

        def why(name: str) -> str:
            row = rows_by_name[name]
            off = (
                f", loss off by {row['max_relative_difference']:.1%}"
                if row["max_relative_difference"] > LOSS_TOLERANCE
                else ""
            )
            return f"{name} ({row['vs_eager']:.2f}x{off})"

        fastest = max(verdicts["wins"], key=lambda n: rows_by_name[n]["vs_eager"], default=None)
        best = f" Fastest winner: **{fastest}**." if fastest else ""
        lines += [
            f"- {r['family']}: wins: {', '.join(why(n) for n in verdicts['wins']) or 'none'}; does not win: "
            f"{', '.join(why(n) for n in verdicts['does_not_win']) or 'none'}.{best}"
        ]
    return lines + [""]


def render_quality(q: dict[str, Any]) -> list[str]:
    lines = ["## Quality per CPU-minute", ""]
    lines += [
        f"Bar: every class >= {MIN_CLASS_FRACTION:.0%} of the samples and >= {MIN_CONFIDENT_FRACTION:.0%} of samples "
        f"classified with confidence > {CONFIDENCE}. "
        "Training time is the training steps alone (batch fetch + update; the trainer's StepClock): drawing and "
        "scoring "
        "each check's samples, sample grids and checkpoints are left out. CPU time is the process's own, summed over "
        "its threads.",
        "",
    ]
    summary = [
        [
            r["label"],
            r["preset"],
            r["batch_size"],
            *(
                [
                    r["reached"]["step"],
                    _f(r["reached"]["train_wall_s"] / 60, 2),
                    _f(r["reached"]["train_cpu_s"] / 60, 2),
                    _f(r["reached"]["fid"]),
                ]
                if r["reached"]
                else [f"not met in {r['budget_minutes']:g} min", "", "", ""]
            ),
        ]
        for r in q["results"]
    ]
    lines += _table(
        [
            "family (overrides)",
            "preset",
            "batch",
            "bar met at step",
            "training wall min",
            "training CPU min",
            "FID then",
        ],
        summary,
    )
    lines += _render_targets(q["results"]) + _render_changes(q["results"])
    for r in q["results"]:
        reached = r["reached"]
        verdict = (
            f"met at step {reached['step']} after {reached['train_wall_s'] / 60:.2f} wall-minutes of training"
            if reached
            else f"not met within {r['budget_minutes']:g} min"
        )
        lines += [
            f"### {r['label']}",
            "",
            *_stamp(r),
            f"Preset {r['preset']}, batch {r['batch_size']}, {r['samples']} samples per check: {verdict}.",
            "",
        ]
        lines += _table(
            ["step", "train wall s", "train CPU s", "smallest class", "confident", "FID"],
            [
                [
                    c["step"],
                    _f(c["train_wall_s"]),
                    _f(c["train_cpu_s"]),
                    f"{c['smallest_class_fraction']:.1%}",
                    f"{c['confident_fraction']:.1%}",
                    _f(c["fid"]),
                ]
                for c in r["checks"]
            ],
        )
    return lines


QUALITY_TARGETS = (("GAN", 5.0), ("diffusion", 25.0))  # issue 11: training wall minutes to the bar on 2 cores


def target_kind(family: str) -> str | None:
    """Which quality target a family counts for: GAN, diffusion, or none (VAEs have no target)."""
    return "GAN" if "gan" in family else "diffusion" if "ddpm" in family or family == "ldm" else None


def _render_targets(results: list[dict[str, Any]]) -> list[str]:
    """Each target's verdict from the rows: the fastest row of that kind to reach the bar, against the budget."""
    lines = [
        "Targets (training wall minutes to the bar): "
        + ", ".join(f"best {kind} <= {limit:g}" for kind, limit in QUALITY_TARGETS)
        + ".",
        "",
    ]
    for kind, limit in QUALITY_TARGETS:
        rows = [r for r in results if target_kind(r["family"]) == kind]
        met = sorted((r for r in rows if r["reached"]), key=lambda r: r["reached"]["train_wall_s"])
        if not rows:
            lines.append(f"- {kind}: no row measured.")
        elif met and met[0]["reached"]["train_wall_s"] <= limit * 60:
            best = met[0]
            lines.append(
                f"- {kind}: **met** by {best['label']}: the bar after {best['reached']['train_wall_s'] / 60:.2f} "
                f"wall-minutes (<= {limit:g}), FID {best['reached']['fid']:.1f}."
            )
        else:
            fastest = (
                f"; the fastest, {met[0]['label']}, took {met[0]['reached']['train_wall_s'] / 60:.2f}" if met else ""
            )
            lines.append(
                f"- {kind}: **not met**: no {kind} row reached the bar within {limit:g} wall-minutes{fastest}."
            )
    return lines + [""]


def _render_changes(results: list[dict[str, Any]]) -> list[str]:
    """What each recipe change bought: a row with overrides against its family's plain row (same preset and batch)."""
    plain = {(r["family"], r["preset"], r["batch_size"]): r for r in results if not r.get("sets")}
    rows = []
    for r in results:
        base = plain.get((r["family"], r["preset"], r["batch_size"]))
        if not r.get("sets") or base is None or not r["checks"] or not base["checks"]:
            continue
        common = sorted({c["step"] for c in r["checks"]} & {c["step"] for c in base["checks"]})
        at = {c["step"]: c for c in r["checks"]}, {c["step"]: c for c in base["checks"]}
        s = common[-1] if common else None
        speed = (base["checks"][-1]["train_wall_s"] / base["checks"][-1]["step"]) / (
            r["checks"][-1]["train_wall_s"] / r["checks"][-1]["step"]
        )
        bar = (
            (
                f"step {r['reached']['step']}, {r['reached']['train_cpu_s'] / 60:.2f} CPU-min"
                if r["reached"]
                else "not met"
            )
            + " vs "
            + (
                f"step {base['reached']['step']}, {base['reached']['train_cpu_s'] / 60:.2f} CPU-min"
                if base["reached"]
                else "not met"
            )
        )
        fid = f"{at[0][s]['fid']:.1f} vs {at[1][s]['fid']:.1f} (step {s})" if s else "no common check"
        confident = f"{at[0][s]['confident_fraction']:.1%} vs {at[1][s]['confident_fraction']:.1%}" if s else ""
        rows.append([r["label"], r["family"], f"{speed:.2f}x", bar, fid, confident])
    if not rows:
        return []
    return [
        "What each recipe change bought (the row with overrides vs its family's plain row; speed = wall seconds per "
        "training step, plain / changed, over each run's whole length):",
        "",
        *_table(
            ["row", "vs", "step speed", "bar: changed vs plain", "FID at the last common check", "confident there"],
            rows,
        ),
    ]


def _render_fast(rows: list[dict[str, Any]]) -> list[str]:
    """The 'ours fast' side: TrainConfig's speed options on, vs the same reference."""
    fast = [r for r in rows if "fast_ratio" in r]
    if not fast:
        return []
    options = dict(sorted(fast[0]["fast_options"].items()))
    sets = " ".join(f"--set {k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in options.items())
    lines = [
        "#### Ours with the speed options on",
        "",
        "A third side, interleaved with the two above: ours with TrainConfig "
        f"{', '.join(f'{k}={v}' for k, v in options.items())} "
        f"(`genlab train ... {sets}`). Its loss follows the reference's to bfloat16 rounding, not float32's: the "
        "table gives the largest "
        "difference relative to the reference's largest |loss|; whether quality holds over a whole run is checked in "
        "[Quality per CPU-minute](#quality-per-cpu-minute).",
        "",
    ]
    table = [
        [
            r["family"],
            r["batch_size"],
            _f(r["fast_images_per_s"]),
            _f(r["reference_images_per_s"]),
            f"{r['fast_ratio']:.2f}x",
            "yes" if r["fast_ratio"] >= TRAINING_TARGET else "no",
            f"{r['fast_relative_difference']:.2g}",
        ]
        for r in fast
    ]
    return lines + _table(
        [
            "family",
            "batch",
            "ours fast images/s",
            "reference images/s",
            "ratio",
            f">= {TRAINING_TARGET:g}x",
            "max relative loss difference",
        ],
        table,
    )


def plot_figures(run: dict[str, Any], folder: Path) -> dict[str, str]:
    """Loss curves (ours solid, reference dashed) and step time vs batch / image size; returns file names."""
    fams = run["training"]
    fig, axes = figure(1, len(fams), size=(3.2 * len(fams), 3.0))
    for ax, r in zip(axes if len(fams) > 1 else [axes], fams):
        ax.plot(r["ours_losses"], "-", lw=2.5, alpha=0.6, label="ours")
        ax.plot(r["reference_losses"], "k--", lw=1, label="reference")
        if "fast_losses" in r:
            ax.plot(r["fast_losses"], ":", color="tab:red", lw=1.5, label="ours fast (bf16)")
        ax.set_title(f"{r['family']} ({r['loss_key']})")
        ax.set_xlabel("step")
    (axes[0] if len(fams) > 1 else axes).legend()
    save_figure(fig, folder / "performance_loss_curves.png")
    fig, (a, b) = figure(1, 2, size=(9, 3.4))
    for g in run["scaling"]:
        xs = sorted(int(k) for k in g["ms_by_batch"])
        a.plot(xs, [g["ms_by_batch"].get(str(x), g["ms_by_batch"].get(x)) for x in xs], "o-", label=g["family"])
        ss = [int(k) for k, v in g["ms_by_size"].items() if v is not None]
        b.plot(
            sorted(ss),
            [g["ms_by_size"].get(str(s), g["ms_by_size"].get(s)) for s in sorted(ss)],
            "o-",
            label=g["family"],
        )
    a.set(xlabel="batch size (28x28)", ylabel="ms per training step", xscale="log", yscale="log")
    b.set(xlabel="image size (square)", ylabel="ms per training step", yscale="log")
    a.legend(fontsize=7)
    save_figure(fig, folder / "performance_scaling.png")
    return {"loss": "performance_loss_curves.png", "scaling": "performance_scaling.png"}


def write_report(doc: Path, results: dict[str, Any]) -> Path:
    """Render every stored section into ``doc`` (Markdown, atomic), figures beside it."""
    lines = [
        "# Performance",
        "",
        "Written by `genlab bench run`, `genlab bench variants` and `genlab bench quality` (src/genlab/bench/); the "
        "numbers live in "
        f"`{doc.with_suffix('.json').name}` beside this page. Distributed training: see docs/distributed.md.",
        "",
    ]
    if "run" in results:
        lines += render_run(
            results["run"], plot_figures(results["run"], doc.parent), variants_measured="variants" in results
        )
    if "variants" in results:
        lines += render_variants(results["variants"], "###" if "run" in results else "##")
    if "quality" in results:
        lines += render_quality(results["quality"])
    return atomic_write_text(doc, "\n".join(lines))
