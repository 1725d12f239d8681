"""Few-step diffusion: the teacher's DDIM against progressive and consistency distillation at 1, 2, 4 and 8 steps.

    python benchmarks/few_step.py                  # every stage; writes docs/results/few-step.md (+ .json, figures)
    python benchmarks/few_step.py --stage score    # only score the runs (each training stage skips a finished run)
    python benchmarks/few_step.py --doc-only       # rewrite the pages and the figure from docs/results/few-step.json

The runs (gitignored, under runs/few-step/; a stage resumes its run if it was stopped):

    teacher      genlab train ddpm --preset small --steps 2000 --set precision=bfloat16 --set fused_optimizer=true
    dcgan        genlab train dcgan --preset small --steps 10000 --set precision=bfloat16 --set channels_last=true
                 --set fused_optimizer=true
    progressive  genlab distill runs/few-step/teacher --method progressive --teacher-steps 16 --steps 1 --guidance 2
                 --batch-size 64 --set round_steps=380 --set checkpoint_every=380 --set keep_last=10
    consistency  genlab distill runs/few-step/teacher --method consistency --steps 1 --guidance 2 --batch-size 64
                 --set steps=1300

Both distillations (v-parameterised students, lr 5e-4, the defaults) are sized to the teacher's
own training cost, 14.1 CPU-min (CPU seconds per step at batch 128, measured on this machine:
~1.4 for a guided progressive round 0, ~0.9 for later rounds, ~1.15 for consistency, ~0.45 for a
bfloat16 teacher step; about half of that at batch 64). Every row of the table: the same teacher, w = 2, ``-n`` samples
(seed 1, labels 0..9 in turn; the DCGAN is unconditional) scored by genlab's Evaluator against the
10 000 MNIST test images with the digit classifier's features. Progressive rows are the one run's
checkpoints at the end of each round. Training time is the trainer's StepClock (steps only).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from genlab.api import run_config, train_and_publish
from genlab.atomic import atomic_write_text
from genlab.bench.machine import machine_info
from genlab.cli.distill import Method, student_config
from genlab.data import save_grid
from genlab.eval.evaluate import Evaluator, load_reference
from genlab.eval.extractors import get_extractor
from genlab.guide.build import refresh_includes
from genlab.plots import figure, save_figure
from genlab.runs import load_family, read_config, sample_in_batches
from genlab.training import StepClock

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "runs" / "few-step"
RESULTS = ROOT / "docs" / "results"
CLOCKS = RUNS / "clocks.json"
W = 2.0  # the guidance distilled into both students, and the teacher's in every DDIM row
STEPS = (8, 4, 2, 1)
TRAINING = {
    "teacher": lambda: run_config("ddpm", preset="small", steps=2000, precision="bfloat16", fused_optimizer=True),
    "dcgan": lambda: run_config(
        "dcgan", preset="small", steps=10000, precision="bfloat16", channels_last=True, fused_optimizer=True
    ),
    "progressive": lambda: student_config(
        RUNS / "teacher",
        Method.progressive,
        steps=1,
        teacher_steps=16,
        guidance=W,
        batch_size=64,
        sets={"round_steps": 380, "checkpoint_every": 380, "keep_last": 10},
    ),
    "consistency": lambda: student_config(
        RUNS / "teacher",
        Method.consistency,
        steps=1,
        guidance=W,
        batch_size=64,
        sets={"steps": 1300},
    ),
}

# Does the student's parameterisation matter? Short runs from the same teacher: one progressive round (DDIM-8 -> 4
# steps, 60 steps) and 100 consistency steps, each with an eps student (the teacher's own: an exact copy) and a v one.
for _pred, _tag in (("teacher", "eps"), ("v", "v")):
    TRAINING[f"ablation/progressive-{_tag}"] = lambda p=_pred: student_config(
        RUNS / "teacher", Method.progressive, steps=4, teacher_steps=8, guidance=W,
        sets={"round_steps": 60, "student_prediction": p},
    )  # fmt: skip
    TRAINING[f"ablation/consistency-{_tag}"] = lambda p=_pred: student_config(
        RUNS / "teacher", Method.consistency, steps=1, guidance=W, sets={"steps": 100, "student_prediction": p}
    )
ABLATION_ROWS = [
    (
        f"{m} {tag} ({length} steps), {k} step{'s' * (k > 1)}",
        "ablation",
        f"ablation/{m}-{tag}",
        "latest",
        {"sample_steps": k},
        k,
    )
    for m, length, ks in (("progressive", "1 round, 60", (4,)), ("consistency", "100", (1, 4)))
    for tag in ("eps", "v")
    for k in ks
]


def clocks() -> dict[str, Any]:
    return json.loads(CLOCKS.read_text()) if CLOCKS.is_file() else {}


def train_stage(name: str) -> None:
    """Train (or resume) one run with a StepClock; its CPU and wall seconds add up over sessions."""
    out, before = RUNS / name, clocks().get(name, {})
    if before.get("complete"):
        return
    clock = StepClock()
    resume = (out / "config.yaml").is_file()
    result = train_and_publish(None if resume else TRAINING[name](), out, resume=resume, quiet=True, clock=clock)
    record = {
        "wall_s": before.get("wall_s", 0.0) + clock.wall,
        "cpu_s": before.get("cpu_s", 0.0) + clock.cpu,
        "steps": result.step,
        "complete": result.complete,
        "machine": machine_info(),
    }
    atomic_write_text(CLOCKS, json.dumps({**clocks(), name: record}, indent=1))


def rows() -> list[tuple[str, str, str, str, dict[str, Any], int]]:
    """(label, method, run, checkpoint, sampling overrides, network passes per image) for every row."""
    teacher = [("DDIM-50 (teacher)", "teacher", "teacher", "latest", {"sample_steps": 50, "guidance": W}, 100)]
    teacher += [(f"DDIM-{k}", "DDIM", "teacher", "latest", {"sample_steps": k, "guidance": W}, 2 * k) for k in STEPS]
    prog = read_config(RUNS / "progressive").model
    ends = {k: str((prog.rounds.index(k) + 1) * prog.round_steps) for k in STEPS}  # each round's last checkpoint
    students = [(f"progressive-{k}", "progressive", "progressive", ends[k], {"sample_steps": k}, k) for k in STEPS]
    students += [(f"consistency-{k}", "consistency", "consistency", "latest", {"sample_steps": k}, k) for k in STEPS]
    return [*teacher, *students, ("DCGAN (small)", "DCGAN", "dcgan", "latest", {}, 1)]


def timed(fn) -> tuple[Any, float, float]:
    """(fn(), wall seconds, process CPU seconds)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def score_row(row, n: int, evaluator: Evaluator) -> dict[str, Any]:
    label, method, run, which, overrides, passes = row
    family, _, _ = load_family(RUNS / run, which, overrides or None)
    labels = torch.arange(n) % 10 if family.conditional else None
    images, wall, cpu = timed(lambda: sample_in_batches(family, n, labels=labels, seed=1, batch_size=250))
    scores = evaluator(images, None if labels is None else labels.numpy())
    one = torch.tensor([3]) if family.conditional else None
    family.sample(1, labels=one, generator=torch.Generator().manual_seed(0))  # warm-up
    single = [
        timed(lambda: family.sample(1, labels=one, generator=torch.Generator().manual_seed(s)))[1:] for s in range(10)
    ]
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
    save_grid(RESULTS / f"few-step-{slug}.png", images[:100], nrow=10)
    return {
        "label": label,
        "method": method,
        "run": f"runs/few-step/{run}",
        "checkpoint": which,
        "overrides": overrides,
        "passes": passes,
        "images_per_s": n / wall,
        "cpu_ms_per_image": 1000 * cpu / n,
        "batch1_ms": 1000 * statistics.median(w for w, _ in single),
        "batch1_cpu_ms": 1000 * statistics.median(c for _, c in single),
        "grid": f"few-step-{slug}.png",
        "scores": {k: v for k, v in scores.items() if k != "class_histogram"},
    }


def plot(results: list[dict[str, Any]]) -> None:
    """FID against CPU ms per image (batched, one thread): the machine is shared, so CPU time is the steadier clock."""
    fig, ax = figure(size=(6.5, 4.2))
    for method, marker in (("DDIM", "o"), ("progressive", "s"), ("consistency", "^")):
        pts = [r for r in results if r["method"] == method]
        xs, ys = [r["cpu_ms_per_image"] for r in pts], [r["scores"]["fid"] for r in pts]
        ax.plot(xs, ys, marker=marker, label=method)
        for r, x, y in zip(pts, xs, ys):
            ax.annotate(
                str(r["overrides"]["sample_steps"]), (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points"
            )
    for r, colour in zip([r for r in results if r["method"] in ("teacher", "DCGAN")], ("black", "crimson")):
        ax.scatter([r["cpu_ms_per_image"]], [r["scores"]["fid"]], marker="*", s=140, color=colour, label=r["label"])
    ax.set(
        xscale="log", yscale="log", xlabel="CPU ms / image (batches of 250, 1 thread)", ylabel="FID (digit features)"
    )
    ax.set_title("FID against sampling cost (numbers: steps)")
    ax.legend(fontsize=8)
    save_figure(fig, RESULTS / "few-step.png")


def verdicts(results: list[dict[str, Any]], clock: dict[str, Any]) -> list[str]:
    by = {r["label"]: r for r in results}
    ref = by["DDIM-50 (teacher)"]
    lines = []
    for method in ("progressive", "consistency"):
        r = by[f"{method}-4"]
        fid_x, speed_x = r["scores"]["fid"] / ref["scores"]["fid"], r["images_per_s"] / ref["images_per_s"]
        cpu_x = ref["cpu_ms_per_image"] / r["cpu_ms_per_image"]
        met = fid_x <= 1.5 and speed_x >= 10
        lines.append(
            f"- {method}, 4 steps: FID {r['scores']['fid']:.2f} = {fid_x:.2f}x the teacher's DDIM-50 "
            f"({ref['scores']['fid']:.2f}; target <= 1.5x) at {speed_x:.1f}x its images/s ({cpu_x:.1f}x per CPU "
            f"second; target >= 10x): **{'met' if met else 'missed'}**."
        )
    gan = by["DCGAN (small)"]["scores"]
    for method in ("progressive", "consistency"):
        s = by[f"{method}-1"]["scores"]
        better = [
            k for k in ("fid", "precision", "recall", "coverage") if (s[k] < gan[k] if k == "fid" else s[k] > gan[k])
        ]
        lines.append(
            f"- {method}, 1 step, against the small DCGAN (one pass each): FID {s['fid']:.2f} vs {gan['fid']:.2f}, "
            f"precision {s['precision']:.3f} vs {gan['precision']:.3f}, recall {s['recall']:.3f} vs "
            f"{gan['recall']:.3f}, coverage {s['coverage']:.3f} vs {gan['coverage']:.3f}: the student is better on "
            f"{', '.join(better) or 'none of them'}."
        )
    for method in ("progressive", "consistency"):
        d, t = clock[method]["cpu_s"] / 60, clock["teacher"]["cpu_s"] / 60
        lines.append(
            f"- {method} distillation: {d:.1f} CPU-min against the teacher's {t:.1f} CPU-min of training: "
            f"**{'met' if d <= t else 'missed'}** (target: within the teacher's own training time)."
        )
    return lines


def table(results: list[dict[str, Any]]) -> list[str]:
    head = "| row | passes / image | FID | precision | recall | coverage | cond. acc. | images/s | CPU ms / image |"
    lines = [head + " batch-1 ms |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        s = r["scores"]
        acc = f"{s['conditional_accuracy']:.3f}" if "conditional_accuracy" in s else "n/a (unconditional)"
        lines.append(
            f"| {r['label']} | {r['passes']} | {s['fid']:.2f} | {s['precision']:.3f} | {s['recall']:.3f} | "
            f"{s['coverage']:.3f} | {acc} | {r['images_per_s']:.1f} | "
            f"{r['cpu_ms_per_image']:.1f} | {r['batch1_ms']:.0f} |"
        )
    return lines


def write_doc(results: list[dict[str, Any]], n: int, start: dict, end: dict) -> None:
    clock = clocks()
    main = [r for r in results if r["method"] != "ablation"]
    summary = [*table(main), "", *verdicts(main, clock), ""]
    atomic_write_text(RESULTS / "few-step-summary.md", "\n".join(summary))  # quoted by docs/guide/few-step.md
    refresh_includes(ROOT / "docs" / "guide")  # the guide page quotes the summary through an include block
    lines = [
        "# Few-step diffusion: DDIM, progressive and consistency distillation",
        "",
        f"Produced by `python benchmarks/few_step.py -n {n} --threads {start['threads']}` (the runs and their "
        "commands are in the script's docstring) on a shared machine: "
        f"{start['cores']} cores ({start['cpu']}), torch {start['torch']}, {start['threads']} torch thread(s); "
        f"scored {start['date']} to {end['date']}, load average {start['load_average']} at the start and "
        f"{end['load_average']} at the end (other engineers' jobs: wall times are inflated by about the load "
        "divided by the cores, CPU times much less).",
        "",
        f"Every row: {n} samples, seed 1, labels 0..9 in turn (the DCGAN is unconditional), against the 10 000 MNIST "
        "test images with the digit classifier's features (FID, precision/recall/coverage k = 5, conditional accuracy "
        f"= share classified as the asked-for digit). Teacher and students all at guidance w = {W:g}: the DDIM rows "
        "run two network passes per step (conditional + unconditional), a student one. images/s: wall clock over "
        "batches of 250; CPU ms/image: process CPU time over the same; batch-1: median wall ms of 10 single-image "
        "calls. Targets are judged below from these numbers. The rows are scored one after another while the "
        "load changes (start and end above), so a ratio of images/s compares rows timed under different loads; "
        "the ratio per CPU second beside it is the steadier one.",
        "",
        *table(main),
        "",
        "## Targets",
        "",
        *verdicts(main, clock),
        "",
        "## Does the student's parameterisation matter?",
        "",
        "Short runs from the same teacher (the `ablation/` runs in the script): one progressive round, DDIM-8 of the "
        "teacher into 4 steps in 60 steps at batch 128, and 100 consistency-distillation steps at batch 128, each "
        "with an eps student (the teacher's own parameterisation, an exact copy at the start) and a v student (the "
        "same weights, output read as v = alpha eps - sigma x_0). Compare with the DDIM-4 and DDIM-8 rows above.",
        "",
        *table([r for r in results if r["method"] == "ablation"]),
        "",
        "## Training cost",
        "",
        "Training time of the steps alone (the trainer's StepClock; sample grids and checkpoints excluded), summed "
        "over sessions; load average when each finished.",
        "",
        "| run | steps | CPU min | wall min | load average at the end |",
        "|---|---:|---:|---:|---|",
        *[
            f"| {name} | {c['steps']} | {c['cpu_s'] / 60:.1f} | {c['wall_s'] / 60:.1f} | "
            f"{c['machine']['load_average']} |"
            for name, c in clock.items()
        ],
        "",
        "![FID against ms per image](few-step.png)",
        "",
        "## Samples (first 100 of each row; columns are the digits 0..9 asked for)",
        "",
        *[f"- {r['label']}: ![{r['label']}]({r['grid']})" for r in results],
        "",
        "Raw numbers: `few-step.json` beside this file.",
        "",
    ]
    atomic_write_text(RESULTS / "few-step.md", "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", choices=[*TRAINING, "ablation", "score", "all"], default="all")
    parser.add_argument("-n", type=int, default=1000, help="samples per row")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    parser.add_argument("--doc-only", action="store_true", help="rewrite the page and figure from few-step.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.doc_only:
        saved = json.loads((RESULTS / "few-step.json").read_text())
        plot(saved["rows"])
        write_doc(saved["rows"], saved["rows"][0]["scores"]["n"], saved["start"], saved["end"])
        return
    RUNS.mkdir(parents=True, exist_ok=True)
    for name in TRAINING:
        if args.stage in (name, "all") or (args.stage == "ablation" and name.startswith("ablation/")):
            train_stage(name)
    if args.stage not in ("score", "all"):
        return
    start = machine_info()
    evaluator = Evaluator(load_reference("mnist-test"), get_extractor("digits"))
    results = []
    for row in [*rows(), *ABLATION_ROWS]:
        results.append(score_row(row, args.n, evaluator))
        print(
            f"{row[0]}: FID {results[-1]['scores']['fid']:.2f}, {results[-1]['images_per_s']:.1f} images/s", flush=True
        )
    end = machine_info()
    atomic_write_text(RESULTS / "few-step.json", json.dumps({"start": start, "end": end, "rows": results}, indent=1))
    plot(results)
    write_doc(results, args.n, start, end)


if __name__ == "__main__":
    main()
